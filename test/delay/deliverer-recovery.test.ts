import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DelayStore } from '../../src/delay/delay-store.js';
import { Deliverer, type PartitionWriter, type WriteOutcome } from '../../src/delay/deliverer.js';
import { DeliveryJournal } from '../../src/delay/delivery-journal.js';
import { RecordBatchHeader } from '../../src/protocol/records/batch-header.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { tempDir } from '../support/storage-fixtures.js';
import { until } from './delay-clients.js';

/**
 * Partitions with Kafka's duplicate detection for one idempotent producer at a time, and a crash
 * switch: the n-th write never answers, after appending (`after`) or before (`before`), and no
 * later write answers either, as if the process had died there.
 */
class FakePartitions implements PartitionWriter {
  readonly records = new Map<string, string[]>();
  private readonly producers = new Map<string, { producerId: bigint; lastSequence: number; batches: Set<number> }>();
  writes = 0;
  crashed = false;
  crash: { at: number; when: 'before' | 'after' } | null = null;
  private readonly header = new RecordBatchHeader();

  write(topic: string, partition: number, batch: Buffer): Promise<WriteOutcome> {
    const key = `${topic}-${partition}`;
    const h = this.header.reset(batch);
    const state = this.producers.get(key);
    if (this.crashed) return new Promise(() => {});
    this.writes++;
    const crashing = this.crash?.at === this.writes ? this.crash.when : null;
    this.crashed = crashing !== null;
    if (crashing === 'before') return new Promise(() => {});
    if (state?.producerId === h.producerId && state.batches.has(h.baseSequence)) return Promise.resolve('appended');
    if (state?.producerId === h.producerId && h.baseSequence !== state.lastSequence + 1) return Promise.resolve('out-of-sequence');
    const keys = decodeRecordBatch(batch).records.map((r) => r.key!.toString());
    this.records.set(key, [...(this.records.get(key) ?? []), ...keys]);
    const next = state?.producerId === h.producerId ? state : { producerId: h.producerId, lastSequence: -1, batches: new Set<number>() };
    next.batches.add(h.baseSequence);
    next.lastSequence = h.baseSequence + h.recordCount - 1;
    this.producers.set(key, next);
    return crashing === 'after' ? new Promise(() => {}) : Promise.resolve('appended');
  }

  all(): string[] {
    return [...this.records.values()].flat();
  }
}

let nextProducerId = 1000n;
const newProducerId = (): Promise<bigint> => Promise.resolve(nextProducerId++);

function open(dir: string, partitions: FakePartitions): { store: DelayStore; deliverer: Deliverer } {
  const store = new DelayStore(dir);
  const deliverer = new Deliverer(store, new DeliveryJournal(dir, false), partitions, newProducerId);
  deliverer.start();
  return { store, deliverer };
}

for (const when of ['before', 'after'] as const) {
  test(`a crash ${when} an append: the restarted deliverer delivers every record once`, async () => {
    const { dir, cleanup } = tempDir(`deliverer-crash-${when}`);
    try {
      const partitions = new FakePartitions();
      partitions.crash = { at: 3, when };
      const { store, deliverer: first } = open(dir, partitions);
      const now = Date.now();
      const count = 3000;
      // Four partitions, due over the next 1.5 s.
      const entries = store.hold(
        Array.from({ length: count }, (_, i) => ({ topic: 't', partition: i % 4, key: Buffer.from(`k${i}`), value: null, headers: [], dueMs: now + Math.floor((i / count) * 1500) })),
      );
      first.offer(entries);
      assert.ok(await until(() => partitions.writes >= 3, 10_000), 'the crash point is reached');
      // The first deliverer is now stuck in its write, as a killed process would be; a new one
      // takes over, in a later second: it must start where the first was, not at its own time.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      partitions.crash = null;
      partitions.crashed = false;
      const { deliverer: second } = open(dir, partitions);
      assert.ok(await until(() => partitions.all().length >= count, 20_000), `delivered ${partitions.all().length} of ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const delivered = partitions.all();
      assert.equal(delivered.length, count, 'nothing doubled');
      assert.equal(new Set(delivered).size, count, 'nothing lost');
      await second.stop();
    } finally {
      cleanup();
    }
  });
}
