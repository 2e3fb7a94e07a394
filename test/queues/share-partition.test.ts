import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { ShareGroupConfig } from '../../src/coordinator/share/share-group-config.js';
import { AckType, RecordState, SharePartition, type DeadLetter, type LogBatchSpan } from '../../src/coordinator/share/share-partition.js';

/** Batches of the log: [base, last] pairs, none a transaction marker unless said. */
const spans = (...ranges: [number, number, boolean?][]): LogBatchSpan[] => ranges.map(([baseOffset, lastOffset, recordless]) => ({ baseOffset, lastOffset, recordless: recordless ?? false }));
/** Kafka's defaults, with what a test changes. */
const cfg = (c: Partial<ShareGroupConfig> = {}): ShareGroupConfig => ({ autoOffsetReset: 'latest', lockDurationMs: 30_000, readCommitted: false, deliveryCountLimit: 5, retryBackoffMs: [], deadLetterTopic: null, ...c });
const T0 = 1_000_000;

function partition(start = 0): SharePartition {
  const sp = new SharePartition(start, start, 0, () => {});
  return sp;
}

test('new records are acquired in whole batches up to the fetchable end, and accepting moves the start offset', () => {
  const sp = partition();
  const ranges = sp.acquire('a', 100, 2000, spans([0, 2], [3, 5], [6, 9]), 6, T0, cfg());
  assert.deepEqual(ranges, [{ firstOffset: 0, lastOffset: 5, deliveryCount: 1 }], 'the batch past the high watermark waits');
  assert.deepEqual(sp.acquire('b', 100, 2000, spans([0, 2], [3, 5]), 6, T0, cfg()), [], 'nothing left for another member');
  const letters: DeadLetter[] = [];
  assert.equal(sp.acknowledge('a', 0, 2, [AckType.ACCEPT], T0, cfg(), letters), ErrorCode.NONE);
  assert.equal(sp.startOffset, 3);
  assert.equal(sp.acknowledge('a', 4, 5, [AckType.ACCEPT], T0, cfg(), letters), ErrorCode.NONE);
  assert.equal(sp.startOffset, 3, 'offset 3 is still acquired');
  assert.equal(sp.acknowledge('a', 3, 3, [AckType.ACCEPT], T0, cfg(), letters), ErrorCode.NONE);
  assert.equal(sp.startOffset, 6);
  assert.equal(sp.inFlight, 0);
  sp.close();
});

test('acknowledging what the member does not hold changes nothing and is INVALID_RECORD_STATE; bad types are INVALID_REQUEST', () => {
  const sp = partition();
  sp.acquire('a', 100, 2000, spans([0, 3]), 4, T0, cfg());
  const letters: DeadLetter[] = [];
  assert.equal(sp.acknowledge('b', 0, 0, [AckType.ACCEPT], T0, cfg(), letters), ErrorCode.INVALID_RECORD_STATE, 'another member');
  assert.equal(sp.acknowledge('a', 2, 5, [AckType.ACCEPT], T0, cfg(), letters), ErrorCode.INVALID_RECORD_STATE, 'past what was acquired');
  assert.equal(sp.counts().acquired, 4, 'the refused range changed nothing');
  assert.equal(sp.acknowledge('a', 0, 1, [AckType.ACCEPT, 9], T0, cfg(), letters), ErrorCode.INVALID_REQUEST);
  assert.equal(sp.acknowledge('a', 0, 1, [AckType.ACCEPT, AckType.ACCEPT, AckType.ACCEPT], T0, cfg(), letters), ErrorCode.INVALID_REQUEST, 'types neither one nor one per offset');
  assert.equal(sp.acknowledge('a', 0, 1, [AckType.ACCEPT], T0, cfg(), letters), ErrorCode.NONE);
  assert.equal(sp.acknowledge('a', 0, 0, [AckType.ACCEPT], T0, cfg(), letters), ErrorCode.INVALID_RECORD_STATE, 'already acknowledged');
  sp.close();
});

test('a released record comes back with its delivery count up, and is archived at the delivery count limit', () => {
  const sp = partition();
  const config = cfg({ deliveryCountLimit: 3 });
  const letters: DeadLetter[] = [];
  for (let delivery = 1; delivery <= 3; delivery++) {
    const got = sp.acquire('a', 100, 2000, spans([0, 0]), 1, T0, config);
    assert.deepEqual(got, [{ firstOffset: 0, lastOffset: 0, deliveryCount: delivery }]);
    assert.equal(sp.acknowledge('a', 0, 0, [AckType.RELEASE], T0, config, letters), ErrorCode.NONE);
  }
  assert.deepEqual(sp.acquire('a', 100, 2000, spans([0, 0]), 1, T0, config), [], 'archived after three deliveries');
  assert.equal(sp.startOffset, 1);
  assert.deepEqual(letters, [], 'no dead-letter topic: archived only');
  sp.close();
});

