import { compactBatch, forEachKeyedRecord, type CleanedTransactions, type CompactionRules, type KeyOffsets } from './batch-compaction.js';
import type { PartitionLog } from './partition-log.js';
import { LogSegment, MAX_RELATIVE_OFFSET, maxIndexEntries } from './segment.js';
import { CLEANED_SUFFIX, discardCleanedSegment, swapInCleanedSegment, type SwapHook } from './segment-swap.js';
import type { AbortedTxn } from './transaction-index.js';
import { readInt64 } from './int64.js';

/**
 * Log compaction (cleanup.policy=compact), after Kafka's log cleaner. One pass over a log:
 *
 * - The cleanable range is the inactive segments wholly below `upTo` (the high watermark),
 *   up to the first dirty one holding a record younger than min.compaction.lag.ms;
 *   the active segment is never cleaned and never consulted. Records past the high watermark
 *   may still be truncated away, and one past it that made an older record obsolete would
 *   take that record with it.
 * - The key map holds each key's latest offset in the dirty part of the range, from the
 *   cleaner checkpoint (log.cleanerCheckpoint) to its end. Older records are already the latest
 *   for their keys within the clean part, which earlier passes compacted.
 * - Every segment of the range, clean ones too, is rewritten in offset order, keeping a record
 *   unless the map has a later offset for its key (batch-compaction.ts says what is kept and
 *   how batches are re-encoded). Runs of segments are merged into one while they fit
 *   segment.bytes and the index, and each merged segment replaces its sources by Kafka's
 *   crash-safe swap (segment-swap.ts).
 * - Transactions: a pass ends at the last stable offset, so every transaction in its range has
 *   ended; aborted ones (from the transaction index) are dropped, committed ones compacted,
 *   markers kept while their transaction has records (batch-compaction.ts), and the index
 *   entries of the markers kept go with them into the cleaned segment.
 * - Only a whole pass moves the checkpoint. Tombstones may be dropped in a pass only because
 *   the pass that set their delete horizon (the first to clean them) also removed every older
 *   record of their key, earlier in offset order: a pass cut short must be run again whole.
 *
 * A pass works in slices of at most SLICE_BYTES read, and the manager lets the event loop run
 * between them (runInSlices). Each swap (fsyncs included) is one synchronous step: readers see
 * the log before or after it, never during it. Between slices the log may change under the
 * pass: retention, DeleteRecords or truncation removing what it read, or the log closing. Any
 * such change (PartitionLog.layoutChanges) ends the pass at its next slice, its unfinished
 * output discarded and the checkpoint left where it was; the next pass starts again.
 * Segments it already swapped in stay: they were cleaned with the key map of every record
 * before them, all of which were in the pass's range.
 *
 * The key map holds at most `maxKeys` keys (Kafka's dedupe buffer), and the range stops before
 * the dirty segment that would overflow it: the rest is left dirty for the following passes.
 * The range shortened that way is what a log ending there would give, so every rule above
 * holds as it is.
 */

export interface CleanOptions {
  /** Offsets from here on are left alone: the high watermark. Default: the log end. */
  upTo?: number;
  /** Told of each step of each segment swap (tests throw from it to simulate a crash). */
  onSwapStep?: SwapHook;
  /** The key map's cap (default DEFAULT_MAX_KEYS); a segment's keys always fit, whatever it says. */
  maxKeys?: number;
  /** Bytes read per slice (default SLICE_BYTES). */
  sliceBytes?: number;
}

/**
 * About 100 bytes a key in the map (a short string and a number): some 50 MB for a pass. It
 * bounds both the memory and how long one pass holds the event loop.
 */
export const DEFAULT_MAX_KEYS = 500_000;

export interface CleanStats {
  /** Where the key map started: the first offset not cleaned before this pass. */
  firstDirtyOffset: number;
  /** The new cleaner checkpoint: everything below it is now clean. */
  cleanedUpTo: number;
  segmentsRead: number;
  segmentsWritten: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
  batchesRewritten: number;
  batchesRemoved: number;
  /** The earliest delete horizon of the tombstones kept, or Infinity: when a pass could next drop one. */
  nextDeleteHorizon: number;
  /** The key map filled up: the pass stopped short of the cleanable range, whose rest is still dirty. */
  capped: boolean;
}

/** The part of a log a pass may clean, and how much of it is dirty. */
export interface CleanableRange {
  /** The inactive segments wholly below upTo, oldest first. */
  segments: readonly LogSegment[];
  /** The base offset of the first segment left out. */
  end: number;
  /** The first offset not cleaned yet (the checkpoint, brought into the range). */
  firstDirty: number;
  cleanBytes: number;
  dirtyBytes: number;
}

