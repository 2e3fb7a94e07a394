import type { Registry } from 'prom-client';
import { log } from '../log.js';
import type { ConsoleBroker } from './console-broker.js';

/** Running totals since the broker started. */
export interface Totals {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesConsumed: number;
}

/** Per-second rates over the second before `time`. */
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
 * The broker's totals: bytes and messages in and bytes out from its Prometheus counters.
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
    };
  };
}

/**
 * Turns totals into per-second rates, sampled on a timer into a ring buffer: the live charts
 * need a recent history the moment a page opens, and Prometheus counters keep none.
 */
export class ThroughputSampler {
  private readonly samples: RingBuffer<ThroughputSample>;
  private last: { time: number; totals: Totals } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;

  constructor(
    private readonly totals: () => Promise<Totals>,
    capacity: number,
  ) {
    this.samples = new RingBuffer(capacity);
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
      const last = this.last;
      this.last = { time, totals };
      if (!last || time <= last.time) return;
      const seconds = (time - last.time) / 1000;
      const rate = (k: keyof Totals): number => Math.max(0, totals[k] - last.totals[k]) / seconds;
      this.samples.push({ time, bytesIn: rate('bytesIn'), bytesOut: rate('bytesOut'), messagesIn: rate('messagesIn'), messagesConsumed: rate('messagesConsumed') });
    } finally {
      this.sampling = false;
    }
  }

  series(): ThroughputSample[] {
    return this.samples.toArray();
  }

  /** The totals as of the last sample. */
  latestTotals(): Totals | null {
    return this.last?.totals ?? null;
  }
}