test('with a dead-letter topic, rejected and exhausted records wait as ARCHIVING until their dead letters are written', () => {
  const sp = partition();
  const config = cfg({ deliveryCountLimit: 1, deadLetterTopic: 'dlq.q' });
  const letters: DeadLetter[] = [];
  sp.acquire('a', 100, 2000, spans([0, 2]), 3, T0, config);
  assert.equal(sp.acknowledge('a', 0, 2, [AckType.REJECT, AckType.RELEASE, AckType.ACCEPT], T0, config, letters), ErrorCode.NONE);
  assert.deepEqual(letters, [
    { offset: 0, deliveryCount: 1, reason: 'rejected' },
    { offset: 1, deliveryCount: 1, reason: 'delivery-limit' },
  ]);
  assert.equal(sp.startOffset, 0, 'not done until dead-lettered');
  const stored = sp.batches();
  assert.deepEqual(stored.map((b) => b.state), [RecordState.ARCHIVING, RecordState.ACKNOWLEDGED]);
  // Restored from that state (a crash before the dead letters were written), they are still owed.
  const restored = SharePartition.restore(0, 0, stored, () => {});
  assert.deepEqual(restored.pendingDeadLetters(config).map((l) => [l.offset, l.reason]), [[0, 'delivery-limit'], [1, 'delivery-limit']]);
  sp.deadLettered([0, 1]);
  assert.equal(sp.startOffset, 3);
  sp.close();
  restored.close();
});

test('retry backoff: a released record is not delivered again before its step of the ladder', () => {
  const sp = partition();
  const config = cfg({ retryBackoffMs: [1000, 5000] });
  const letters: DeadLetter[] = [];
  sp.acquire('a', 100, 2000, spans([0, 0]), 1, T0, config);
  sp.acknowledge('a', 0, 0, [AckType.RELEASE], T0, config, letters);
  assert.deepEqual(sp.acquire('a', 100, 2000, [], 1, T0 + 999, config), []);
  assert.deepEqual(sp.acquire('a', 100, 2000, [], 1, T0 + 1000, config), [{ firstOffset: 0, lastOffset: 0, deliveryCount: 2 }]);
  sp.acknowledge('a', 0, 0, [AckType.RELEASE], T0 + 1000, config, letters);
  assert.deepEqual(sp.acquire('a', 100, 2000, [], 1, T0 + 5999, config), [], 'the second step is 5 s');
  assert.equal(sp.acquire('a', 100, 2000, [], 1, T0 + 6000, config).length, 1);
  sp.acknowledge('a', 0, 0, [AckType.RELEASE], T0 + 6000, config, letters);
  assert.deepEqual(sp.acquire('a', 100, 2000, [], 1, T0 + 10_999, config), [], 'the last step repeats');
  assert.equal(sp.acquire('a', 100, 2000, [], 1, T0 + 11_000, config).length, 1);
  sp.close();
});

test('an expired lock makes the records available to others; a closed session releases without counting the delivery', () => {
  const sp = partition();
  const config = cfg({ lockDurationMs: 1000 });
  const letters: DeadLetter[] = [];
  sp.acquire('a', 100, 2000, spans([0, 1]), 2, T0, config);
  assert.equal(sp.expireLocks(T0 + 999, config, letters), false);
  assert.equal(sp.expireLocks(T0 + 1000, config, letters), true);
  assert.deepEqual(sp.acquire('b', 100, 2000, [], 2, T0 + 1000, config), [{ firstOffset: 0, lastOffset: 1, deliveryCount: 2 }]);
  assert.equal(sp.acknowledge('a', 0, 0, [AckType.ACCEPT], T0 + 1000, config, letters), ErrorCode.INVALID_RECORD_STATE, 'the lock moved to b');
  assert.equal(sp.releaseMember('b', T0 + 1001, config, letters), true);
  assert.deepEqual(sp.acquire('c', 100, 2000, [], 2, T0 + 1001, config), [{ firstOffset: 0, lastOffset: 1, deliveryCount: 2 }]);
  sp.close();
});

test('in-flight records are capped, transaction markers are archived as they are reached, and the log start moves the partition on', () => {
  const sp = partition();
  const letters: DeadLetter[] = [];
  assert.deepEqual(sp.acquire('a', 100, 3, spans([0, 2], [3, 5]), 6, T0, cfg()), [{ firstOffset: 0, lastOffset: 2, deliveryCount: 1 }], 'the cap stops at a batch boundary');
  sp.acknowledge('a', 0, 2, [AckType.ACCEPT], T0, cfg(), letters);
  assert.deepEqual(sp.acquire('a', 100, 10, spans([3, 5], [6, 6, true], [7, 8]), 9, T0, cfg()), [
    { firstOffset: 3, lastOffset: 5, deliveryCount: 1 },
    { firstOffset: 7, lastOffset: 8, deliveryCount: 1 },
  ]);
  sp.acknowledge('a', 3, 5, [AckType.ACCEPT], T0, cfg(), letters);
  assert.equal(sp.startOffset, 7, 'past the marker');
  assert.equal(sp.skipTo(20), true);
  assert.equal(sp.startOffset, 20);
  assert.equal(sp.inFlight, 0);
  sp.close();
});

test('records available again above the fetchable end wait for it (a new leader whose high watermark trails)', () => {
  const sp = partition();
  sp.acquire('a', 100, 2000, spans([0, 5]), 6, T0, cfg());
  const letters: DeadLetter[] = [];
  assert.equal(sp.acknowledge('a', 0, 5, [AckType.RELEASE], T0, cfg(), letters), ErrorCode.NONE);
  assert.deepEqual(sp.acquire('b', 100, 2000, [], 3, T0, cfg()), [{ firstOffset: 0, lastOffset: 2, deliveryCount: 2 }], 'only what is below the high watermark');
  assert.deepEqual(sp.acquire('b', 100, 2000, [], 6, T0, cfg()), [{ firstOffset: 3, lastOffset: 5, deliveryCount: 2 }], 'the rest once it moves up');
  sp.close();
});
