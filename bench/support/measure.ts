import { setImmediate } from 'node:timers/promises';

/**
 * Timing helpers shared by the benchmarks: time-boxed loops with warm-up, per-op percentiles,
 * process resource figures, and a plain-text table.
 */

export interface MeasureOptions {
  /** Bytes one op processes, for MB/s; omit when throughput in bytes means nothing. */
  bytesPerOp?: number;
  /** Measured time, after warm-up. */
  seconds?: number;
  warmupSeconds?: number;
}

export interface Measurement {
  ops: number;
  opsPerSec: number;
  /** Decimal megabytes (10^6) per second, as network and disk figures are usually quoted. */
  mbPerSec: number | null;
  p50Us: number;
  p99Us: number;
}

/**
 * Ops are timed in groups sized so each group takes about this long: a single sub-microsecond
 * op would be lost in the clock's own cost. Percentiles are therefore over group means, which
 * hides variance inside a group but not the slow groups that GC pauses cause.
 */
const GROUP_NS = 50_000;

let peakHeapUsed = 0;

function notePeakHeap(): void {
  peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed);
}

/**
 * Runs fn repeatedly: first to warm up the JIT (and to size the timing groups), then measured.
 * Every few milliseconds it yields to the event loop outside the timed spans, as a server does
 * between requests: native addons (lz4-napi, snappy) free their output buffers only from the
 * event loop, so a loop that never yields would measure a memory balloon, not the codec.
 */
export async function measure(fn: () => unknown, options: MeasureOptions = {}): Promise<Measurement> {
  const { bytesPerOp, seconds = 1.2, warmupSeconds = 0.3 } = options;

  const warm = await timeGroups(fn, 1, warmupSeconds);
  const group = Math.max(1, Math.round(GROUP_NS / (warm.elapsedNs / warm.ops)));
  const { ops, elapsedNs, perOpNs } = await timeGroups(fn, group, seconds);
  notePeakHeap();

  perOpNs.sort((a, b) => a - b);
  const opsPerSec = ops / (elapsedNs / 1e9);
  return {
    ops,
    opsPerSec,
    mbPerSec: bytesPerOp === undefined ? null : (opsPerSec * bytesPerOp) / 1e6,
    p50Us: percentile(perOpNs, 0.5) / 1e3,
    p99Us: percentile(perOpNs, 0.99) / 1e3,
  };
}

const YIELD_EVERY_NS = 5e6;

/** Runs groups of fn until `seconds` of timed work; returns each group's mean time per op. */
async function timeGroups(fn: () => unknown, group: number, seconds: number): Promise<{ ops: number; elapsedNs: number; perOpNs: number[] }> {
  const budget = seconds * 1e9;
  const perOpNs: number[] = [];
  let ops = 0;
  let elapsedNs = 0;
  let sinceYield = 0;
  while (elapsedNs < budget) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < group; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0);
    perOpNs.push(ns / group);
    ops += group;
    elapsedNs += ns;
    sinceYield += ns;
    if (sinceYield >= YIELD_EVERY_NS) {
      await setImmediate();
      sinceYield = 0;
    }
  }
  return { ops, elapsedNs, perOpNs };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export interface ProcessStats {
  cpuUserMs: number;
  cpuSystemMs: number;
  wallMs: number;
  peakRssMiB: number;
  /** Sampled after each measure() call, so a peak inside a run can be missed. */
  peakHeapUsedMiB: number;
}

/** CPU and memory of the whole process so far; call it at the end of a run. */
export function processStats(): ProcessStats {
  notePeakHeap();
  const cpu = process.cpuUsage();
  return {
    cpuUserMs: cpu.user / 1e3,
    cpuSystemMs: cpu.system / 1e3,
    wallMs: process.uptime() * 1e3,
    // maxRSS is in KiB on Linux and macOS alike (libuv normalises it).
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    peakHeapUsedMiB: peakHeapUsed / 2 ** 20,
  };
}

/** Formats a number with a sensible count of significant digits for a table cell. */
export function fmt(n: number | null): string {
  if (n === null) return '-';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** A plain-text table: the first column left-aligned, the rest (numbers) right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
