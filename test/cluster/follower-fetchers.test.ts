import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import type { MetadataStore } from '../../src/metadata/store.js';
import { FollowerFetchers } from '../../src/replication/follower-fetcher.js';
import type { Partition } from '../../src/replication/partition.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test("a follower's fetcher that goes idle when its partition moves to another leader leaves that leader's fetcher in place, and close() stops them all", async () => {
  // Both leaders are one listener that hangs up at once: each fetch loop reconnects every backoff.
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const broker = { endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port }] };
  const store = { image: { brokers: new Map([[1, broker], [2, broker]]) }, brokerEpoch: 1 } as unknown as MetadataStore;
  const fetchers = new FollowerFetchers({ nodeId: 3, store, listenerName: 'PLAINTEXT', waitMaxMs: 100, minBytes: 1, partitionMaxBytes: 1, responseMaxBytes: 1, backoffMs: 20 });
  try {
    const partition = (key: string, leaderId: number): Partition => ({ key, leaderId }) as unknown as Partition;
    const moving = partition('t-0', 1);
    fetchers.follow(moving);
    fetchers.follow(partition('t-1', 2));
    // The fetcher of leader 1 has nothing left to fetch and stops; the one of leader 2 goes on.
    moving.leaderId = 2;
    fetchers.follow(moving);
    await sleep(200);
    await fetchers.close();
    const atClose = connections;
    await sleep(1000);
    assert.equal(connections, atClose, 'no fetch loop runs on after close()');
  } finally {
    await fetchers.close();
    server.close();
  }
});
