import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BrokerContext } from '../broker/broker-context.js';
import type { FlushMode } from '../storage/log-config.js';
import type { DelayedRecord } from './delay-headers.js';
import { DelayStore } from './delay-store.js';
import { Deliverer } from './deliverer.js';
import { dueBucket, DUE_WITHIN } from './due-buckets.js';
import { DeliveryJournal } from './delivery-journal.js';
import { partitionWriter } from './partition-writer.js';

/** Beside the partition directories of the first log directory; no partition directory is named like it. */
const DELAY_DIR = '__sluice_delayed';

/**
 * Delayed delivery on this broker: the produce path hands it records due later, it holds them
 * in its store and its deliverer appends them to their partitions when due (docs/queues.md).
 */
export class DelayedDelivery {
  private constructor(
    private readonly store: DelayStore,
    private readonly journal: DeliveryJournal,
    readonly deliverer: Deliverer,
  ) {}

  static open(ctx: BrokerContext, newProducerId: () => Promise<bigint>): DelayedDelivery {
    const dir = join(ctx.config.logDirs[0], DELAY_DIR);
    const store = new DelayStore(dir);
    const journal = new DeliveryJournal(dir, ctx.config.topicDefaults['sluice.log.flush.mode'] === 'sync');
    const delivery = new DelayedDelivery(store, journal, new Deliverer(store, journal, partitionWriter(ctx), newProducerId));
    delivery.register(ctx.metrics.registry);
    return delivery;
  }

  start(): void {
    this.deliverer.start();
  }

  /**
   * Holds a partition's records until due. Written before this returns (so a SIGKILL after the
   * answer loses nothing); the promise settles once they are on disk too when the topic's
   * sluice.log.flush.mode is sync, as the partition's own appends would.
   */
  hold(topic: string, partition: number, records: readonly DelayedRecord[], flushMode: FlushMode): Promise<void> {
    const earliest = this.deliverer.earliestDue;
    const entries = this.store.hold(records.map((r) => ({ ...r, dueMs: Math.max(r.dueMs, earliest), topic, partition })));
    this.deliverer.offer(entries);
    return flushMode === 'sync' ? this.store.durable() : Promise.resolve();
  }

  /** Held records by due minute (epoch ms of its start), earliest first. */
  heldByMinute(): [number, number][] {
    return this.store.heldByMinute();
  }

  async stop(): Promise<void> {
    await this.deliverer.stop();
    this.store.close();
    this.journal.close();
  }

  private register(registry: Registry): void {
    const registers = [registry];
    const store = this.store;
    const stats = this.deliverer.stats;
    new Gauge({
      name: 'sluice_delayed_pending_records',
      help: 'Records held for delayed delivery, by how soon they are due',
      labelNames: ['due_within'],
      registers,
      collect() {
        const now = Date.now();
        const counts = new Map(DUE_WITHIN.map(([label]) => [label, 0]));
        for (const [minute, n] of store.heldByMinute()) {
          const label = dueBucket(minute, now);
          counts.set(label, counts.get(label)! + n);
        }
        for (const [label, n] of counts) this.set({ due_within: label }, n);
      },
    });
    let seen = { delivered: 0, dropped: 0 };
    new Counter({
      name: 'sluice_delayed_records_total',
      help: 'Held records appended to their partitions (delivered), or dropped because their partition was deleted (dropped)',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.inc({ outcome: 'delivered' }, stats.delivered - seen.delivered);
        this.inc({ outcome: 'dropped' }, stats.dropped - seen.dropped);
        seen = { delivered: stats.delivered, dropped: stats.dropped };
      },
    });
    new Gauge({ name: 'sluice_delayed_last_lateness_ms', help: 'How long after its due time the last delivered record entered its topic', registers, collect() { this.set(stats.lastLatenessMs); } });
  }
}
