import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { findNodeForPlatformatic } from '../support/platformatic-runner.js';
import { startBrokerProcess } from '../support/test-broker.js';

const node = findNodeForPlatformatic();
const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * The broker on the newest Node the project installs (Node 24, from npm's `node` package), not
 * the one the tests run on: how it reads sockets leans on Node's net internals (an accepted
 * socket is made again around its descriptor to read into the frames' own buffers), and its
 * addon must load there too.
 */
test(
  'a broker on Node 24 takes requests in one piece, across reads and over 1 MiB, and serves them back to kafkajs',
  { skip: !process.env.CI && node.path === null ? (node as { reason: string }).reason : false, timeout: 90_000 },
  async (t) => {
    if (node.path === null) assert.fail(`no newer Node: ${node.reason}`);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-newer-node-'));
    const broker = await startBrokerProcess(dir, { 'message.max.bytes': String(8 << 20), 'num.partitions': '1', 'group.initial.rebalance.delay.ms': '0' }, 0, { node: node.path });
    try {
      const start = broker.output.map((l) => JSON.parse(l) as { nativeAddon?: string }).find((l) => l.nativeAddon !== undefined);
      t.diagnostic(`Node ${node.version}; addon: ${start?.nativeAddon}`);
      assert.equal(start?.nativeAddon, 'loaded');
      const kafka = new Kafka({ clientId: 'newer-node', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ allowAutoTopicCreation: true });
      await producer.connect();
      // Three records of 1.5 MiB in one request (a frame filled in pieces and joined), then small ones.
      const big = [1, 2, 3].map((seed) => Buffer.alloc(1536 * 1024, seed));
      const small = Array.from({ length: 200 }, (_, i) => Buffer.from(`small-${i}`));
      await producer.send({ topic: 'wide', messages: big.map((value) => ({ value })) });
      for (let i = 0; i < small.length; i += 20) await producer.send({ topic: 'wide', messages: small.slice(i, i + 20).map((value) => ({ value })) });
      await producer.disconnect();

      const consumer = kafka.consumer({ groupId: 'newer-node', maxBytes: 16 << 20, maxBytesPerPartition: 16 << 20 });
      await consumer.connect();
      await consumer.subscribe({ topic: 'wide', fromBeginning: true });
      const got: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of ${big.length + small.length}`)), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push(message.value!);
            if (got.length === big.length + small.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      await consumer.disconnect();
      assert.deepEqual(got.map(digest), [...big, ...small].map(digest));
      assert.equal(await broker.stop(), 0, 'a clean stop');
    } finally {
      await broker.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
