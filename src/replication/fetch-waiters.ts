import type { Partition, PartitionWaiter } from './partition.js';

/** What `evaluate` returns when the fetch must be answered now (an error, a replica to go to instead). */
export const ANSWER_NOW = -1;

/**
 * How many times parked fetches looked at one of their partitions again (read by /metrics and
 * the benchmarks): one partition's move should cost one look per fetch waiting on it.
 */
export const fetchWaitStats = { evaluations: 0 };

/**
 * One partition a parked fetch watches, and what the first pass over it found. The fetch
 * handler extends it with what it needs to look at the partition again.
 */
export class WatchedPartition implements PartitionWaiter {
  /** The bytes the partition would return, as last seen. */
  bytes = 0;
  /** Set while its fetch is parked. */
  parked: ParkedFetch<this> | null = null;

  constructor(readonly partition: Partition) {}

  wake(): void {
    this.parked?.recheck(this);
  }
}

export interface FetchWait<W extends WatchedPartition> {
  watched: W[];
  /** The bytes this partition would return now, or ANSWER_NOW. */
  evaluate(w: W): number;
  minBytes: number;
  maxWaitMs: number;
  /** A follower waits for the leader's appends; a consumer for the high watermark (or last stable offset) to move. */
  follower: boolean;
  /** Aborted when the client stops sending or its connection closes: it is going away. */
  signal: AbortSignal;
  /** The wait is over (called as a microtask, not inside the event that ended it): answer now. */
  fetchable(): void;
}

/**
 * A fetch in Kafka's purgatory. Parked fetches are what a broker with many idle consumers holds
 * most of, and each one lives through garbage collections while it waits: it is one object with
 * its partitions as its listeners, not a web of closures and promises, so that there is little
 * for the collector to copy.
 */
class ParkedFetch<W extends WatchedPartition> {
  private total = 0;
  private readonly timer: NodeJS.Timeout;
  private ended = false;

  constructor(private readonly wait: FetchWait<W>) {
    for (const w of wait.watched) this.total += w.bytes;
    this.timer = setTimeout(endParked, wait.maxWaitMs, this);
    wait.signal.addEventListener('abort', this);
    for (const w of wait.watched) {
      w.parked = this;
      if (wait.follower) w.partition.onAppend(w);
      else w.partition.onNewData(w);
    }
  }

  recheck(w: W): void {
    fetchWaitStats.evaluations++;
    const bytes = this.wait.evaluate(w);
    if (bytes === ANSWER_NOW) return this.end();
    this.total += bytes - w.bytes;
    w.bytes = bytes;
    if (this.total >= this.wait.minBytes) this.end();
  }

  /** The connection's signal calls this (an EventTarget listener object). */
  handleEvent(): void {
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    const { watched, signal, follower } = this.wait;
    signal.removeEventListener('abort', this);
    for (const w of watched) {
      w.parked = null;
      if (follower) w.partition.offAppend(w);
      else w.partition.offNewData(w);
    }
    // Not inside the event that ended it: a partition's append or move finishes first.
    queueMicrotask(() => this.wait.fetchable());
  }
}

function endParked(parked: ParkedFetch<WatchedPartition>): void {
  parked.end();
}

/**
 * Parks a fetch until its partitions hold min_bytes between them, one of them must be answered
 * now, max_wait passes or its client goes away (Kafka's fetch purgatory), then calls its
 * `fetchable` (as a microtask). The fetch waits on each of its partitions' own events, and a partition that
 * moves is looked at again alone: the bytes of the others are what they were, since only their
 * own events change them. However it ends, it leaves every partition's listeners.
 */
export function waitForFetchable<W extends WatchedPartition>(wait: FetchWait<W>): void {
  if (wait.signal.aborted) queueMicrotask(() => wait.fetchable());
  else new ParkedFetch(wait);
}
