import { randomFillSync } from 'node:crypto';
import { nativeAddon, type MappedRegion, type Warm } from '../../src/native/addon.js';
import { fmt, table } from '../support/measure.js';
import { median, MiB, nowNs, sizeLabel, SpanClock } from '../support/resources.js';
import type { Workspace } from '../support/workspace.js';
import { RawWriter, writeAndDelete } from './raw-write.js';

/**
 * Where the cost of an mmap segment lies, taken apart without the partition log: preparing a
 * segment file (as next-segment.ts does on the threadpool) with each way of faulting it in,
 * then copying a segment's worth of 1 MiB chunks into it (what appends do), against writeSync
 * of the same chunks to a new file (raw) and a copy into a heap buffer (memcpy alone).
 */

const WARMS: readonly Warm[] = ['touch', 'write-touch', 'populate-write', 'map-populate', 'none'];
const CHUNK = MiB;

export interface WarmOptions {
  segmentBytes: number;
  /** Runs per case; the median is reported. */
  runs: number;
}

export interface WarmCase {
  /** A warm method, or "raw write" / "memcpy" for the baselines. */
  name: string;
  /** Preparing on the threadpool: wall time, and the process's CPU while it ran. */
  prepareMs: number | null;
  prepareCpuMs: number | null;
  /** Copying (or writing) the segment's bytes on the calling thread. */
  copyMs: number;
  copyCpuMs: number;
  copyMbPerSec: number;
  /** copyMbPerSec / the raw write's: the ratio the append bench measures, at its best. */
  copyVsRaw: number;
  /** Raw CPU / (prepare + copy CPU): the whole cost of a byte, wherever it is paid. */
  cpuVsRaw: number;
}

export interface WarmReport {
  options: WarmOptions;
  cases: WarmCase[];
}

interface Sample {
  prepareMs: number | null;
  prepareCpuMs: number | null;
  copyMs: number;
  copyCpuMs: number;
}

function prepare(path: string, bytes: number, warm: Warm): Promise<MappedRegion> {
  return new Promise((resolve, reject) => nativeAddon!.prepareSegment(path, bytes, warm, false, (err, mapping) => (err ? reject(err) : resolve(mapping!))));
}

/** Copies `chunk` over `length` bytes of `copy`'s target, a chunk at a time. */
function copyInto(length: number, chunk: Buffer, copy: (at: number, part: Buffer) => void): { ms: number; cpuMs: number } {
  const clock = new SpanClock();
  clock.start();
  for (let at = 0; at < length; at += chunk.length) copy(at, chunk.subarray(0, Math.min(chunk.length, length - at)));
  clock.stop();
  return { ms: clock.seconds * 1e3, cpuMs: clock.cpuSeconds * 1e3 };
}

async function mappedSample(ws: Workspace, opts: WarmOptions, warm: Warm, chunk: Buffer): Promise<Sample> {
  const t0 = nowNs();
  const cpu0 = process.cpuUsage();
  const mapping = await prepare(ws.path('warm.seg'), opts.segmentBytes, warm);
  const cpu = process.cpuUsage(cpu0);
  const prepareMs = (nowNs() - t0) / 1e6;
  const copy = copyInto(opts.segmentBytes, chunk, (at, part) => nativeAddon!.copyToRegion(mapping, at, part));
  nativeAddon!.unmap(mapping);
  ws.remove('warm.seg');
  return { prepareMs, prepareCpuMs: (cpu.user + cpu.system) / 1e3, copyMs: copy.ms, copyCpuMs: copy.cpuMs };
}

function rawSample(ws: Workspace, opts: WarmOptions): Sample {
  const writer = new RawWriter(ws.path('warm.raw'));
  writer.write(opts.segmentBytes);
  const r = writer.close();
  ws.remove('warm.raw');
  return { prepareMs: null, prepareCpuMs: null, copyMs: r.seconds * 1e3, copyCpuMs: r.cpuSeconds * 1e3 };
}

function memcpySample(opts: WarmOptions, chunk: Buffer): Sample {
  const target = Buffer.alloc(opts.segmentBytes, 1);
  const copy = copyInto(target.length, chunk, (at, part) => part.copy(target, at));
  return { prepareMs: null, prepareCpuMs: null, copyMs: copy.ms, copyCpuMs: copy.cpuMs };
}

/** Each case's runs interleaved with the others', so all see the same moments of a shared machine. */
export async function runWarmBench(ws: Workspace, opts: WarmOptions, progress: (line: string) => void): Promise<WarmReport> {
  const chunk = randomFillSync(Buffer.allocUnsafe(CHUNK));
  const names = ['raw write', 'memcpy', ...(nativeAddon ? WARMS : [])];
  const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
  for (let run = 0; run < opts.runs; run++) {
    progress(`mmap warm-up, run ${run + 1} of ${opts.runs}`);
    for (const name of names) {
      ws.settle();
      writeAndDelete(ws, 2 * opts.segmentBytes);
      const sample =
        name === 'raw write' ? rawSample(ws, opts) : name === 'memcpy' ? memcpySample(opts, chunk) : await mappedSample(ws, opts, name as Warm, chunk);
      samples.get(name)!.push(sample);
    }
  }
  const mid = (xs: Sample[], pick: (s: Sample) => number | null): number | null => (pick(xs[0]) === null ? null : median(xs.map((s) => pick(s)!)));
  const mb = opts.segmentBytes / 1e6;
  const rawRuns = samples.get('raw write')!;
  const rawMs = mid(rawRuns, (s) => s.copyMs)!;
  const rawCpuMs = mid(rawRuns, (s) => s.copyCpuMs)!;
  const cases = names.map((name): WarmCase => {
    const runs = samples.get(name)!;
    const copyMs = mid(runs, (s) => s.copyMs)!;
    const copyCpuMs = mid(runs, (s) => s.copyCpuMs)!;
    const prepareCpuMs = mid(runs, (s) => s.prepareCpuMs);
    return {
      name,
      prepareMs: mid(runs, (s) => s.prepareMs),
      prepareCpuMs,
      copyMs,
      copyCpuMs,
      copyMbPerSec: mb / (copyMs / 1e3),
      copyVsRaw: rawMs / copyMs,
      cpuVsRaw: rawCpuMs / (copyCpuMs + (prepareCpuMs ?? 0)),
    };
  });
  return { options: opts, cases };
}

export function formatWarmReport(r: WarmReport): string {
  const pct = (x: number): string => `${Math.round(x * 100)}%`;
  return [
    `4. One ${sizeLabel(r.options.segmentBytes)} segment, taken apart (median of ${r.options.runs} runs, cases interleaved): prepared on the`,
    'threadpool (open, fallocate, mmap, then the warm-up named), then filled with 1 MiB copies on the main thread.',
    '"raw write" = writeSync of the same 1 MiB chunks to a new file; "memcpy" = the same copies into a heap buffer.',
    '"copy vs raw" = raw time / copy time; "CPU vs raw" = raw CPU / (prepare + copy CPU), the whole cost wherever paid.',
    table(
      ['case', 'prepare ms', 'prepare CPU ms', 'copy ms', 'copy CPU ms', 'copy MB/s', 'copy vs raw', 'CPU vs raw'],
      r.cases.map((c) => [c.name, fmt(c.prepareMs), fmt(c.prepareCpuMs), fmt(c.copyMs), fmt(c.copyCpuMs), fmt(c.copyMbPerSec), pct(c.copyVsRaw), pct(c.cpuVsRaw)]),
    ),
  ].join('\n');
}
