import { readSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { HeaderField } from '../../src/protocol/records/batch-layout.js';
import { batchSizeAt } from '../../src/protocol/records/batch-spans.js';
import { readInt64 } from '../../src/storage/int64.js';
import type { AppendOptions, PartitionLog } from '../../src/storage/partition-log.js';
import { openLog, testConfig } from '../../test/support/storage-fixtures.js';
import { fmt, table } from '../support/measure.js';
import { GiB, MiB, nowNs, sizeLabel } from '../support/resources.js';
import type { Workspace } from '../support/workspace.js';
import { batchOfSize } from './batches.js';

const BATCH_BYTES = 64 * 1024;
/** What one Fetch of one partition asks for (max.partition.fetch.bytes). */
const FETCH_BYTES = MiB;
const SAMPLE_EVERY_MS = 100;
/** Yield to the loop (so the sampler runs) after this many bytes of appends or reads. */
const YIELD_BYTES = 16 * MiB;
/** Left free on the disk whatever happens: a benchmark must not fill the disk it runs on. */
const DISK_RESERVE = 2 * GiB;
/** RSS may wander by this much (allocator, JIT, page tables) and still count as flat. */
export const FLAT_TOLERANCE = 64 * MiB;

interface MemorySample {
  atMs: number;
  phase: 'write' | 'read';
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

interface Extremes {
  start: number;
  peak: number;
  end: number;
}

export interface FlatMemoryReport {
  requestedBytes: number;
  bytes: number;
  warning: string | null;
  batchBytes: number;
  segments: number;
  writeMbPerSec: number;
  readMbPerSec: number;
  samples: number;
  rss: Extremes;
  heapUsed: Extremes;
  arrayBuffers: Extremes;
  /** Peak RSS minus RSS at the start. */
  rssGrowth: number;
  /** About a dozen samples spread over the run, to show the shape. */
  timeline: MemorySample[];
  flat: boolean;
}

/** Samples memory on a timer; the loops under test yield often enough for it to fire. */
class MemorySampler {
  readonly samples: MemorySample[] = [];
  phase: MemorySample['phase'] = 'write';
  private readonly t0 = Date.now();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor() {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
  }

  sample(): void {
    const m = process.memoryUsage();
    this.samples.push({ atMs: Date.now() - this.t0, phase: this.phase, rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers });
  }

  /** Takes a last sample and stops; later calls do nothing. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.sample();
  }

  /** `n` samples evenly spread over the run, the first and last included. */
  spread(n: number): MemorySample[] {
    const last = this.samples.length - 1;
    return Array.from({ length: Math.min(n, last + 1) }, (_, i) => this.samples[Math.round((i * last) / Math.max(1, n - 1))]);
  }

  extremes(key: 'rss' | 'heapUsed' | 'arrayBuffers'): Extremes {
    const values = this.samples.map((s) => s[key]);
    return { start: values[0], peak: Math.max(...values), end: values[values.length - 1] };
  }
}

/** The requested size, or less with a warning when the disk cannot take it and keep a reserve. */
function plannedBytes(ws: Workspace, requested: number): { bytes: number; warning: string | null } {
  const room = ws.freeBytes() - DISK_RESERVE;
  if (requested <= room) return { bytes: requested, warning: null };
  const bytes = Math.max(0, Math.floor(room / GiB) * GiB);
  return {
    bytes,
    warning: `only ${sizeLabel(ws.freeBytes())} free on ${ws.dir}: writing ${sizeLabel(bytes)} instead of ${sizeLabel(requested)}`,
  };
}

async function writeLog(log: PartitionLog, bytes: number): Promise<void> {
  const batch = batchOfSize(BATCH_BYTES);
  const opts: AppendOptions = { leaderEpoch: 0, now: Date.now(), assignOffsets: true };
  let sinceYield = 0;
  for (let written = 0; written + batch.length <= bytes; written += batch.length) {
    log.append(batch, opts);
    sinceYield += batch.length;
    if (sinceYield >= YIELD_BYTES) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
}

/**
 * Reads the whole log back as a consumer would, fetch by fetch: log.read gives a file region,
 * which is pread into one reused buffer (what the copy sender does, minus the socket). The
 * batches found must continue exactly where the previous fetch ended.
 */
async function readLog(log: PartitionLog): Promise<number> {
  const buf = Buffer.allocUnsafe(FETCH_BYTES);
  let next = log.logStartOffset;
  let bytes = 0;
  let sinceYield = 0;
  while (next < log.logEndOffset) {
    const region = log.read(next, FETCH_BYTES);
    if (!region) throw new Error(`nothing to read at offset ${next}`);
    const n = region.file.use((fd) => readSync(fd, buf, 0, Math.min(region.byteLength, buf.length), region.position));
    if (readInt64(buf, 0) !== next) throw new Error(`read at ${next} returned a batch starting at ${readInt64(buf, 0)}`);
    next = nextOffsetAfterWholeBatches(buf, n);
    bytes += n;
    sinceYield += n;
    if (sinceYield >= YIELD_BYTES) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  return bytes;
}

/** The offset after the last batch that `buf[0, length)` holds whole (a fetch may cut the last one). */
function nextOffsetAfterWholeBatches(buf: Buffer, length: number): number {
  let next = -1;
  for (let at = 0, size; (size = batchSizeAt(buf, at, length, true)) > 0; at += size) {
    next = readInt64(buf, at) + buf.readInt32BE(at + HeaderField.lastOffsetDelta) + 1;
  }
  if (next < 0) throw new Error('a fetch returned no whole batch');
  return next;
}

/**
 * Writes `requestedBytes` through a PartitionLog (write mode, async flush, default segment
 * size) and reads it all back, sampling memory every 100 ms. The storage layer keeps no record
 * bytes on the JS heap, so RSS and heap must stay flat while gigabytes pass through the page
 * cache.
 */
export async function runFlatMemoryBench(ws: Workspace, requestedBytes: number, progress: (line: string) => void): Promise<FlatMemoryReport> {
  const { bytes, warning } = plannedBytes(ws, requestedBytes);
  if (warning) progress(`WARNING: ${warning}`);
  ws.settle();
  const log = openLog(ws.path('flat'), testConfig({ appendMode: 'write', flushMode: 'async' }));
  const sampler = new MemorySampler();
  try {
    progress(`flat memory: writing ${sizeLabel(bytes)}`);
    let t0 = nowNs();
    await writeLog(log, bytes);
    const writeSeconds = (nowNs() - t0) / 1e9;
    sampler.phase = 'read';
    progress(`flat memory: reading ${sizeLabel(log.size)} back`);
    t0 = nowNs();
    const read = await readLog(log);
    const readSeconds = (nowNs() - t0) / 1e9;
    sampler.stop();
    const rss = sampler.extremes('rss');
    return {
      requestedBytes,
      bytes: log.size,
      warning,
      batchBytes: BATCH_BYTES,
      segments: log.segmentCount,
      writeMbPerSec: log.size / 1e6 / writeSeconds,
      readMbPerSec: read / 1e6 / readSeconds,
      samples: sampler.samples.length,
      rss,
      heapUsed: sampler.extremes('heapUsed'),
      arrayBuffers: sampler.extremes('arrayBuffers'),
      rssGrowth: rss.peak - rss.start,
      flat: rss.peak - rss.start <= FLAT_TOLERANCE,
      timeline: sampler.spread(12),
    };
  } finally {
    sampler.stop();
    log.deleteAll();
  }
}

export function formatFlatMemoryReport(r: FlatMemoryReport): string {
  const mib = (n: number): string => fmt(n / MiB);
  const row = (name: string, e: Extremes): string[] => [name, mib(e.start), mib(e.peak), mib(e.end), mib(e.peak - e.start)];
  return [
    `3. Memory while ${sizeLabel(r.bytes)} goes through a PartitionLog (write mode, async flush, ${sizeLabel(r.batchBytes)} batches, ` +
      `${r.segments === 1 ? '1 segment' : `${r.segments} segments`}) and is read back with log.read + pread of each 1 MiB region`,
    ...(r.warning ? [`   WARNING: ${r.warning}`] : []),
    `   write ${fmt(r.writeMbPerSec)} MB/s, read ${fmt(r.readMbPerSec)} MB/s; ${r.samples} samples every ${SAMPLE_EVERY_MS} ms`,
    '',
    table(['MiB', 'start', 'peak', 'end', 'peak - start'], [row('RSS', r.rss), row('heap used', r.heapUsed), row('array buffers', r.arrayBuffers)]),
    '',
    `RSS over time: ${r.timeline.map((s) => `${(s.atMs / 1e3).toFixed(1)}s ${s.phase} ${mib(s.rss)}`).join(' | ')} MiB`,
    `RSS grew by ${mib(r.rssGrowth)} MiB for ${sizeLabel(r.bytes)} of data: ${r.flat ? 'flat' : 'NOT flat'} (tolerance ${sizeLabel(FLAT_TOLERANCE)})`,
  ].join('\n');
}
