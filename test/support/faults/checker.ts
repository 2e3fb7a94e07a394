import type { ConsumedRecord, DeliveryTimes } from '../python-clients.js';

/**
 * What the clients of a fault-injection run saw, and what it means: the checks Jepsen's Kafka
 * and Redpanda analyses make of a log, from the acknowledgements, the readers that followed the
 * partitions through the faults, and a final read of every partition from its start.
 */

/** Where a record is, and what it holds. */
export interface Placed {
  partition: number;
  offset: number;
  value: string;
}

/** A message the broker acknowledged: where it said the message went, and when. */
export interface AckedMessage extends Placed, DeliveryTimes {}

export interface History {
  acked: AckedMessage[];
  /** Whether a value was handed to a producer at all (acknowledged, refused, or never reported). */
  wasSent: (value: string) => boolean;
  /** Which producer sent a value: the order of one producer's messages in a partition is kept. */
  producerOf: (value: string) => number;
  /** What the readers saw while the faults ran. */
  observed: ConsumedRecord[];
  /** Every partition read from its start after healing. */
  final: ConsumedRecord[];
}

/** Two or more different records seen at one offset, by whom. */
export interface OffsetConflict {
  partition: number;
  offset: number;
  values: { value: string; seenBy: ('ack' | 'reader' | 'final')[] }[];
}

export interface Findings {
  acked: number;
  /** Acknowledged, and nowhere in the final read. */
  lost: Placed[];
  /** Acknowledged, and in the final read, but not at the acknowledged offset. */
  misplaced: (Placed & { foundAt: string[] })[];
  /** Values at more than one offset of the final read. */
  duplicated: { value: string; at: string[] }[];
  /** Never acknowledged (refused, timed out, or unreported), yet in the log: allowed. */
  unackedPresent: number;
  /** In the log, but no producer ever sent it. */
  unknown: Placed[];
  conflicts: OffsetConflict[];
  /** A producer's message that follows a later one of the same producer in a partition. */
  outOfOrder: (Placed & { after: string })[];
  /** Offsets missing from the final read, within or before what it holds. */
  gaps: { partition: number; from: number; to: number }[];
}

const at = (r: { partition: number; offset: number }): string => `${r.partition}:${r.offset}`;
const placed = (r: ConsumedRecord): Placed => ({ partition: r.p, offset: r.o, value: r.v ?? '' });

/** Checks a run's history: every acknowledged message exactly once at its offset, in order, and one record per offset. */
export function check(history: History): Findings {
  const final = history.final.map(placed);
  const where = new Map<string, string[]>();
  for (const r of final) where.set(r.value, [...(where.get(r.value) ?? []), at(r)]);
  const ackedValues = new Set(history.acked.map((a) => a.value));

  const lost: Placed[] = [];
  const misplaced: Findings['misplaced'] = [];
  for (const a of history.acked) {
    const found = where.get(a.value);
    if (!found) lost.push({ partition: a.partition, offset: a.offset, value: a.value });
    else if (!found.includes(at(a))) misplaced.push({ partition: a.partition, offset: a.offset, value: a.value, foundAt: found });
  }
  const duplicated = [...where].filter(([, offsets]) => offsets.length > 1).map(([value, offsets]) => ({ value, at: offsets }));
  const unackedPresent = [...where.keys()].filter((v) => !ackedValues.has(v)).length;
  const unknown = final.filter((r) => !history.wasSent(r.value));

  return {
    acked: history.acked.length,
    lost,
    misplaced,
    duplicated,
    unackedPresent,
    unknown,
    conflicts: conflicts(history),
    outOfOrder: outOfOrder(final, history.producerOf),
    gaps: gaps(final),
  };
}

/** Offsets at which the acknowledgements, the readers and the final read do not all agree. */
function conflicts(history: History): OffsetConflict[] {
  const seen = new Map<string, Map<string, Set<'ack' | 'reader' | 'final'>>>();
  const note = (r: Placed, by: 'ack' | 'reader' | 'final'): void => {
    let values = seen.get(at(r));
    if (!values) seen.set(at(r), (values = new Map()));
    values.set(r.value, (values.get(r.value) ?? new Set()).add(by));
  };
  for (const a of history.acked) note(a, 'ack');
  for (const r of history.observed) note(placed(r), 'reader');
  for (const r of history.final) note(placed(r), 'final');
  const out: OffsetConflict[] = [];
  for (const [key, values] of seen) {
    if (values.size < 2) continue;
    const [partition, offset] = key.split(':').map(Number);
    out.push({ partition, offset, values: [...values].map(([value, by]) => ({ value, seenBy: [...by] })) });
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Messages numbered lower than one before them from the same producer in the same partition. */
function outOfOrder(final: Placed[], producerOf: (value: string) => number): Findings['outOfOrder'] {
  const last = new Map<string, Placed>();
  const out: Findings['outOfOrder'] = [];
  for (const r of [...final].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
    const key = `${r.partition}/${producerOf(r.value)}`;
    const before = last.get(key);
    if (before && messageNumber(r.value) < messageNumber(before.value)) out.push({ ...r, after: `${before.value} at ${at(before)}` });
    else last.set(key, r);
  }
  return out;
}

/** Offsets a partition's final read skips: none are allowed (no transactions, no compaction, no retention). */
function gaps(final: Placed[]): Findings['gaps'] {
  const offsets = new Map<number, number[]>();
  for (const r of final) offsets.set(r.partition, [...(offsets.get(r.partition) ?? []), r.offset]);
  const out: Findings['gaps'] = [];
  for (const [partition, list] of offsets) {
    let next = 0;
    for (const o of list.sort((a, b) => a - b)) {
      if (o > next) out.push({ partition, from: next, to: o - 1 });
      next = Math.max(next, o + 1);
    }
  }
  return out;
}

/** produce.py's message number of a value ("m00001234" is 1234). */
export function messageNumber(value: string): number {
  return /^m\d+$/.test(value) ? Number(value.slice(1)) : NaN;
}

/** A disruption of the cluster: when it began, and which partitions it may have made unavailable. */
export interface Disruption {
  atMs: number;
  partitions: number[];
}

/**
 * How long the partitions took to take writes again after a disruption: until every one of
 * them had acknowledged a message sent after it began, measured from when it began. Null when
 * some partition never did.
 */
export function recoveryMs(disruption: Disruption, acked: readonly AckedMessage[]): number | null {
  let worst = 0;
  for (const partition of disruption.partitions) {
    let first = Infinity;
    for (const a of acked) if (a.partition === partition && a.sentMs >= disruption.atMs && a.reportedMs < first) first = a.reportedMs;
    if (first === Infinity) return null;
    worst = Math.max(worst, first - disruption.atMs);
  }
  return worst;
}
