import type { Partition } from './partition.js';

/** What `evaluate` returns when the fetch must be answered now (an error, a replica to go to instead). */
export const ANSWER_NOW = -1;

/** One partition a parked fetch watches, and how to tell what it would serve now. */
export interface WatchedPartition {
  partition: Partition;
  /** The bytes this partition would return now, or ANSWER_NOW. */
  evaluate(): number;
  /** What the first pass over it found. */
  bytes: number;
}

export interface FetchWait {
  watched: WatchedPartition[];
  minBytes: number;
  maxWaitMs: number;
  /** A follower waits for the leader's appends; a consumer for the high watermark (or last stable offset) to move. */
  follower: boolean;
  /** Aborted when the client stops sending or its connection closes: it is going away. */
  signal: AbortSignal;
}

/**
 * How many times parked fetches looked at one of their partitions again (read by /metrics and
 * the benchmarks): one partition's move should cost one look per fetch waiting on it.
 */
export const fetchWaitStats = { evaluations: 0 };

/**
 * Parks a fetch until its partitions hold min_bytes between them, one of them must be answered
 * now, max_wait passes or its client goes away (Kafka's fetch purgatory). The fetch waits on
 * each of its partitions' own events, and a partition that moves is looked at again alone: the
 * bytes of the others are what they were, since only their own events change them. However
 * it ends, it leaves every partition's listeners.
 */
export function waitForFetchable(wait: FetchWait): Promise<void> {
  if (wait.signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let total = 0;
    for (const w of wait.watched) total += w.bytes;
    const stops: (() => void)[] = [];
    const done = (): void => {
      clearTimeout(timer);
      wait.signal.removeEventListener('abort', done);
      for (const stop of stops) stop();
      resolve();
    };
    const timer = setTimeout(done, wait.maxWaitMs);
    wait.signal.addEventListener('abort', done);
    for (const w of wait.watched) {
      const recheck = (): void => {
        fetchWaitStats.evaluations++;
        const bytes = w.evaluate();
        if (bytes === ANSWER_NOW) return done();
        total += bytes - w.bytes;
        w.bytes = bytes;
        if (total >= wait.minBytes) done();
      };
      stops.push(wait.follower ? w.partition.onAppend(recheck) : w.partition.onNewData(recheck));
    }
  });
}
