import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FetchSessionCache, SESSION_STALE_MS } from '../../src/broker/fetch-sessions.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { FetchRequest } from '../../src/protocol/generated/messages/fetch-request.js';
import { createFetchResponse, type FetchResponse } from '../../src/protocol/generated/messages/fetch-response.js';
import { fetchRequest } from '../support/raw-requests.js';

const SLOTS = 4;
const MAX_PARTITIONS = 12;

/** One fetch as a fetcher might send it, sane or not: any session id and epoch, any partitions named and forgotten. */
const anyFetch = fc.record({
  sessionId: fc.oneof(fc.constant(0), fc.constant(-5), fc.nat(3), fc.constant('known' as const)),
  epoch: fc.oneof(fc.constant(0), fc.constant(-1), fc.integer({ min: -3, max: 6 }), fc.constant('next' as const)),
  partitions: fc.uniqueArray(fc.nat(9), { maxLength: 8 }),
  forget: fc.uniqueArray(fc.nat(9), { maxLength: 4 }),
  byId: fc.boolean(),
  follower: fc.boolean(),
  advance: fc.nat(SESSION_STALE_MS * 2),
});

interface AnyFetch {
  partitions: number[];
  forget: number[];
  byId: boolean;
}

function request(f: AnyFetch, sessionId: number, epoch: number): FetchRequest {
  const req = fetchRequest(f.byId ? { topicId: '6f4d1a9e-3b7c-4a2d-9e8f-1c2b3a4d5e6f' } : { topic: 't' }, f.partitions.map((partition) => ({ partition })), { maxBytes: 1 << 20, partitionMaxBytes: 1 << 20 });
  if (f.partitions.length === 0) req.topics = [];
  return { ...req, sessionId, sessionEpoch: epoch, forgottenTopicsData: f.forget.length ? [{ topic: req.topics[0]?.topic ?? 't', topicId: req.topics[0]?.topicId ?? '', partitions: f.forget }] : [] };
}

/** The answer `build` would make: an entry per partition read, in order, every one with news now and then. */
function answerTo(topics: readonly { topic: string; topicId: string; partitions: readonly { partition: number }[] }[], hw: bigint): FetchResponse {
  const res = createFetchResponse();
  res.responses = topics.map((t) => ({ topic: t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: 0, highWatermark: hw, lastStableOffset: hw, logStartOffset: 0n, records: null, preferredReadReplica: -1 }) as never) }));
  return res;
}

test('whatever fetchers send, the session cache keeps within its slots and partition limit, and its counts add up', () => {
  fc.assert(
    fc.property(fc.array(anyFetch, { maxLength: 60 }), (fetches) => {
      const cache = new FetchSessionCache(SLOTS, MAX_PARTITIONS);
      const opened: { id: number; epoch: number }[] = [];
      let now = 0;
      fetches.forEach((f, n) => {
        now += f.advance;
        const known = opened.at(-1);
        const sessionId = f.sessionId === 'known' ? (known?.id ?? 0) : f.sessionId;
        const epoch = f.epoch === 'next' ? (known?.epoch ?? 0) : f.epoch;
        const context = cache.context(request(f, sessionId, epoch), f.byId, now);
        if (context.kind === 'error') {
          assert.ok([ErrorCode.FETCH_SESSION_ID_NOT_FOUND, ErrorCode.INVALID_FETCH_SESSION_EPOCH, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR].includes(context.errorCode as never));
        } else {
          const res = answerTo(context.topics, BigInt(n % 3));
          if (context.kind === 'full') {
            const id = cache.open(context.topics, res, f.byId, f.follower, now);
            if (id !== 0) opened.push({ id, epoch: 1 });
          } else if (context.kind === 'incremental') {
            cache.trim(context, res);
            const s = opened.find((o) => o.id === context.session.id);
            if (s) s.epoch = context.session.epoch;
            // What an incremental answer carries is always some of the session's partitions.
            for (const t of res.responses) for (const p of t.partitions) assert.ok(context.entries.flat().some((e) => e.wanted.partition === p.partitionIndex));
          }
        }
        assert.ok(cache.size <= SLOTS, `${cache.size} sessions`);
        let held = 0;
        for (const o of opened) held += cache.get(o.id)?.partitions.size ?? 0;
        assert.equal(cache.partitionCount, held, 'the partition count is the sessions\' sizes added up');
        assert.ok(cache.partitionCount <= MAX_PARTITIONS, `${cache.partitionCount} partitions`);
        const requests = cache.requests;
        assert.equal(requests.sessionless + requests.full + requests.incremental + requests.error, n + 1);
      });
    }),
    { numRuns: 300 },
  );
});
