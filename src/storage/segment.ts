import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HeaderField, RECORD_BATCH_HEADER_SIZE, BATCH_LENGTH_OVERHEAD, MIN_BATCH_LENGTH, CURRENT_MAGIC, hasProducerId } from '../protocol/records/batch-layout.js';
import { RecordBatchHeader } from '../protocol/records/batch-header.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { listedOrExists, type Listing } from './directory-listing.js';
import type { FileRegion } from '../native/file-transfer.js';
import type { CachedFile } from './descriptor-cache.js';
import { openIndexStorage } from './index-storage.js';
import { TransactionIndex } from './transaction-index.js';
import { readInt64 } from './int64.js';
import type { LogConfig } from './log-config.js';
import { OffsetIndex, TimeIndex } from './offset-index.js';
import { nextDataSpan, openSegmentFile, type SegmentFile } from './segment-file.js';

/** Kafka's file names: the base offset as 20 digits. */
export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** segment.index.bytes in entries: a segment rolls when its offset index is full. */
export function maxIndexEntries(config: LogConfig): number {
  return Math.max(2, Math.floor(config.segmentIndexBytes / OffsetIndex.ENTRY_SIZE));
}

/** What a scan sees of one batch, read from its header alone. */
export interface BatchInfo {
  position: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  size: number;
}

/** Index entries hold offsets relative to the segment's base as int32. */
export const MAX_RELATIVE_OFFSET = 0x7fff_ffff;

/** Batch headers are read in chunks this large while scanning, so one read covers many batches. */
const SCAN_CHUNK = 64 * 1024;
const scratch = Buffer.allocUnsafeSlow(SCAN_CHUNK);

/** Segments deleted by this process, numbering their `.deleted` files. */
let deletions = 0;

/**
 * One segment of a partition log: a `.log` file of record batches as produced (offsets
 * assigned) with its sparse `.index` and `.timeindex`. Offsets, positions and timestamps are
 * numbers (see int64.ts).
 */
