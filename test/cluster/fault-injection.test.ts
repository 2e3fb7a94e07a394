import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { check, recoveryMs, type AckedMessage, type History } from '../support/faults/checker.js';
import { FAULT_KINDS } from '../support/faults/nemesis.js';
import { partitionReplicas } from '../support/faults/replicas.js';
import { formatReport } from '../support/faults/report.js';
import { runFaultInjection } from '../support/faults/run.js';
import { clusterSkip } from '../support/cluster.js';
import type { ConsumedRecord } from '../support/python-clients.js';
import { appendGenerated, openLog, tempDir, testConfig } from '../support/storage-fixtures.js';
import { confluentKafka, skipUnlessPresent } from '../support/tools.js';

const value = (n: number): string => `m${String(n).padStart(8, '0')}`;
const ack = (partition: number, offset: number, n: number, sentMs = 0, reportedMs = sentMs): AckedMessage => ({ partition, offset, value: value(n), sentMs, reportedMs });
const record = (p: number, o: number, n: number): ConsumedRecord => ({ p, o, k: `k${n}`, v: value(n) });

/** A history where messages 0..count-1 went to partition 0 at offsets 0..count-1, all acknowledged and read. */
function clean(count: number): History {
  const ns = Array.from({ length: count }, (_, i) => i);
  return {
    acked: ns.map((n) => ack(0, n, n)),
    wasSent: (v) => Number(v.slice(1)) < 1000,
    producerOf: () => 0,
    observed: [],
    final: ns.map((n) => record(0, n, n)),
  };
}

describe('the fault-injection checker', () => {
  test('a log holding exactly what was acknowledged passes every check', () => {
    const f = check(clean(5));
    assert.deepEqual(
      [f.lost, f.misplaced, f.duplicated, f.unknown, f.conflicts, f.outOfOrder, f.gaps, f.unackedPresent],
      [[], [], [], [], [], [], [], 0],
    );
  });

  test('finds lost, misplaced, duplicated, unknown and unacknowledged records, and gaps', () => {
    const h = clean(5);
    // Message 2 was cut away and message 3 took its offset; message 1 was written twice; 999 was never acknowledged.
    h.final = [record(0, 0, 0), record(0, 1, 1), record(0, 2, 3), record(0, 3, 1), record(0, 5, 999), record(0, 6, 4000)];
    h.acked = h.acked.filter((a) => a.value !== value(4));
    const f = check(h);
    assert.deepEqual(f.lost.map((l) => l.value), [value(2)]);
    assert.deepEqual(f.misplaced.map((m) => [m.value, m.foundAt]), [[value(3), ['0:2']]]);
    assert.deepEqual(f.duplicated, [{ value: value(1), at: ['0:1', '0:3'] }]);
    assert.deepEqual(f.unknown.map((u) => u.value), [value(4000)]);
    assert.equal(f.unackedPresent, 2, '999, and 4000 that nobody sent');
    assert.deepEqual(f.gaps, [{ partition: 0, from: 4, to: 4 }]);
    assert.deepEqual(f.outOfOrder.map((o) => o.value), [value(1)], 'message 1 after message 3, from the same producer');
  });

  test('an offset read with one record by a reader during the run and another at the end is a conflict, by whom it was seen', () => {
    const h = clean(3);
    h.observed = [record(0, 1, 1), record(0, 2, 7)];
    const f = check(h);
    assert.deepEqual(f.conflicts, [
      {
        partition: 0,
        offset: 2,
        values: [
          { value: value(2), seenBy: ['ack', 'final'] },
          { value: value(7), seenBy: ['reader'] },
        ],
      },
    ]);
  });

  test("order is a producer's own: two producers' messages may interleave", () => {
    const h = clean(0);
    h.producerOf = (v) => (Number(v.slice(1)) >= 100 ? 1 : 0);
    h.wasSent = () => true;
    h.final = [record(0, 0, 100), record(0, 1, 0), record(0, 2, 101), record(0, 3, 1)];
    assert.deepEqual(check(h).outOfOrder, []);
  });

  test('recovery is timed from a disruption to the first acknowledgement of a message sent after it, on the slowest partition', () => {
    const acked = [ack(0, 0, 0, 900, 1100), ack(0, 1, 1, 1000, 1300), ack(1, 0, 2, 1050, 4000), ack(1, 1, 3, 1200, 3500)];
    assert.equal(recoveryMs({ atMs: 1000, partitions: [0, 1] }, acked), 2500, 'partition 1 took until 3500');
    assert.equal(recoveryMs({ atMs: 1000, partitions: [0, 1, 2] }, acked), null, 'partition 2 never took a write');
  });
});

describe('the replica comparison', () => {
  test('tells identical replicas from ones that end alike but hold other bytes, and from ones behind', async () => {
    const temp = tempDir('replicas');
    try {
      const config = testConfig({ segmentBytes: 20_000 });
      const dirOf = (broker: number): string => join(temp.dir, `broker-${broker}`, 'faults-0');
      const logs = [1, 2, 3].map((b) => openLog(dirOf(b), config));
      for (const log of logs) appendGenerated(log, 100);
      const state = { leader: 1, isr: [1, 2, 3], replicas: [1, 2, 3] };
      const same = partitionReplicas(0, state, dirOf);
      assert.ok(same.identical, 'the same batches in the same order');
      assert.ok(logs[0].segmentCount > 1, 'over several segments');
      assert.equal(same.replicas[0].logEnd, logs[0].logEndOffset);

      // Broker 3 kept a deposed leader's batches: same offsets, another leader epoch.
      const end = logs[2].logEndOffset;
      logs[2].truncateTo(end - 20);
      while (logs[2].logEndOffset < end) appendGenerated(logs[2], 1, 7);
      assert.equal(logs[2].logEndOffset, end);
      const forked = partitionReplicas(0, state, dirOf);
      assert.ok(forked.caughtUp && !forked.identical, 'caught up, but not the same bytes');

      appendGenerated(logs[0], 1);
      assert.ok(!partitionReplicas(0, state, dirOf).caughtUp, 'the leader is ahead');
      assert.ok(!partitionReplicas(0, { ...state, isr: [1, 2] }, dirOf).caughtUp, 'a replica out of the ISR');
      await Promise.all(logs.map((l) => l.close()));
    } finally {
      temp.cleanup();
    }
  });
});

const skip = clusterSkip('netns') || skipUnlessPresent(confluentKafka);

describe('fault injection: etcd and 3 brokers under every fault, with idempotent acks=all producers', { skip, timeout: 600_000 }, () => {
  test('no acknowledged message is lost or duplicated, and the replicas end byte-identical', async (t) => {
    const report = await runFaultInjection({
      faults: [...FAULT_KINDS],
      rounds: 1,
      rate: 60,
      faultMs: 2500,
      recoveryMs: 2000,
      warmupMs: 2000,
      settleMs: 3000,
      sessionTimeoutMs: 4000,
      lagTimeMs: 4000,
      log: (line) => t.diagnostic(line),
    });
    for (const line of formatReport(report).split('\n')) t.diagnostic(line);
    for (const kind of FAULT_KINDS) assert.ok((report.faultsByKind[kind] ?? 0) >= 1, `a ${kind} fault ran`);
    assert.ok(report.messages.acked > 1000, `${report.messages.acked} messages acknowledged`);
    assert.deepEqual(report.violations, []);
  });
});
