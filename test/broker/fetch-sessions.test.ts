import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { FetchRequest } from '../../src/protocol/generated/messages/fetch-request.js';
import type { FetchResponse } from '../../src/protocol/generated/messages/fetch-response.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, fetchRequest, produceBatch } from '../support/raw-requests.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

/*
 * KIP-227's rules, request by request, where no client we run can be steered into each case
 * (test/broker/platformatic-fetch-sessions.test.ts has a real client use sessions end to end).
 */

const TOPIC = 'sessions';
const BY_NAME = 12;
const BY_ID = 13;

const batch = (value: string): Buffer =>
  encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: null, value: Buffer.from(value), timestampDelta: 0, headers: [] }] });

interface Ask {
  sessionId: number;
  epoch: number;
  partitions?: { partition: number; fetchOffset?: bigint }[];
  forget?: number[];
  maxWaitMs?: number;
  maxBytes?: number;
}

function request(ask: Ask, topic: { topic?: string; topicId?: string } = { topic: TOPIC }): FetchRequest {
  const req = fetchRequest(topic, ask.partitions ?? [], { maxBytes: ask.maxBytes ?? 1 << 20, partitionMaxBytes: 1 << 20 });
  if (!ask.partitions?.length) req.topics = [];
  return {
    ...req,
    maxWaitMs: ask.maxWaitMs ?? 0,
    sessionId: ask.sessionId,
    sessionEpoch: ask.epoch,
    forgottenTopicsData: ask.forget ? [{ topic: topic.topic ?? '', topicId: req.topics[0]?.topicId ?? topic.topicId ?? '', partitions: ask.forget }] : [],
  };
}

/** Partition index -> records bytes, for the partitions an answer carries. */
function carried(res: FetchResponse): Map<number, number> {
  return new Map(res.responses.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.records?.byteLength ?? 0] as const)));
}

