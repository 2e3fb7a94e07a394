import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FetchSessionState } from '../../src/client/fetch-session-state.js';
import type { FetchRequestFetchTopic } from '../../src/protocol/generated/messages/fetch-request.js';

const TOPIC_ID = '6f4d1a9e-3b7c-4a2d-9e8f-1c2b3a4d5e6f';

function wanting(offsets: Record<number, bigint>): FetchRequestFetchTopic[] {
  const partitions = Object.entries(offsets).map(([p, fetchOffset]) => ({
    partition: Number(p),
    currentLeaderEpoch: 3,
    fetchOffset,
    lastFetchedEpoch: 3,
    logStartOffset: 0n,
    partitionMaxBytes: 1 << 20,
    replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
  }));
  return [{ topic: 't', topicId: TOPIC_ID, partitions }];
}

const named = (r: ReturnType<FetchSessionState['next']>): [number, bigint][] => r.topics.flatMap((t) => t.partitions.map((p) => [p.partition, p.fetchOffset] as [number, bigint]));

test("a follower's session names every partition first, then only what moved and what it stops wanting, and starts over after an error", () => {
  const s = new FetchSessionState();
  const first = s.next(wanting({ 0: 10n, 1: 20n, 2: 30n }));
  assert.deepEqual([first.sessionId, first.sessionEpoch], [0, 0]);
  assert.deepEqual(named(first), [[0, 10n], [1, 20n], [2, 30n]]);
  s.answered(42);

  const quiet = s.next(wanting({ 0: 10n, 1: 20n, 2: 30n }));
  assert.deepEqual([quiet.sessionId, quiet.sessionEpoch], [42, 1]);
  assert.deepEqual(quiet.topics, []);
  assert.deepEqual(quiet.forgottenTopicsData, []);
  s.answered(42);

  // Partition 1 moved on, partition 2 is no longer fetched (backing off, or led elsewhere).
  const moved = s.next(wanting({ 0: 10n, 1: 25n }));
  assert.equal(moved.sessionEpoch, 2);
  assert.deepEqual(named(moved), [[1, 25n]]);
  assert.deepEqual(moved.forgottenTopicsData.map((f) => [f.topicId, f.partitions]), [[TOPIC_ID, [2]]]);
  s.answered(42);

  // Back again: named as new.
  assert.deepEqual(named(s.next(wanting({ 0: 10n, 1: 25n, 2: 30n }))), [[2, 30n]]);
  s.reset();
  const after = s.next(wanting({ 0: 10n, 1: 25n, 2: 30n }));
  assert.deepEqual([after.sessionId, after.sessionEpoch], [42, 0], 'a full fetch that closes the old session and opens another');
  assert.equal(named(after).length, 3);
  s.answered(0);
  assert.deepEqual([s.next(wanting({ 0: 10n })).sessionId, s.next(wanting({ 0: 10n })).sessionEpoch], [0, 0], 'no slot at the leader: full fetches');
});
