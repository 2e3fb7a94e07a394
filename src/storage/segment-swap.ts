import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { log as logger } from '../log.js';
import { fsyncPath } from './checkpoint-file.js';
import type { LogConfig } from './log-config.js';
import type { PartitionLog } from './partition-log.js';
import { LogSegment } from './segment.js';

/**
 * Kafka's crash-safe replacement of old segments by one cleaned segment:
 *
 * 1. the cleaner writes the new segment as `<base>.log.cleaned` (with its indexes) and fsyncs it;
 * 2. its files are renamed to `.swap`, the log file last: `<base>.log.swap` existing is the
 *    commit point, after which the new data wins;
 * 3. the partition log switches to the new segment in memory, in one synchronous step;
 * 4. the replaced segments are deleted (as any deleted segment: renamed to `.deleted` and removed
 *    after file.delete.delay.ms, so a fetch already holding one still reads old data);
 * 5. the `.swap` files get their final names.
 *
 * A crash before step 2 completes leaves the old segments whole and `.cleaned`/index `.swap`
 * files that loading drops; after it, loading finishes steps 4 and 5. Loading knows the
 * replaced segments as those whose base offsets lie in [base, the swap's next offset), so the
 * cleaned segment must reach into the last segment it replaces (log-cleaner.ts ensures it).
 */

export const CLEANED_SUFFIX = '.cleaned';
export const SWAP_SUFFIX = '.swap';

/**
 * The log file moves last: its `.swap` name is the commit, so the indexes are in place by then
 * (loading rebuilds a swapped segment's indexes all the same, so nothing rests on them).
 */
const RENAME_ORDER = ['index', 'timeindex', 'log'] as const;

export type SwapStep = 'written' | 'to-swap' | 'switched' | 'old-deleted' | 'to-final';

/**
 * Called after each step that changes the directory, with the file or segment it touched.
 * Tests throw from it to stop the swap where a crash could.
 */
export type SwapHook = (step: SwapStep, detail: string) => void;

const noHook: SwapHook = () => {};

function renameSegmentFiles(segment: LogSegment, from: string, to: string, step: SwapStep, onStep: SwapHook): void {
  const source = LogSegment.paths(segment.dir, segment.baseOffset, from);
  const target = LogSegment.paths(segment.dir, segment.baseOffset, to);
  const files = segment.files();
  // The aborted transactions go with the records they describe, before the log's commit point.
  segment.txnIndex.rename(target.txnindex);
  for (const kind of RENAME_ORDER) {
    renameSync(source[kind], target[kind]);
    files[kind].path = target[kind];
    onStep(step, target[kind]);
  }
}

/**
 * Makes a finished `.cleaned` segment durable (step 1's fsync) and swaps it in for
 * `replaced`, consecutive inactive segments of `log` starting at the same base offset.
 */
export function swapInCleanedSegment(log: PartitionLog, cleaned: LogSegment, replaced: readonly LogSegment[], onStep: SwapHook = noHook): void {
  const { dir } = log;
  const base = cleaned.baseOffset;
  try {
    cleaned.seal();
    const files = LogSegment.paths(dir, base, CLEANED_SUFFIX);
    // By path: the segment's own descriptors are buried in its file objects.
    for (const kind of RENAME_ORDER) fsyncPath(files[kind]);
    // Only a segment that kept aborted transactions has a transaction index.
    if (existsSync(files.txnindex)) fsyncPath(files.txnindex);
    onStep('written', String(base));
    renameSegmentFiles(cleaned, CLEANED_SUFFIX, SWAP_SUFFIX, 'to-swap', onStep);
    // The commit must be on disk before any old file goes.
    fsyncPath(dir);
    log.replaceSegments(replaced, cleaned);
  } catch (e) {
    // Until the log holds it, the descriptors are ours to release; the files are left for
    // loading to drop or finish, as after a crash.
    cleaned.close();
    throw e;
  }
  onStep('switched', String(base));
  for (const segment of replaced) {
    segment.delete();
    onStep('old-deleted', String(segment.baseOffset));
  }
  // Once `.log.swap` is gone, nothing says the old segments were replaced: they must be gone
  // first, or loading would take them for damage overlapping the new one.
  fsyncPath(dir);
  renameSegmentFiles(cleaned, SWAP_SUFFIX, '', 'to-final', onStep);
  fsyncPath(dir);
}

/** Drops a cleaned segment that will not be swapped in (nothing in it differs from the old one). */
export function discardCleanedSegment(cleaned: LogSegment): void {
  cleaned.close();
  for (const path of Object.values(LogSegment.paths(cleaned.dir, cleaned.baseOffset, CLEANED_SUFFIX))) rmSync(path, { force: true });
}

const SEGMENT_FILE = /^(\d{20})\.(?:log|index|timeindex|txnindex)$/;
const LOG_SWAP = /^(\d{20})\.log\.swap$/;
const TXN_SWAP = /^(\d{20})\.txnindex\.swap$/;

/**
 * Loading's half of the protocol, run on the directory's listing (`names`) before its segments
 * are opened: drops `.cleaned` files and index `.swap` files (a swapped segment's indexes are
 * rebuilt), and finishes every swap whose `.log.swap` exists. Returns the base offsets of the
 * segments swapped in, which the caller must recover (check and re-index) rather than trust,
 * and the listing as the swaps left it.
 */
export function finishInterruptedSwaps(dir: string, config: LogConfig, names: readonly string[]): { swapped: Set<number>; names: readonly string[] } {
  const swapped = new Set<number>();
  let touched = false;
  const committed = new Set(names.filter((n) => LOG_SWAP.test(n)).map((n) => n.slice(0, 20)));
  for (const name of names) {
    // A committed swap's aborted transactions cannot be rebuilt from its records alone: they stay.
    const keptTxns = TXN_SWAP.test(name) && committed.has(name.slice(0, 20));
    if (name.endsWith(CLEANED_SUFFIX) || (name.endsWith(SWAP_SUFFIX) && !LOG_SWAP.test(name) && !keptTxns)) {
      rmSync(join(dir, name), { force: true });
      touched = true;
    }
  }
  const swapBases: number[] = [];
  for (const name of names) {
    const m = LOG_SWAP.exec(name);
    if (m) swapBases.push(Number(m[1]));
  }
  for (const base of swapBases.sort((a, b) => a - b)) {
    // The swap's next offset bounds the segments it replaces; opening it checks it as well.
    const { segment } = LogSegment.open(dir, base, config, false, false, SWAP_SUFFIX);
    const end = Math.max(segment.nextOffset, base + 1);
    segment.close();
    for (const name of readdirSync(dir)) {
      const m = SEGMENT_FILE.exec(name);
      if (m && Number(m[1]) >= base && Number(m[1]) < end) rmSync(join(dir, name));
    }
    const swap = LogSegment.paths(dir, base, SWAP_SUFFIX);
    rmSync(swap.index, { force: true });
    rmSync(swap.timeindex, { force: true });
    if (existsSync(swap.txnindex)) renameSync(swap.txnindex, LogSegment.paths(dir, base).txnindex);
    // As in the swap itself: the replaced files are durably gone before the marker goes.
    fsyncPath(dir);
    renameSync(swap.log, LogSegment.paths(dir, base).log);
    swapped.add(base);
    touched = true;
    logger.info({ dir, baseOffset: base, nextOffset: end }, 'finished a compaction swap cut short');
  }
  if (!touched) return { swapped, names };
  fsyncPath(dir);
  return { swapped, names: readdirSync(dir) };
}
