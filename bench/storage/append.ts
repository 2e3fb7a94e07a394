import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { nativeAddon } from '../../src/native/addon.js';
import type { AppendMode, FlushMode } from '../../src/storage/log-config.js';
import type { AppendOptions, PartitionLog } from '../../src/storage/partition-log.js';
import { openLog, testConfig } from '../../test/support/storage-fixtures.js';
import { recordFdatasyncs, type FdatasyncStats } from '../support/fsync-counter.js';
import { LatencySamples, median, MiB, nowNs, sizeLabel, SpanClock } from '../support/resources.js';
import type { Workspace } from '../support/workspace.js';
import { batchOfSize } from './batches.js';
import { fdatasyncLoop, RawWriter, writeAndDelete, type FsyncLoopResult, type RawWriteResult } from './raw-write.js';

/** Without the addon, mmap mode silently writes instead: measuring it would only repeat write mode. */
const MODES: readonly AppendMode[] = nativeAddon ? ['write', 'mmap'] : ['write'];
/**
 * After this many bytes of appends the async loop writes as many raw bytes, then yields to
 * the event loop, as a broker does between requests.
 */
export const INTERLEAVE_BYTES = 4 * MiB;

export interface BatchSizeCase {
  batchBytes: number;
  /** Bytes appended per async run, and the cap of a sync run. */
  bytes: number;
}

export interface AppendBenchOptions {
  sizes: readonly BatchSizeCase[];
  /** Async runs per case; the run with the median ratio to raw is reported. */
  repeats: number;
  /** A sync run stops after this long if it has not appended its bytes by then. */
  syncSeconds: number;
  /** Appends awaiting their ack at any time in a sync case (producers in flight). */
  syncInFlight: number;
  /** segment.bytes: small enough that every case rolls, so per-segment costs are paid as in steady state. */
  segmentBytes: number;
}

export interface AppendCaseResult {
  batchBytes: number;
  mode: AppendMode;
  flush: FlushMode;
  /** Appends made; in sync mode all of them were acknowledged. */
  appends: number;
  bytes: number;
  /** Time spent appending (async: the appends' own spans, from log open; sync: open to last ack). */
  seconds: number;
  mbPerSec: number;
  appendsPerSec: number;
  /** The raw writes interleaved with this run's appends (async runs only). */
  raw: RawWriteResult | null;
  /** mbPerSec / raw.mbPerSec. */
  ratioToRaw: number | null;
  /** The lowest and highest ratio over the repeated runs. */
  ratioRange: [number, number] | null;
  /** raw.cpuSeconds / cpuSeconds: 1 means an append costs the CPU a raw write of its bytes does. */
  cpuRatioToRaw: number | null;
  appendP50Us: number;
  appendP99Us: number;
  appendMaxUs: number;
  ackP50Us: number | null;
  ackP99Us: number | null;
  ackMaxUs: number | null;
  /** One fdatasync per 4 KiB append, measured just before a sync run: what group commit must beat. */
  fsyncLoop: FsyncLoopResult | null;
  groupCommits: number;
  /** Every fdatasync the run made (group commits sync the .log and both indexes). */
  fdatasync: FdatasyncStats;
  cpuSeconds: number;
  rssMiB: number;
  segments: number;
}

export interface AppendReport {
  options: AppendBenchOptions;
  /** The median speed of the raw writes of the async runs. */
  rawMbPerSec: number;
  cases: AppendCaseResult[];
}

type RunCounters = Pick<AppendCaseResult, 'groupCommits' | 'fdatasync' | 'rssMiB' | 'segments'>;

const APPEND_OPTIONS: AppendOptions = { leaderEpoch: 0, now: Date.now(), assignOffsets: true };

/**
 * Puts the page cache in the same state before every run: dirty pages written back, then a
 * file as large as the run will write, written and deleted. The second step matters on VMs
 * that return freed memory to the host (virtio-balloon free page reporting, after about 2 s):
 * the first touch of such memory faults in the host too and is several times slower, so a run
 * after a pause would measure the hypervisor.
 */
function preparePageCache(ws: Workspace, bytes: number): void {
  ws.settle();
  writeAndDelete(ws, bytes);
}

/**
 * Opens a log for one run (timed: in mmap mode, creating a segment preallocates and maps it,
 * and a segment that found no next segment prepared pays for its page faults in the appends),
 * runs `body`, and deletes the log without flushing, which drops its dirty pages so the next
 * run starts from the same state.
 */