export function cleanableRange(log: PartitionLog, upTo = log.logEndOffset, now?: number): CleanableRange {
  const inactive = log.inactiveSegments();
  let n = 0;
  while (n < inactive.length && inactive[n].nextOffset <= upTo) n++;
  // min.compaction.lag.ms (Kafka's firstUncleanableDirtyOffset): the range stops at the first
  // dirty segment holding a record younger than the lag.
  const lag = log.config.minCompactionLagMs;
  if (now !== undefined && lag > 0) {
    const checkpoint = log.cleanerCheckpoint;
    const young = inactive.slice(0, n).findIndex((s) => s.nextOffset > checkpoint && s.maxTimestamp > now - lag);
    if (young >= 0) n = young;
  }
  const segments = inactive.slice(0, n);
  const end = n < inactive.length ? inactive[n].baseOffset : log.segmentBaseOffsets()[inactive.length];
  const start = Math.max(log.logStartOffset, segments[0]?.baseOffset ?? end);
  const firstDirty = Math.min(Math.max(log.cleanerCheckpoint, start), end);
  let cleanBytes = 0;
  let dirtyBytes = 0;
  for (const s of segments) {
    if (s.nextOffset <= firstDirty) cleanBytes += s.size;
    else dirtyBytes += s.size;
  }
  return { segments, end, firstDirty, cleanBytes, dirtyBytes };
}

/** max.compaction.lag.ms: whether a dirty segment of the range holds a record at least that old (by its first batch, as Kafka measures). */
function compactionOverdue(log: PartitionLog, range: CleanableRange, now: number): boolean {
  const lag = log.config.maxCompactionLagMs;
  return range.segments.some((s) => s.nextOffset > range.firstDirty && s.firstBatchTimestamp >= 0 && now - s.firstBatchTimestamp >= lag);
}

/** Kafka's cleanable ratio: the dirty share of the cleanable range's bytes. */
export function dirtyRatio(range: CleanableRange): number {
  const total = range.cleanBytes + range.dirtyBytes;
  return total === 0 ? 0 : range.dirtyBytes / total;
}

/** How many bytes of segments a pass reads between two turns of the event loop. */
const SLICE_BYTES = 4 * 1024 * 1024;

/** A pass's work between turns of the loop: each `yield` ends a slice. */
type Slices<T> = Generator<void, T, undefined>;

/**
 * Every batch of a segment, in order, a slice at a time. A segment that does not end on a
 * batch boundary is damaged: cleaning it would silently drop what follows the damage.
 */
function* eachBatch(segment: LogSegment, sliceBytes: number, visit: (batch: Buffer) => void): Slices<void> {
  let position = 0;
  while (position < segment.size) {
    const sliceEnd = position + sliceBytes;
    let next = position;
    segment.scan(position, (b) => {
      visit(segment.readBytes(b.position, b.size));
      next = b.position + b.size;
      return next < sliceEnd;
    });
    if (next === position) break;
    position = next;
    yield;
  }
  if (position !== segment.size) throw new Error(`segment ${segment.baseOffset} of ${segment.dir} is damaged at position ${position}; not cleaning it`);
}

/** The transactions of one pass: which were aborted, and which kept records up to their markers. */
class PassTransactions implements CleanedTransactions {
  private readonly abortedBy = new Map<bigint, AbortedTxn[]>();
  private readonly withData = new Set<bigint>();

  constructor(aborted: readonly AbortedTxn[]) {
    for (const t of aborted) this.abortedBy.set(t.producerId, [...(this.abortedBy.get(t.producerId) ?? []), t]);
  }

  aborted(producerId: bigint, offset: number): boolean {
    return this.abortedBy.get(producerId)?.some((t) => t.firstOffset <= offset && offset <= t.lastOffset) ?? false;
  }

  keptData(producerId: bigint): void {
    this.withData.add(producerId);
  }

  emptyAtMarker(producerId: bigint): boolean {
    return !this.withData.delete(producerId);
  }
}

/**
 * Each key's latest offset in the dirty part of `segments`, and how many of the segments it
 * covers: it stops before the first dirty segment whose new keys would take it past `maxKeys`
 * (never before the first one, so that every pass moves on).
 */
function* latestOffsets(segments: readonly LogSegment[], firstDirty: number, txns: CleanedTransactions, maxKeys: number, sliceBytes: number): Slices<{ latest: KeyOffsets; covered: number }> {
  const latest: KeyOffsets = new Map();
  let dirtySeen = false;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.nextOffset <= firstDirty) continue;
    const own: KeyOffsets = new Map();
    yield* eachBatch(segment, sliceBytes, (batch) =>
      forEachKeyedRecord(batch, txns, (key, offset) => {
        if (offset >= firstDirty) own.set(key, offset);
      }),
    );
    let added = 0;
    for (const key of own.keys()) if (!latest.has(key)) added++;
    if (dirtySeen && latest.size + added > maxKeys) return { latest, covered: i };
    for (const [key, offset] of own) latest.set(key, offset);
    dirtySeen = true;
  }
  return { latest, covered: segments.length };
}

