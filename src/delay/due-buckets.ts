/**
 * How held records are counted for /metrics and `sluice delayed list`: by how soon they are due,
 * each bucket up to its bound (ms from now). Few and fixed, so a Prometheus label stays cheap.
 */
export const DUE_WITHIN: readonly (readonly [label: string, withinMs: number])[] = [
  ['overdue', 0],
  ['1m', 60_000],
  ['10m', 600_000],
  ['1h', 3_600_000],
  ['1d', 86_400_000],
  ['later', Infinity],
];

/** The bucket of a record due at `dueMs`. */
export function dueBucket(dueMs: number, now: number): string {
  return DUE_WITHIN.find(([, within]) => dueMs - now < within)![0];
}
