import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { Kafka, logLevel } from 'kafkajs';
import { ack, acquired, setGroupConfigs, ShareTestBroker } from '../support/share-requests.js';
import { onThisNode } from '../support/test-broker.js';

/**
 * ShareFetch and ShareAcknowledge spoken raw: share sessions and their epochs, acquisition and
 * acknowledgement, records handed out once at a time, and share-partition state that survives
 * a restart. Real share consumers (librdkafka) are in share-groups-librdkafka.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'sluice-share-fetch-'));
const env = new ShareTestBroker(dir);

before(() => env.start());
after(async () => {
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
});

const member = (groupId: string, memberId: string, topicId: string) => env.member(groupId, memberId, topicId);

async function topic(name: string): Promise<string> {
  return (await env.broker.broker.partitions.createTopic(name, onThisNode(1), {})).id;
}

const produce = (t: string, values: string[]) => env.producer.send({ topic: t, acks: -1, messages: values.map((value) => ({ value })) });

test('records are handed out once, acknowledged, released back with a higher delivery count, and the session epoch is checked', async () => {
  const topicId = await topic('share-basic');
  const a = member('sg-basic', 'member-a', topicId);
  const b = member('sg-basic', 'member-b', topicId);
  assert.deepEqual(acquired(await a.fetch()).ranges, [], 'a new share-partition starts at the end (share.auto.offset.reset=latest)');
  assert.deepEqual(acquired(await b.fetch()).ranges, []);
  await produce('share-basic', ['r0', 'r1', 'r2', 'r3']);
  const first = acquired(await a.fetch());
  assert.deepEqual(first.ranges, [[0, 3, 1]]);
  assert.deepEqual(first.values, ['r0', 'r1', 'r2', 'r3']);
  assert.deepEqual(acquired(await b.fetch([], { maxWaitMs: 0 })).ranges, [], 'a holds them all');
  // a accepts two, releases two: b gets the released ones, on their second delivery.
  assert.deepEqual(await a.acknowledge([ack(0, 1, 1), ack(2, 3, 2)]), [ErrorCode.NONE, ErrorCode.NONE]);
  const second = acquired(await b.fetch());
  assert.deepEqual(second.ranges, [[2, 3, 2]]);
  assert.deepEqual(second.values, ['r2', 'r3']);
  // Acknowledging records another member holds is refused, and changes nothing.
  assert.deepEqual(await a.acknowledge([ack(2, 3, 1)]), [ErrorCode.NONE, ErrorCode.INVALID_RECORD_STATE]);
  assert.deepEqual(await b.acknowledge([ack(2, 3, 1)]), [ErrorCode.NONE, ErrorCode.NONE]);
  const [offsets] = env.broker.broker.shareStates.offsets('sg-basic');
  assert.equal(offsets.startOffset, 4);
  // Session epochs: a skipped epoch, or a session never opened, are refused.
  assert.equal((await a.acknowledge([], a.epoch + 5))[0], ErrorCode.INVALID_SHARE_SESSION_EPOCH);
  const stranger = member('sg-basic', 'member-c', topicId);
  stranger.epoch = 3;
  assert.equal((await stranger.fetch()).errorCode, ErrorCode.SHARE_SESSION_NOT_FOUND);
});

test('closing a share session releases what the member holds; a long poll wakes when records arrive', async () => {
  const topicId = await topic('share-close');
  const a = member('sg-close', 'member-a', topicId);
  const b = member('sg-close', 'member-b', topicId);
  await a.fetch();
  await b.fetch();
  await produce('share-close', ['x0', 'x1']);
  assert.deepEqual(acquired(await a.fetch()).ranges, [[0, 1, 1]]);
  await a.fetch([], { close: true });
  assert.deepEqual(acquired(await b.fetch()).ranges, [[0, 1, 1]], 'released unprocessed: the delivery does not count');
  const waiting = b.fetch([ack(0, 1, 1)], { maxWaitMs: 10_000 });
  await new Promise((r) => setTimeout(r, 200));
  await produce('share-close', ['x2']);
  assert.deepEqual(acquired(await waiting).ranges, [[2, 2, 1]]);
});

test('share-partition state survives a restart: the start offset, and records held at the crash come back counted', async () => {
  const topicId = await topic('share-restart');
  const a = member('sg-restart', 'member-a', topicId);
  await a.fetch();
  await produce('share-restart', ['s0', 's1', 's2', 's3', 's4']);
  assert.deepEqual(acquired(await a.fetch()).ranges, [[0, 4, 1]]);
  assert.deepEqual(await a.acknowledge([ack(0, 1, 1)]), [ErrorCode.NONE, ErrorCode.NONE]);
  await env.stop();
  await env.start();
  const [offsets] = env.broker.broker.shareStates.offsets('sg-restart');
  assert.equal(offsets.startOffset, 2);
  const again = member('sg-restart', 'member-b', topicId);
  const got = acquired(await again.fetch());
  assert.deepEqual(got.ranges, [[2, 4, 2]], 'delivered once before the restart');
  assert.deepEqual(got.values, ['s2', 's3', 's4']);
});

test('read_committed share groups hand out committed records only: an aborted transaction is archived, an open one waits', async () => {
  const topicId = await topic('share-txn');
  await setGroupConfigs(env.client, 'sg-committed', { 'share.isolation.level': 'read_committed', 'share.auto.offset.reset': 'earliest' });
  await setGroupConfigs(env.client, 'sg-uncommitted', { 'share.auto.offset.reset': 'earliest' });
  const kafka = new Kafka({ brokers: [env.broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: 'share-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const inTxn = async (values: string[], end: 'commit' | 'abort' | 'open') => {
      const txn = await producer.transaction();
      await txn.send({ topic: 'share-txn', messages: values.map((value) => ({ value })) });
      if (end !== 'open') await txn[end]();
      return txn;
    };
    await inTxn(['c0', 'c1'], 'commit');
    await inTxn(['a0', 'a1'], 'abort');
    await inTxn(['c2'], 'commit');
    const open = await inTxn(['o0'], 'open');
    const committed = acquired(await member('sg-committed', 'member-a', topicId).fetch());
    assert.deepEqual(committed.values, ['c0', 'c1', 'c2'], 'the aborted records go to no one; the open transaction is past the last stable offset');
    const all = acquired(await member('sg-uncommitted', 'member-a', topicId).fetch());
    assert.deepEqual(all.values, ['c0', 'c1', 'a0', 'a1', 'c2', 'o0']);
    await open.commit();
    const later = acquired(await member('sg-committed', 'member-b', topicId).fetch());
    assert.deepEqual(later.values, ['o0'], 'once committed, the open transaction is handed out');
  } finally {
    await producer.disconnect();
  }
});