/** What cleaning one source segment removed; it counts only once the segment is replaced. */
interface Removals {
  records: number;
  tombstones: number;
  batchesRewritten: number;
  batchesRemoved: number;
}

interface Source {
  segment: LogSegment;
  removals: Removals;
}

/**
 * Consecutive segments cleaned into one new segment. Loading finds the segments a swap replaced
 * by the new segment's offset range, so it must reach into the last one it replaces: segments
 * that kept nothing at the end of a group pass on to the next group, or, at the end of the
 * range, stay as they are.
 */
class CleanedGroup {
  private out: LogSegment | null = null;
  /** How many sources, from the first, the output reaches into. */
  private reached = 0;

  constructor(
    private readonly log: PartitionLog,
    private readonly sources: Source[],
  ) {}

  /** Whether `segment` joins without taking the output past segment.bytes, the index, or int32 relative offsets. */
  fits(segment: LogSegment): boolean {
    if (this.out === null) return true;
    const { config } = this.log;
    return (
      this.out.size + segment.size <= config.segmentBytes &&
      this.out.offsetIndex.entries + segment.offsetIndex.entries <= maxIndexEntries(config) &&
      segment.nextOffset - 1 - this.sources[0].segment.baseOffset <= MAX_RELATIVE_OFFSET
    );
  }

  *add(segment: LogSegment, rules: CompactionRules, stats: CleanStats, sliceBytes: number): Slices<void> {
    const removals: Removals = { records: 0, tombstones: 0, batchesRewritten: 0, batchesRemoved: 0 };
    this.sources.push({ segment, removals });
    const abortedAt = new Map(segment.txnIndex.all.map((t) => [t.lastOffset, t]));
    yield* eachBatch(segment, sliceBytes, (batch) => {
      const result = compactBatch(batch, rules);
      stats.recordsRead += result.records;
      removals.records += result.removed;
      removals.tombstones += result.tombstonesRemoved;
      if (result.deleteHorizon >= 0) stats.nextDeleteHorizon = Math.min(stats.nextDeleteHorizon, result.deleteHorizon);
      if (result.bytes === null) removals.batchesRemoved++;
      else if (!result.verbatim) removals.batchesRewritten++;
      if (result.bytes === null) return;
      this.out ??= LogSegment.createForCleaning(this.log.dir, this.sources[0].segment.baseOffset, this.log.config, CLEANED_SUFFIX);
      this.out.append(result.bytes);
      this.reached = this.sources.length;
      const aborted = abortedAt.get(readInt64(batch, 0));
      if (aborted) this.out.txnIndex.append(aborted);
    });
    stats.segmentsRead++;
    stats.bytesRead += segment.size;
  }

  /**
   * Swaps the output in for the sources it reaches into, unless it is one source left as it
   * was. Returns the sources it does not reach, all of which kept nothing.
   */
  finish(onStep: SwapHook | undefined, stats: CleanStats): Source[] {
    const rest = this.sources.slice(this.reached);
    const out = this.out;
    // From here on the swap owns the output.
    this.out = null;
    if (out === null) return rest;
    const replaced = this.sources.slice(0, this.reached);
    const { removals } = replaced[0];
    const unchanged = replaced.length === 1 && removals.batchesRemoved + removals.batchesRewritten === 0;
    if (unchanged) discardCleanedSegment(out);
    else {
      swapInCleanedSegment(this.log, out, replaced.map((s) => s.segment), onStep);
      stats.segmentsWritten++;
      stats.bytesWritten += out.size;
      for (const { removals: r } of replaced) {
        stats.recordsRemoved += r.records;
        stats.tombstonesRemoved += r.tombstones;
        stats.batchesRewritten += r.batchesRewritten;
        stats.batchesRemoved += r.batchesRemoved;
      }
    }
    return rest;
  }

  /** After a failure while writing: nothing of the output is worth keeping. */
  abandon(): void {
    if (this.out) discardCleanedSegment(this.out);
    this.out = null;
  }
}

/**
 * One compaction pass over `log` at time `now` (see the top of this file), whatever its
 * cleanup.policy and dirty ratio (LogCleaner checks those), in slices. Moves
 * log.cleanerCheckpoint, unless the log changed under the pass (then it returns null).
 */
