import { execFileSync } from 'node:child_process';
import { readdirSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { AppendMode } from '../../src/storage/log-config.js';
import { nextSegmentsSettled, nextSegmentStats } from '../../src/storage/next-segment.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { openLog, testConfig } from '../../test/support/storage-fixtures.js';
import { fmt, table } from '../support/measure.js';
import { LatencySamples, MiB, nowNs, sizeLabel } from '../support/resources.js';
import type { Workspace } from '../support/workspace.js';
import { batchOfSize } from './batches.js';

/**
 * Many partitions, each written to now and then: what one costs in page cache and in append
 * latency, in write mode and in mmap mode. Every partition takes one small batch in turn, so
 * each first append meets a new segment, and none fills an eighth of its segment.
 */

export interface SparseOptions {
  partitions: number;
  segmentBytes: number;
  /** Batches appended to each partition, one partition after the other. */
  rounds: number;
  batchBytes: number;
}

interface Latency {
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface SparseModeResult {
  mode: AppendMode;
  appends: number;
  /** The first append of each partition: the one that meets a new segment. */
  first: Latency;
  /** The later ones. */
  rest: Latency;
  /** Next segments asked for (mmap mode), and the wait for their preparation to end after the appends. */
  nextSegments: number;
  settleMs: number;
  /** Page cache holding the partitions' files once every preparation ended (fincore). */
  pageCacheBytes: number;
  /** Disk blocks the partitions' files hold then. */
  diskBytes: number;
  cpuSeconds: number;
}

export interface SparseReport {
  options: SparseOptions;
  modes: SparseModeResult[];
}

function latency(samples: LatencySamples): Latency {
  return { p50Us: samples.percentileUs(0.5), p99Us: samples.percentileUs(0.99), maxUs: samples.maxUs() };
}

/** The files of `dir`'s partition directories. */
function partitionFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((p) => readdirSync(join(dir, p)).map((f) => join(dir, p, f)));
}

/** Bytes of the files in the page cache. */
function pageCacheBytes(files: string[]): number {
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...files], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.trim())
    .reduce((sum, l) => sum + Number(l.trim()), 0);
}

async function runMode(ws: Workspace, opts: SparseOptions, mode: AppendMode): Promise<SparseModeResult> {
  const dir = ws.path(`sparse-${mode}`);
  const batch = batchOfSize(opts.batchBytes);
  ws.settle();
  const requested = nextSegmentStats.requested;
  const cpu0 = process.cpuUsage();
  const logs: PartitionLog[] = [];
  const first = new LatencySamples();
  const rest = new LatencySamples();
  try {
    for (let i = 0; i < opts.partitions; i++) logs.push(openLog(join(dir, `p-${i}`), testConfig({ appendMode: mode, segmentBytes: opts.segmentBytes })));
    for (let round = 0; round < opts.rounds; round++) {
      for (const log of logs) {
        const t0 = nowNs();
        log.append(batch, { leaderEpoch: 1, now: Date.now(), assignOffsets: true });
        (round === 0 ? first : rest).add(nowNs() - t0);
      }
      // Preparations report back through the loop, as they do in the broker between requests.
      await yieldToLoop();
    }
    const t0 = nowNs();
    await nextSegmentsSettled();
    const settleMs = (nowNs() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    return {
      mode,
      appends: first.count + rest.count,
      first: latency(first),
      rest: latency(rest),
      nextSegments: nextSegmentStats.requested - requested,
      settleMs,
      pageCacheBytes: pageCacheBytes(partitionFiles(dir)),
      diskBytes: partitionFiles(dir).reduce((sum, f) => sum + statSync(f).blocks * 512, 0),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    for (const log of logs) log.deleteAll();
    await nextSegmentsSettled();
  }
}

export async function runSparseBench(ws: Workspace, opts: SparseOptions, progress: (line: string) => void): Promise<SparseReport> {
  // Each partition's records and, in mmap mode, the zeros written ahead of them (256 KiB).
  const needed = opts.partitions * (opts.rounds * opts.batchBytes + MiB);
  const fs = statfsSync(ws.dir);
  if (fs.bavail * fs.bsize < needed) throw new Error(`the sparse-partitions run needs ${sizeLabel(needed)} free in ${ws.dir}`);
  const modes: SparseModeResult[] = [];
  for (const mode of ['write', 'mmap'] as const) {
    progress(`sparse partitions: ${opts.partitions} x ${opts.rounds} appends, ${mode} mode`);
    modes.push(await runMode(ws, opts, mode));
  }
  return { options: opts, modes };
}

export function formatSparseReport(r: SparseReport): string {
  const o = r.options;
  const head =
    `5. Sparse partitions: ${o.partitions} partition logs (segment.bytes ${sizeLabel(o.segmentBytes)}), each taking one ` +
    `${sizeLabel(o.batchBytes)} batch in turn, ${o.rounds} rounds. "first" is each partition's first append, which meets a new ` +
    'segment; page cache and disk are what the partitions\' files hold once every next-segment preparation ended.';
  const us = (l: Latency): string => `${fmt(l.p50Us)} / ${fmt(l.p99Us)} / ${fmt(l.maxUs)}`;
  const rows = r.modes.map((m) => [
    m.mode,
    m.appends.toLocaleString('en-US'),
    us(m.first),
    us(m.rest),
    String(m.nextSegments),
    fmt(m.settleMs),
    fmt(m.pageCacheBytes / MiB),
    fmt(m.pageCacheBytes / MiB / o.partitions),
    fmt(m.diskBytes / MiB),
    fmt(m.cpuSeconds),
  ]);
  return `${head}\n${table(['mode', 'appends', 'first p50/p99/max µs', 'rest p50/p99/max µs', 'next segments', 'settle ms', 'page cache MiB', 'per partition MiB', 'disk MiB', 'CPU s'], rows)}`;
}