describe('incremental fetch sessions (KIP-227)', () => {
  let b: InProcessBroker;
  let conn: RawConnection;
  const fetch = (ask: Ask, version = BY_NAME): Promise<FetchResponse> => conn.request(apis.Fetch, version, request(ask));

  before(async () => {
    b = await startTestBroker();
    conn = await RawConnection.open(Number(b.bootstrap.split(':')[1]));
    assert.equal(await createTopic(conn, TOPIC, {}, 4), 0);
  });
  after(async () => {
    conn.destroy();
    await b.stop();
  });

  test('a session answers each round with the partitions that changed, and forgets what it is told to', async () => {
    const full = await fetch({ sessionId: 0, epoch: 0, partitions: [0, 1, 2].map((partition) => ({ partition })) });
    assert.equal(full.errorCode, 0);
    assert.notEqual(full.sessionId, 0, 'a full fetch at epoch 0 opens a session');
    assert.deepEqual([...carried(full).keys()].sort(), [0, 1, 2], 'the full answer carries every partition');
    const id = full.sessionId;
    assert.equal(b.broker.fetchSessions.get(id)?.partitions.size, 3);

    const quiet = await fetch({ sessionId: id, epoch: 1 });
    assert.equal(quiet.sessionId, id);
    assert.deepEqual(quiet.responses, [], 'nothing moved: nothing carried');

    assert.equal((await produceBatch(conn, TOPIC, 1, batch('one'))).errorCode, 0);
    const moved = await fetch({ sessionId: id, epoch: 2 });
    assert.deepEqual([...carried(moved)], [[1, carried(moved).get(1)]]);
    assert.ok(carried(moved).get(1)! > 0, 'with its records');
    assert.equal(moved.responses[0].partitions[0].highWatermark, 1n);

    // The fetcher moves on past what it read; the high watermark it was told of is unchanged.
    assert.deepEqual((await fetch({ sessionId: id, epoch: 3, partitions: [{ partition: 1, fetchOffset: 1n }] })).responses, []);

    // A parked incremental fetch watches every partition of the session, not only those it names.
    const parked = fetch({ sessionId: id, epoch: 4, maxWaitMs: 60_000 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await produceBatch(conn, TOPIC, 2, batch('two'))).errorCode, 0);
    const woke = await parked;
    assert.deepEqual([...carried(woke).keys()], [2]);

    // A partition added later is answered the first time whatever it holds; a forgotten one never again.
    const changed = await fetch({ sessionId: id, epoch: 5, partitions: [{ partition: 3 }, { partition: 2, fetchOffset: 1n }], forget: [0] });
    assert.deepEqual([...carried(changed).keys()], [3]);
    assert.deepEqual([...b.broker.fetchSessions.get(id)!.partitions.values()].map((p) => p.wanted.partition).sort(), [1, 2, 3]);
    assert.equal((await produceBatch(conn, TOPIC, 0, batch('zero'))).errorCode, 0);
    assert.deepEqual((await fetch({ sessionId: id, epoch: 6 })).responses, []);

    // Epoch -1 closes the session and answers in full without one.
    const closing = await fetch({ sessionId: id, epoch: -1, partitions: [{ partition: 0 }] });
    assert.equal(closing.sessionId, 0);
    assert.deepEqual([...carried(closing).keys()], [0]);
    assert.equal(b.broker.fetchSessions.get(id), undefined);
  });

  test('a session out of step, unknown, or switching between topic names and ids is answered with its error', async () => {
    const id = (await fetch({ sessionId: 0, epoch: 0, partitions: [{ partition: 0 }] })).sessionId;
    assert.notEqual(id, 0);
    assert.equal((await fetch({ sessionId: id, epoch: 2 })).errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    assert.equal((await fetch({ sessionId: id + 1, epoch: 1 })).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    const topicId = b.broker.metadata.topic(TOPIC)!.id;
    const byId = await conn.request(apis.Fetch, BY_ID, request({ sessionId: id, epoch: 1 }, { topicId }));
    assert.equal(byId.errorCode, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR);
    // The errors did not move the session on: epoch 1 is still the next.
    assert.equal((await fetch({ sessionId: id, epoch: 1 })).errorCode, 0);
  });

  test('a session by topic id keeps answering by id, and a partition in error is answered every round', async () => {
    const topicId = b.broker.metadata.topic(TOPIC)!.id;
    const ask = (a: Ask): Promise<FetchResponse> => conn.request(apis.Fetch, BY_ID, request(a, { topicId }));
    const full = await ask({ sessionId: 0, epoch: 0, partitions: [{ partition: 1, fetchOffset: 1n }, { partition: 9 }] });
    assert.notEqual(full.sessionId, 0);
    for (const epoch of [1, 2]) {
      const res = await ask({ sessionId: full.sessionId, epoch });
      assert.deepEqual(
        res.responses.map((t) => [t.topicId, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
        [[topicId, [[9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]],
      );
    }
  });

  test('when max_bytes cuts an answer short, the partitions answered go to the back of the session', async () => {
    const id = (await fetch({ sessionId: 0, epoch: 0, partitions: [{ partition: 0 }, { partition: 1 }], maxBytes: 1 })).sessionId;
    // Both hold a batch from offset 0; one byte of max_bytes lets only the first through.
    const first = await fetch({ sessionId: id, epoch: 1, partitions: [{ partition: 0 }, { partition: 1 }], maxBytes: 1 });
    const second = await fetch({ sessionId: id, epoch: 2, maxBytes: 1 });
    const withRecords = (res: FetchResponse): number[] => [...carried(res)].filter(([, bytes]) => bytes > 0).map(([p]) => p);
    assert.equal(withRecords(first).length, 1);
    assert.equal(withRecords(second).length, 1);
    assert.notDeepEqual(withRecords(first), withRecords(second), 'the other partition comes first next time');
  });

  test('the sessions held are on /metrics', async () => {
    const text = await b.broker.metrics.registry.metrics();
    const held = /^kafka_server_fetchsessioncache_numincrementalfetchsessions (\d+)$/m.exec(text);
    assert.ok(held);
    assert.equal(Number(held[1]), b.broker.fetchSessions.size);
    assert.ok(b.broker.fetchSessions.size >= 1);
  });
});

describe('a full fetch session cache', () => {
  test('gives a slot to a bigger session, not to a smaller one, none past its partition limit, and none when there are no slots', async () => {
    const b = await startTestBroker({ 'max.incremental.fetch.session.cache.slots': '1' });
    const conn = await RawConnection.open(Number(b.bootstrap.split(':')[1]));
    const open = async (partitions: number[]): Promise<number> =>
      (await conn.request(apis.Fetch, BY_NAME, request({ sessionId: 0, epoch: 0, partitions: partitions.map((partition) => ({ partition })) }))).sessionId;
    try {
      assert.equal(await createTopic(conn, TOPIC, {}, 3), 0);
      const small = await open([0]);
      assert.notEqual(small, 0);
      const big = await open([0, 1, 2]);
      assert.notEqual(big, 0, 'three partitions are worth more than one: the small session goes');
      assert.equal(b.broker.fetchSessions.evictions, 1);
      assert.equal((await conn.request(apis.Fetch, BY_NAME, request({ sessionId: small, epoch: 1 }))).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
      assert.equal(await open([1]), 0, 'a smaller session does without, and is answered in full');
      assert.equal(b.broker.fetchSessions.size, 1);
      assert.equal(b.broker.fetchSessions.partitionCount, 3);
    } finally {
      conn.destroy();
      await b.stop();
    }
    // A cache that may hold three partitions: a session that would take it past them goes without.
    const small = await startTestBroker({ 'sluice.fetch.session.cache.max.partitions': '3' });
    const s = await RawConnection.open(Number(small.bootstrap.split(':')[1]));
    const ask = (a: Ask): Promise<FetchResponse> => s.request(apis.Fetch, BY_NAME, request(a));
    try {
      assert.equal(await createTopic(s, TOPIC, {}, 4), 0);
      const two = (await ask({ sessionId: 0, epoch: 0, partitions: [{ partition: 0 }, { partition: 1 }] })).sessionId;
      assert.notEqual(two, 0);
      const refused = await ask({ sessionId: 0, epoch: 0, partitions: [{ partition: 2 }, { partition: 3 }] });
      assert.equal(refused.sessionId, 0, 'four partitions in all would be one too many');
      assert.deepEqual([...carried(refused).keys()], [2, 3], 'answered in full all the same');
      const grown = await ask({ sessionId: two, epoch: 1, partitions: [{ partition: 2 }, { partition: 3 }] });
      assert.equal(grown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 'a session grown past the limit is dropped: its fetcher starts over');
      assert.equal(small.broker.fetchSessions.size, 0);
      assert.equal(small.broker.fetchSessions.partitionCount, 0);
    } finally {
      s.destroy();
      await small.stop();
    }
    const none = await startTestBroker({ 'max.incremental.fetch.session.cache.slots': '0' });
    const c = await RawConnection.open(Number(none.bootstrap.split(':')[1]));
    try {
      assert.equal(await createTopic(c, TOPIC, {}, 1), 0);
      const res = await c.request(apis.Fetch, BY_NAME, request({ sessionId: 0, epoch: 0, partitions: [{ partition: 0 }] }));
      assert.equal(res.errorCode, 0);
      assert.equal(res.sessionId, 0);
      assert.equal(none.broker.fetchSessions.size, 0);
    } finally {
      c.destroy();
      await none.stop();
    }
  });
});