export function* cleanPass(log: PartitionLog, now: number, options: CleanOptions = {}): Slices<CleanStats | null> {
  let layout = log.layoutChanges;
  const whole = cleanableRange(log, options.upTo, now);
  // Which aborted transactions the key map must skip: those of the whole range, a superset.
  const transactions = new PassTransactions(whole.segments.length === 0 ? [] : log.abortedTransactions(whole.segments[0].baseOffset, whole.end));
  const sliceBytes = options.sliceBytes ?? SLICE_BYTES;
  const { latest, covered } = yield* latestOffsets(whole.segments, whole.firstDirty, transactions, options.maxKeys ?? DEFAULT_MAX_KEYS, sliceBytes);
  if (log.layoutChanges !== layout) return null;
  const capped = covered < whole.segments.length;
  const range = capped ? { ...whole, segments: whole.segments.slice(0, covered), end: whole.segments[covered].baseOffset } : whole;
  const stats: CleanStats = {
    firstDirtyOffset: range.firstDirty,
    cleanedUpTo: range.end,
    segmentsRead: 0,
    segmentsWritten: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRead: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    batchesRewritten: 0,
    batchesRemoved: 0,
    nextDeleteHorizon: Infinity,
    capped,
  };
  if (range.segments.length === 0) return stats;
  const rules: CompactionRules = {
    latest,
    now,
    deleteRetentionMs: log.config.deleteRetentionMs,
    transactions,
  };
  let group = new CleanedGroup(log, []);
  let finished = false;
  try {
    for (const segment of range.segments) {
      if (!group.fits(segment)) {
        group = new CleanedGroup(log, group.finish(options.onSwapStep, stats));
        layout = log.layoutChanges;
      }
      yield* group.add(segment, rules, stats, sliceBytes);
      if (log.layoutChanges !== layout) return null;
    }
    finished = true;
  } finally {
    // Failed, interrupted by a change to the log, or stopped by its driver.
    if (!finished) group.abandon();
  }
  const untouched = group.finish(options.onSwapStep, stats);
  // Left as they were, so still dirty: the next pass must see their records in its key map.
  if (untouched.length > 0) stats.cleanedUpTo = untouched[0].segment.baseOffset;
  log.cleanerCheckpoint = stats.cleanedUpTo;
  return stats;
}

/** A whole pass at once, the event loop held throughout (tools and tests). */
export function cleanLog(log: PartitionLog, now: number, options: CleanOptions = {}): CleanStats {
  const pass = cleanPass(log, now, options);
  for (;;) {
    const step = pass.next();
    if (!step.done) continue;
    if (step.value === null) throw new Error(`${log.dir} changed during a pass that held the event loop`);
    return step.value;
  }
}

/** Runs a pass a slice per turn of the event loop; `stopped` ends it early (its output discarded) with null. */
export async function runInSlices<T>(pass: Slices<T>, stopped: () => boolean): Promise<T | null> {
  for (;;) {
    const step = pass.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (stopped()) {
      pass.return(null as T);
      return null;
    }
  }
}

/**
 * Decides when logs need a pass, as Kafka's cleaner manager does: cleanup.policy includes
 * compact and either the dirty ratio is above min.cleanable.dirty.ratio, a dirty record is
 * older than max.compaction.lag.ms, or a delete horizon
 * set by an earlier pass has come. A log whose cleanable range has not grown since its last
 * pass is skipped until a horizon comes: the pass would do the same again (segments it left
 * dirty, holding nothing to keep, stay so until later records arrive). What it knows of past
 * passes is in memory only: after a restart, tombstones wait for the dirty ratio to call.
 */
export class LogCleaner {
  constructor(private readonly maxKeys = DEFAULT_MAX_KEYS) {}

  private readonly lastPass = new WeakMap<PartitionLog, { end: number; nextDeleteHorizon: number }>();

  private needsCleaning(log: PartitionLog, now: number, upTo?: number): boolean {
    const last = this.lastPass.get(log);
    if (last && last.nextDeleteHorizon <= now) return true;
    const range = cleanableRange(log, upTo, now);
    if (last?.end === range.end) return false;
    return range.dirtyBytes > 0 && (dirtyRatio(range) > log.config.minCleanableDirtyRatio || compactionOverdue(log, range, now));
  }

  /**
   * Cleans `log` if it needs it, a slice per turn of the loop; null if it did not, or was stopped
   * or interrupted. `endOf` gives the end of what may be cleaned (the last stable offset); it is
   * asked of compacted logs only, since it can load a log's producer state, a scan of a large log.
   */
  async cleanIfNeeded(log: PartitionLog, now: number, endOf?: () => number, stopped: () => boolean = () => false): Promise<CleanStats | null> {
    if (!log.config.cleanupCompact) return null;
    const upTo = endOf?.();
    if (!this.needsCleaning(log, now, upTo)) return null;
    const stats = await runInSlices(cleanPass(log, now, { upTo, maxKeys: this.maxKeys }), stopped);
    // A pass cut short left dirty segments behind: the next check must not take the range as done.
    if (stats === null || stats.capped) this.lastPass.delete(log);
    else this.lastPass.set(log, { end: cleanableRange(log, upTo, now).end, nextDeleteHorizon: stats.nextDeleteHorizon });
    return stats;
  }
}