export class LogSegment {
  nextOffset: number;
  maxTimestamp = -1;
  offsetOfMaxTimestamp: number;
  /** The first batch's max timestamp, which segment.ms measures from; -1 while empty. */
  firstBatchTimestamp = -1;
  /**
   * Set by recover(), which reads every batch: the offset after the last one with a producer id,
   * or the base offset if none has one. null for a segment loaded from its indexes.
   */
  producerFreeFrom: number | null = null;
  private bytesSinceIndexEntry = 0;
  private sealed = false;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private file: SegmentFile,
    readonly offsetIndex: OffsetIndex,
    readonly timeIndex: TimeIndex,
    /** Transactions aborted in this segment (`.txnindex`, made with its first entry). */
    readonly txnIndex: TransactionIndex,
    /** The partition log's config: a topic's AlterConfigs reaches its segments through this. */
    public config: LogConfig,
  ) {
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
  }

  /** The files of a segment; `suffix` (`.cleaned`, `.swap`) names them during a compaction swap. */
  static paths(dir: string, baseOffset: number, suffix = ''): { log: string; index: string; timeindex: string; txnindex: string } {
    return {
      log: join(dir, segmentFileName(baseOffset, `.log${suffix}`)),
      index: join(dir, segmentFileName(baseOffset, `.index${suffix}`)),
      timeindex: join(dir, segmentFileName(baseOffset, `.timeindex${suffix}`)),
      txnindex: join(dir, segmentFileName(baseOffset, `.txnindex${suffix}`)),
    };
  }

  /** A new, empty, active segment. */
  static create(dir: string, baseOffset: number, config: LogConfig): LogSegment {
    return LogSegment.openFiles(dir, baseOffset, config, true, 0);
  }

  /**
   * An existing segment. A trusted one (clean shutdown, before the recovery point) takes its
   * state from the indexes; otherwise every batch is checked and the indexes rebuilt.
   */
  static open(
    dir: string,
    baseOffset: number,
    config: LogConfig,
    active: boolean,
    trusted: boolean,
    suffix = '',
    /** The directory's file names, when the caller has listed it: spares a stat per index file. */
    present?: Listing,
  ): { segment: LogSegment; truncatedBytes: number } {
    // A missing index file leaves no state to trust, whatever the shutdown: rebuild (as Kafka does).
    const p = LogSegment.paths(dir, baseOffset, suffix);
    const indexed = listedOrExists(p.index, present) && listedOrExists(p.timeindex, present);
    const segment = LogSegment.openFiles(dir, baseOffset, config, active, null, suffix, present);
    if (!trusted || !indexed) return { segment, truncatedBytes: segment.recover() };
    segment.loadStateFromIndexes();
    return { segment, truncatedBytes: 0 };
  }

  /**
   * A segment the log cleaner fills, under `suffix` names until its swap (segment-swap.ts).
   * It is written like a sealed segment (positional writes, heap indexes) but left unsealed, so
   * that seal() still records its final time-index entry. Leftovers of a failed attempt under
   * the same names are removed first: the files are opened without truncation.
   */
  static createForCleaning(dir: string, baseOffset: number, config: LogConfig, suffix: string): LogSegment {
    for (const path of Object.values(LogSegment.paths(dir, baseOffset, suffix))) rmSync(path, { force: true });
    const segment = LogSegment.openFiles(dir, baseOffset, config, false, 0, suffix);
    segment.sealed = false;
    return segment;
  }

  /**
   * Opens (or, with size 0, creates) the three files. On failure (a full disk, no descriptors)
   * what was opened is released, and a segment being created leaves no files behind.
   */
  private static openFiles(dir: string, baseOffset: number, config: LogConfig, active: boolean, size: number | null, suffix = '', present?: Listing): LogSegment {
    const p = LogSegment.paths(dir, baseOffset, suffix);
    const opened: { close(): void }[] = [];
    try {
      const file = openSegmentFile(p.log, active ? config.appendMode : 'write', size, config.segmentBytes, config.mlock);
      opened.push(file);
      const indexMode = active ? config.indexMode : 'heap';
      const maxEntries = maxIndexEntries(config);
      const offsetIndex = new OffsetIndex(openIndexStorage(p.index, indexMode, maxEntries, OffsetIndex.ENTRY_SIZE), baseOffset);
      opened.push(offsetIndex);
      const timeIndex = new TimeIndex(openIndexStorage(p.timeindex, indexMode, maxEntries, TimeIndex.ENTRY_SIZE), baseOffset);
      opened.push(timeIndex);
      const segment = new LogSegment(dir, baseOffset, file, offsetIndex, timeIndex, new TransactionIndex(p.txnindex, present), config);
      if (!active) segment.sealed = true;
      return segment;
    } catch (e) {
      for (const o of opened) o.close();
      if (size === 0) for (const path of Object.values(p)) rmSync(path, { force: true });
      throw e;
    }
  }

  get size(): number {
    return this.file.size;
  }

  /** The segment's files under the descriptor budget, by kind: renaming a file must move its entry too. */
  files(): { log: CachedFile; index: CachedFile; timeindex: CachedFile } {
    return { log: this.file.file, index: this.offsetIndex.storage.file, timeindex: this.timeIndex.storage.file };
  }

  get isEmpty(): boolean {
    return this.file.size === 0;
  }

  /**
   * Whether `bytes` more fit under segment.bytes and in the indexes (an empty segment takes
   * anything): an append adds at most one index entry per index.interval.bytes, plus one.
   */
  hasRoomFor(bytes: number): boolean {
    if (this.file.size === 0) return true;
    const entries = this.offsetIndex.entries + Math.ceil(bytes / this.config.indexIntervalBytes) + 1;
    return this.file.size + bytes <= Math.min(this.config.segmentBytes, this.file.capacity) && entries <= maxIndexEntries(this.config);
  }

  /** The disk an append of `bytes` takes (see SegmentFile). */
  diskNeededFor(bytes: number): number {
    return this.file.diskNeededFor(bytes);
  }

  /**
   * Whether segment.ms says batches stamped `timestamp` belong in a new segment. As in Kafka,
   * the span is measured in record time, from the segment's first batch: a producer replaying
   * old timestamps does not roll a segment per append.
   */
  spansMoreThan(segmentMs: number, timestamp: number): boolean {
    return this.firstBatchTimestamp >= 0 && timestamp - this.firstBatchTimestamp >= segmentMs;
  }

  /**
   * Appends whole batches whose offsets are already assigned, adding an index entry every
   * index.interval.bytes. The caller has validated them and checked hasRoomFor.
   */
  append(data: Buffer): void {
    const start = this.file.size;
    this.file.append(data);
    for (let at = 0; at < data.length; ) {
      const size = BATCH_LENGTH_OVERHEAD + data.readInt32BE(at + HeaderField.batchLength);
      const last = readInt64(data, at) + data.readInt32BE(at + HeaderField.lastOffsetDelta);
      this.track(start + at, last, readInt64(data, at + HeaderField.maxTimestamp), size);
      at += size;
    }
  }

  /** Keeps the indexes and the segment's counters in step with a batch just appended or scanned. */
  private track(position: number, lastOffset: number, maxTimestamp: number, size: number): void {
    if (this.firstBatchTimestamp < 0) this.firstBatchTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = lastOffset;
    }
    if (this.bytesSinceIndexEntry > this.config.indexIntervalBytes) {
      this.offsetIndex.append(lastOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    this.nextOffset = lastOffset + 1;
  }

  /**
   * Walks batch headers from `position`, calling `visit` for each until it returns false or
   * the data ends. Headers are read in chunks, so a scan costs one read per 64 KiB or per large
   * batch, not one per batch. `chunk` holds the batch's whole header at `at`, and as much of the
   * rest of it as was read with it, until visit returns.
   */
  scan(position: number, visit: (b: BatchInfo, chunk: Buffer, at: number) => boolean, end = this.file.size): void {
    const info: BatchInfo = { position: 0, baseOffset: 0, lastOffset: 0, maxTimestamp: 0, size: 0 };
    let chunkStart = 0;
    let chunkLength = 0;
    let chunk = scratch;
    while (position + BATCH_LENGTH_OVERHEAD <= end) {
      if (position < chunkStart || position + RECORD_BATCH_HEADER_SIZE > chunkStart + chunkLength) {
        chunkStart = position;
        chunkLength = this.file.read(scratch, Math.min(SCAN_CHUNK, end - position), position);
        if (chunkLength < RECORD_BATCH_HEADER_SIZE) return;
        chunk = scratch.subarray(0, chunkLength);
      }
      const at = position - chunkStart;
      const batchLength = scratch.readInt32BE(at + HeaderField.batchLength);
      if (batchLength < MIN_BATCH_LENGTH) return;
      info.position = position;
      info.baseOffset = readInt64(scratch, at);
      info.lastOffset = info.baseOffset + scratch.readInt32BE(at + HeaderField.lastOffsetDelta);
      info.maxTimestamp = readInt64(scratch, at + HeaderField.maxTimestamp);
      info.size = BATCH_LENGTH_OVERHEAD + batchLength;
      if (position + info.size > end) return;
      if (!visit(info, chunk, at)) return;
      position += info.size;
    }
  }

  /** The first batch holding `offset` or a later one, or null when there is none. */
  findBatch(offset: number, end = this.file.size): BatchInfo | null {
    let found: BatchInfo | null = null;
    this.scan(
      this.offsetIndex.lookup(offset),
      (b) => {
        if (b.lastOffset < offset) return true;
        found = { ...b };
        return false;
      },
      end,
    );
    return found;
  }

  /** The file position where batches holding `offset` and later start; the size if none do. */
  positionOf(offset: number): number {
    return this.findBatch(offset)?.position ?? this.file.size;
  }

  /**
   * A file region starting at the batch that holds `offset`, at most `maxBytes` long and
   * ending before `endPosition`, so it may cut the last batch short as Kafka does; the first
   * batch is always whole, however large (KIP-74). Null when nothing is there to read.
   */
  read(offset: number, maxBytes: number, endPosition = this.file.size): FileRegion | null {
    const first = this.findBatch(offset, endPosition);
    if (!first) return null;
    const length = Math.max(first.size, Math.min(maxBytes, endPosition - first.position));
    return { file: this.file.file, position: first.position, byteLength: length };
  }

  /** The first batch at or after `timestamp` by max timestamp, using the time index. */
  findBatchByTimestamp(timestamp: number): BatchInfo | null {
    let found: BatchInfo | null = null;
    this.scan(this.offsetIndex.lookup(this.timeIndex.lookup(timestamp)), (b) => {
      if (b.maxTimestamp < timestamp) return true;
      found = { ...b };
      return false;
    });
    return found;
  }

  /** Reads `length` bytes at `position` (a batch, for the few paths that must look inside). */
  readBytes(position: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = this.file.read(done === 0 ? out : out.subarray(done), length - done, position + done);
      if (n === 0) throw new Error(`segment ${this.baseOffset} ends before ${position + length}`);
      done += n;
    }
    return out;
  }

  /**
   * Checks every batch (size, magic, CRC, offsets moving forward) and rebuilds the indexes;
   * truncates at the first bad or torn byte. Returns the bytes cut off.
   */
  recover(): number {
    this.offsetIndex.clear();
    this.timeIndex.clear();
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.firstBatchTimestamp = -1;
    this.bytesSinceIndexEntry = 0;
    const header = new RecordBatchHeader();
    let valid = 0;
    let producerFree = this.baseOffset;
    this.scan(0, (b, chunk, at) => {
      // baseOffset lies outside the CRC: an offset the indexes cannot hold relative to this
      // segment's base can only be damage, and would break every later index append.
      if (b.baseOffset < this.nextOffset || b.lastOffset < b.baseOffset || b.lastOffset - this.baseOffset > MAX_RELATIVE_OFFSET) return false;
      // A batch read whole with its header needs no read of its own: a read per small batch
      // made recovery after a crash take seconds for a million of them.
      const bytes = at + b.size <= chunk.length ? chunk.subarray(at, at + b.size) : this.readBytes(b.position, b.size);
      try {
        header.reset(bytes);
        if (header.magic !== CURRENT_MAGIC) return false;
        header.verifyCrc();
      } catch (e) {
        if (e instanceof ProtocolError) return false;
        throw e;
      }
      this.track(b.position, b.lastOffset, b.maxTimestamp, b.size);
      valid = b.position + b.size;
      if (hasProducerId(bytes)) producerFree = b.lastOffset + 1;
      return true;
    });
    this.producerFreeFrom = producerFree;
    // Aborted transactions whose markers are gone with a torn tail go too.
    this.txnIndex.truncateTo(this.nextOffset);
    const cut = this.file.size - valid;
    if (cut === 0) return 0;
    // A mapped segment's preallocated tail is zeros where the next batch header would be: not
    // a torn write, whatever its length. A batch copied into a mapping stores its first bytes
    // before the rest (copyToRegion), so zeros there mean no part of one was.
    if (this.zeroAt(valid)) {
      this.file.endAt(valid);
      return 0;
    }
    this.file.truncate(valid);
    return cut;
  }

  /** Whether every byte from `position` to the end of the file is zero; holes are not read. */
  private zerosFrom(position: number): boolean {
    for (let span = nextDataSpan(this.file.file, position, this.file.size); span; span = nextDataSpan(this.file.file, span.end, this.file.size)) {
      for (let at = span.start; at < span.end; ) {
        const n = this.file.read(scratch, Math.min(SCAN_CHUNK, span.end - at), at);
        if (n === 0) return true;
        for (let i = 0; i < n; i++) if (scratch[i] !== 0) return false;
        at += n;
      }
    }
    return true;
  }

  /** Whether the bytes where a batch header would start at `position` are all zero (or absent). */
  private zeroAt(position: number): boolean {
    const n = this.file.read(scratch, BATCH_LENGTH_OVERHEAD, position);
    for (let i = 0; i < n; i++) if (scratch[i] !== 0) return false;
    return true;
  }

  /**
   * A trusted segment's indexes are whole: its last batch is found from them. Only zeros past
   * it are cut: a mapped segment is preallocated and trimmed when it rolls, so a kill between a
   * roll's creating the next segment and that trim leaves them behind. Other bytes there are
   * damage, left for reads and the cleaner to meet.
   */
  private loadStateFromIndexes(): void {
    let last: BatchInfo | null = null;
    const from = this.offsetIndex.lookup(this.offsetIndex.lastOffset);
    this.scan(from, (b) => {
      last = { ...b };
      return true;
    });
    const l = last as BatchInfo | null;
    const end = l === null ? from : l.position + l.size;
    if (end < this.file.size && this.zerosFrom(end)) this.file.truncate(end);
    if (l === null) return;
    this.nextOffset = l.lastOffset + 1;
    this.bytesSinceIndexEntry = this.file.size - this.offsetIndexPosition();
    const first = this.findBatch(this.baseOffset);
    this.firstBatchTimestamp = first ? first.maxTimestamp : -1;
    if (this.timeIndex.entries > 0) {
      this.maxTimestamp = this.timeIndex.lastTimestamp;
      this.offsetOfMaxTimestamp = this.timeIndex.lastEntryOffset;
    }
    if (l.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = l.maxTimestamp;
      this.offsetOfMaxTimestamp = l.lastOffset;
    }
  }

  private offsetIndexPosition(): number {
    return this.offsetIndex.entries === 0 ? 0 : this.offsetIndex.lookup(this.offsetIndex.lastOffset);
  }

  /**
   * Removes every batch holding `offset` or later; returns the bytes removed. The segment's
   * next offset becomes the base offset of the first removed batch.
   */
  truncateTo(offset: number): number {
    const from = this.findBatch(offset);
    if (!from) return 0;
    const removed = this.file.size - from.position;
    this.file.truncate(from.position);
    this.offsetIndex.truncateTo(from.baseOffset);
    this.timeIndex.truncateTo(from.baseOffset);
    this.txnIndex.truncateTo(from.baseOffset);
    // Counters are cheapest to get right by rescanning what is left of this one segment.
    this.recountAfterTruncate();
    return removed;
  }

  private recountAfterTruncate(): void {
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.firstBatchTimestamp = -1;
    let lastPosition = 0;
    this.scan(0, (b) => {
      if (this.firstBatchTimestamp < 0) this.firstBatchTimestamp = b.maxTimestamp;
      if (b.maxTimestamp > this.maxTimestamp) {
        this.maxTimestamp = b.maxTimestamp;
        this.offsetOfMaxTimestamp = b.lastOffset;
      }
      this.nextOffset = b.lastOffset + 1;
      lastPosition = b.position;
      return true;
    });
    this.bytesSinceIndexEntry = this.file.size - Math.max(lastPosition, this.offsetIndexPosition());
  }

  /** Durably writes the log and both indexes. */
  async flush(): Promise<void> {
    await Promise.all([this.file.sync(), this.offsetIndex.sync(), this.timeIndex.sync(), this.txnIndex.sync()]);
  }

  /** The segment takes no more appends: record the final max timestamp, trim preallocation. */
  seal(): void {
    if (this.sealed) return;
    this.sealed = true;
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
    this.file.seal();
    this.offsetIndex.seal();
    this.timeIndex.seal();
  }

  /** Lets go of the files without writing to them: their directory failed. */
  abandon(): void {
    this.sealed = true;
    this.file.abandon();
    this.offsetIndex.discard();
    this.timeIndex.discard();
    this.txnIndex.close();
  }

  close(): void {
    this.seal();
    this.file.close();
    this.offsetIndex.close();
    this.timeIndex.close();
    this.txnIndex.close();
  }

  /**
   * Deletes the segment as Kafka does: the indexes at once, the log renamed to `*.deleted` and
   * removed after file.delete.delay.ms, so a fetch already holding a region of it still reads
   * it whole. A start after a crash removes `.deleted` leftovers.
   */
  delete(): void {
    this.file.seal();
    this.offsetIndex.discard();
    this.timeIndex.discard();
    this.txnIndex.delete();
    const p = LogSegment.paths(this.dir, this.baseOffset);
    rmSync(p.index, { force: true });
    rmSync(p.timeindex, { force: true });
    // Unique: a segment recreated at the same base offset and deleted again must not take this
    // name, or a region of this one reopened by path would read the other's bytes.
    const doomed = `${p.log}.${++deletions}.deleted`;
    renameSync(p.log, doomed);
    this.file.file.path = doomed;
    const timer = setTimeout(() => {
      this.file.close();
      rmSync(doomed, { force: true });
    }, this.config.fileDeleteDelayMs);
    timer.unref();
  }
}