async function withLog(
  ws: Workspace,
  opts: AppendBenchOptions,
  mode: AppendMode,
  flush: FlushMode,
  clock: SpanClock,
  body: (log: PartitionLog) => Promise<void>,
): Promise<RunCounters> {
  const fdatasyncs = recordFdatasyncs();
  clock.start();
  const log = openLog(ws.path(`append-${mode}-${flush}`), testConfig({ appendMode: mode, flushMode: flush, segmentBytes: opts.segmentBytes }));
  clock.stop();
  try {
    await body(log);
    return { groupCommits: log.groupCommits, fdatasync: fdatasyncs(), rssMiB: process.memoryUsage.rss() / MiB, segments: log.segmentCount };
  } finally {
    log.deleteAll();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One producer at a time (a single connection with acks=1), with raw writes interleaved. */
async function asyncRun(ws: Workspace, opts: AppendBenchOptions, size: BatchSizeCase, mode: AppendMode): Promise<AppendCaseResult> {
  const batch = batchOfSize(size.batchBytes);
  const appends = Math.floor(size.bytes / batch.length);
  const latency = new LatencySamples();
  const clock = new SpanClock();
  preparePageCache(ws, 2 * appends * batch.length);
  const raw = new RawWriter(ws.path('raw.bin'));
  const counters = await withLog(ws, opts, mode, 'async', clock, async (log) => {
    let pending = 0;
    clock.start();
    for (let i = 0; i < appends; i++) {
      const t0 = nowNs();
      log.append(batch, APPEND_OPTIONS);
      latency.add(nowNs() - t0);
      pending += batch.length;
      if (pending >= INTERLEAVE_BYTES || i === appends - 1) {
        clock.stop();
        raw.write(pending);
        pending = 0;
        await yieldToLoop();
        clock.start();
      }
    }
    clock.stop();
  });
  const rawResult = raw.close();
  ws.remove('raw.bin');
  const result = caseResult(batch.length, mode, 'async', latency, null, clock, counters);
  return { ...result, raw: rawResult, ratioToRaw: result.mbPerSec / rawResult.mbPerSec, cpuRatioToRaw: rawResult.cpuSeconds / result.cpuSeconds };
}

/**
 * `inFlight` producers, each appending again as soon as its previous append is durable: the
 * shape acks=all traffic from many clients gives, and what lets group commit share fsyncs.
 */
async function syncRun(ws: Workspace, opts: AppendBenchOptions, size: BatchSizeCase, mode: AppendMode): Promise<AppendCaseResult> {
  const batch = batchOfSize(size.batchBytes);
  const maxAppends = Math.floor(size.bytes / batch.length);
  const append = new LatencySamples();
  const ack = new LatencySamples();
  const clock = new SpanClock();
  const fsyncLoop = fdatasyncLoop(ws);
  preparePageCache(ws, maxAppends * batch.length);
  const counters = await withLog(ws, opts, mode, 'sync', clock, async (log) => {
    const deadline = nowNs() + opts.syncSeconds * 1e9;
    let issued = 0;
    const producer = async (): Promise<void> => {
      while (issued < maxAppends && nowNs() < deadline) {
        issued++;
        const t0 = nowNs();
        const { durable } = log.append(batch, APPEND_OPTIONS);
        append.add(nowNs() - t0);
        await durable;
        ack.add(nowNs() - t0);
      }
    };
    clock.start();
    await Promise.all(Array.from({ length: opts.syncInFlight }, producer));
    clock.stop();
  });
  return { ...caseResult(batch.length, mode, 'sync', append, ack, clock, counters), fsyncLoop };
}

function caseResult(
  batchBytes: number,
  mode: AppendMode,
  flush: FlushMode,
  append: LatencySamples,
  ack: LatencySamples | null,
  clock: SpanClock,
  counters: RunCounters,
): AppendCaseResult {
  const appends = (ack ?? append).count;
  const bytes = appends * batchBytes;
  return {
    batchBytes,
    mode,
    flush,
    appends,
    bytes,
    seconds: clock.seconds,
    mbPerSec: bytes / 1e6 / clock.seconds,
    appendsPerSec: appends / clock.seconds,
    raw: null,
    ratioToRaw: null,
    ratioRange: null,
    cpuRatioToRaw: null,
    fsyncLoop: null,
    appendP50Us: append.percentileUs(0.5),
    appendP99Us: append.percentileUs(0.99),
    appendMaxUs: append.maxUs(),
    ackP50Us: ack ? ack.percentileUs(0.5) : null,
    ackP99Us: ack ? ack.percentileUs(0.99) : null,
    ackMaxUs: ack ? ack.maxUs() : null,
    cpuSeconds: clock.cpuSeconds,
    ...counters,
  };
}

/** `repeats` async runs; the one with the median ratio to raw is kept, with the range. */
async function asyncCase(ws: Workspace, opts: AppendBenchOptions, size: BatchSizeCase, mode: AppendMode): Promise<AppendCaseResult> {
  const runs: AppendCaseResult[] = [];
  for (let i = 0; i < opts.repeats; i++) runs.push(await asyncRun(ws, opts, size, mode));
  const ratios = runs.map((r) => r.ratioToRaw ?? 0);
  const kept = runs.find((r) => r.ratioToRaw === median(ratios)) ?? runs[runs.length >> 1];
  return { ...kept, ratioRange: [Math.min(...ratios), Math.max(...ratios)] };
}

/** Every batch size in both append modes and both flush modes, then the fsync loop. */
export async function runAppendBench(ws: Workspace, opts: AppendBenchOptions, progress: (line: string) => void): Promise<AppendReport> {
  const cases: AppendCaseResult[] = [];
  for (const size of opts.sizes) {
    for (const mode of MODES) {
      progress(`append ${sizeLabel(size.batchBytes)} ${mode} async`);
      cases.push(await asyncCase(ws, opts, size, mode));
      // Sync runs are bounded by the disk and long enough to be steady: one each.
      progress(`append ${sizeLabel(size.batchBytes)} ${mode} sync`);
      cases.push(await syncRun(ws, opts, size, mode));
    }
  }
  const rawMbPerSec = median(cases.flatMap((c) => (c.raw ? [c.raw.mbPerSec] : [])));
  return { options: opts, rawMbPerSec, cases };
}
