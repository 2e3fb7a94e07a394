import type { Registry } from 'prom-client';
import { log } from '../log.js';
import type { ConsoleBroker } from './console-broker.js';

/** Running totals since the broker started. */
export interface Totals {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesConsumed: number;
  /** ISR changes this broker made as a leader. */
  isrShrinks: number;
  isrExpands: number;
}

/** Per-second rates since the sample before `time`. */
export interface ThroughputSample extends Totals {
  time: number;
}

/** A fixed number of the latest items, oldest first. */
export class RingBuffer<T> {
  private readonly items: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
  }

  newest(): T | undefined {
    if (this.items.length === 0) return undefined;
    return this.items[(this.start + this.items.length - 1) % this.items.length];
  }

  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

async function counterTotal(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  return (await metric.get()).values.reduce((n, v) => n + v.value, 0);
}

/**
 * The broker's totals: bytes and messages in, bytes out and ISR changes from its Prometheus counters.
 * Kafka counts no messages out (fetches send stored bytes without opening them), so the
 * consuming side is measured where it shows: committed offsets moving forward.
 */
export function brokerTotals(broker: ConsoleBroker): () => Promise<Totals> {
  const lastCommitted = new Map<string, number>();
  let consumed = 0;
  return async () => {
    const seen = new Set<string>();
    for (const g of broker.groups.allGroups()) {
      for (const o of g.offsets.values()) {
        const key = `${g.groupId}\0${g.offsetKey(o.topic, o.partition)}`;
        const before = lastCommitted.get(key);
        // A group's first commit says where it started, not what it read in the last second.
        if (before !== undefined && o.offset > before) consumed += o.offset - before;
        lastCommitted.set(key, o.offset);
        seen.add(key);
      }
    }
    for (const key of lastCommitted.keys()) if (!seen.has(key)) lastCommitted.delete(key);
    const registry = broker.metrics.registry;
    return {
      bytesIn: await counterTotal(registry, 'kafka_server_brokertopicmetrics_bytesin_total'),
      bytesOut: await counterTotal(registry, 'kafka_server_brokertopicmetrics_bytesout_total'),
      messagesIn: await counterTotal(registry, 'kafka_server_brokertopicmetrics_messagesin_total'),
      messagesConsumed: consumed,
      isrShrinks: await counterTotal(registry, 'kafka_server_replicamanager_isrshrinks_total'),
      isrExpands: await counterTotal(registry, 'kafka_server_replicamanager_isrexpands_total'),
    };
  };
}

interface Snapshot {
  time: number;
  totals: Totals;
}

function rates(from: Snapshot, to: Snapshot): ThroughputSample {
  const seconds = (to.time - from.time) / 1000;
  const rate = {} as Totals;
  for (const k of Object.keys(to.totals) as (keyof Totals)[]) rate[k] = Math.max(0, to.totals[k] - from.totals[k]) / seconds;
  return { time: to.time, ...rate };
}

/**
 * Totals sampled on a timer into a ring buffer, read as per-second rates: the live charts need
 * a recent history the moment a page opens, and Prometheus counters keep none. Keeping the
 * totals rather than the rates also gives the growth over the whole history, for counts too
 * rare to read per second (ISR changes).
 */
export class ThroughputSampler {
  private history: RingBuffer<Snapshot>;
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;

  /** `capacity` rates: one snapshot more, since each rate is the step between two. */
  constructor(
    private readonly totals: () => Promise<Totals>,
    private readonly capacity: number,
  ) {
    this.history = new RingBuffer(capacity + 1);
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => {
      this.sample().catch((err: unknown) => log.warn({ err }, 'console: throughput sample failed'));
    }, intervalMs);
    // Sampling must never be what keeps a stopping process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one sample now; the first only sets the baseline. */
  async sample(time = Date.now()): Promise<void> {
    // A slow read must not overlap the next tick and count a second twice.
    if (this.sampling) return;
    this.sampling = true;
    try {
      const totals = await this.totals();
      const last = this.history.newest();
      // The clock went back: rates across the jump would be nonsense, so history starts again.
      if (last && time <= last.time) this.history = new RingBuffer(this.capacity + 1);
      this.history.push({ time, totals });
    } finally {
      this.sampling = false;
    }
  }

  series(): ThroughputSample[] {
    const held = this.history.toArray();
    return held.slice(1).map((s, i) => rates(held[i], s));
  }

  /** The totals as of the last sample. */
  latestTotals(): Totals | null {
    return this.history.newest()?.totals ?? null;
  }

  /** The mean rates over all the history held, or null before there are two samples. */
  meanRates(): ThroughputSample | null {
    const held = this.history.toArray();
    return held.length < 2 ? null : rates(held[0], held[held.length - 1]);
  }
}
