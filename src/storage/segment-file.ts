import { fdatasync, fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { log } from '../log.js';
import { nativeAddon, type MappedRegion } from '../native/addon.js';
import { logDescriptors, type CachedFile } from './descriptor-cache.js';
import type { AppendMode } from './log-config.js';
import { adoptNextSegment, dropNextSegment, prepareNextSegment, takeNextSegment } from './next-segment.js';

/**
 * The `.log` file of a segment. Appends go into the page cache either by positional write
 * (Kafka) or by copying into a shared mapping, pre-touched when it was prepared ahead
 * (RocketMQ); reads always go through the file descriptor, which also serves sendfile.
 */
export interface SegmentFile {
  readonly mode: AppendMode;
  /** The file under the descriptor budget: open only while used. */
  readonly file: CachedFile;
  /** Bytes of data; in mmap mode the file itself is larger until it is trimmed. */
  readonly size: number;
  /** The most bytes it can hold: a mapping cannot grow. */
  readonly capacity: number;
  append(data: Buffer): void;
  /** The disk an append of `bytes` takes: what a failure of it for want of space needed. */
  diskNeededFor(bytes: number): number;
  /** Reads up to `length` bytes at `position` into `into`; returns how many were read. */
  read(into: Buffer, length: number, position: number): number;
  truncate(size: number): void;
  /**
   * Makes `size` the end of the data, when every byte past it is zero (what a recovery found
   * where the next batch would start): appends go on there. A written file is cut there; a
   * mapped one keeps its length, as appends would overwrite the zeros anyway.
   */
  endAt(size: number): void;
  sync(): Promise<void>;
  /** Trims preallocated space: the segment takes no more appends. */
  seal(): void;
  close(): void;
  /** Releases the file without touching it (its directory failed). */
  abandon(): void;
}

/** fdatasync on the threadpool, with the descriptor lent for as long as it runs. */
export async function syncFile(file: CachedFile, before?: (fd: number) => void): Promise<void> {
  const fd = await file.acquire();
  try {
    before?.(fd);
    await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  } finally {
    file.release();
  }
}

/**
 * Positional write of all of `data` at `position`. A full disk can take part of it: `undo` gets
 * how much went in before the error goes up, so that no torn batch stays behind.
 */
function writeAllAt(fd: number, data: Buffer, position: number, undo: (written: number) => void): void {
  let done = 0;
  try {
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
  } catch (e) {
    if (done > 0) undo(done);
    throw e;
  }
}

class WrittenSegmentFile implements SegmentFile {
  readonly mode = 'write' as const;
  readonly capacity = Number.POSITIVE_INFINITY;

  constructor(
    readonly file: CachedFile,
    public size: number,
  ) {}

  append(data: Buffer): void {
    this.file.use((fd) => writeAllAt(fd, data, this.size, () => ftruncateSync(fd, this.size)));
    this.size += data.length;
  }

  diskNeededFor(bytes: number): number {
    return bytes;
  }

  read(into: Buffer, length: number, position: number): number {
    return this.file.use((fd) => readSync(fd, into, 0, Math.min(length, this.size - position), position));
  }

  truncate(size: number): void {
    this.file.use((fd) => ftruncateSync(fd, size));
    this.size = size;
  }

  endAt(size: number): void {
    this.truncate(size);
  }

  sync(): Promise<void> {
    return syncFile(this.file);
  }

  seal(): void {}

  close(): void {
    this.file.close();
  }

  abandon(): void {
    this.file.close();
  }
}

/**
 * A cold mapping takes appends of this size or more by positional write: one system call costs
 * less than faulting in the four or more pages they cover, one at a time. Smaller appends copy.
 */
const COLD_WRITE_BYTES = 16 * 1024;

/**
 * Smaller appends to a cold mapping find their pages already in the page cache: ahead of them,
 * up to this many bytes of zeros are written by positional write, which puts them in large
 * folios that a fault maps whole. Faulting each page in through the mapping instead costs about
 * twice the CPU, and letting the kernel read around a fault stalls the event loop for 2-3 ms
 * (15-20 ms at worst) per read_ahead_kb (docs/zero-copy.md, "Cold mapped segments").
 */
const ZERO_AHEAD_BYTES = 256 * 1024;
/**
 * The first step of zeros ahead: a segment's steps grow with its data to ZERO_AHEAD_BYTES.
 * Every page of zeros goes to disk as well, and a whole step for each of 30,000 partitions
 * holding 85 KB each was 7.5 GB of zeros written back, twice their data, which slowed a stop
 * and a restart after a kill by seconds.
 */
const ZERO_AHEAD_MIN = 16 * 1024;
let zeroChunk: Buffer | null = null;
/** Segments of this process that could not be mapped: the first is logged as a warning. */
let unmappableSegments = 0;

/**
 * The most a cold mapped segment reserves past its data at once. Writes into reserved blocks
 * cost about a tenth less CPU than into holes, and one fallocate of 64 MiB took 5-20 µs on the
 * machines measured; of 512 MiB, up to 1 ms (docs/zero-copy.md, "Cold mapped segments").
 */
const RESERVE_AHEAD_MAX = 64 * 1024 * 1024;

/**
 * A mapped segment asks for its successor once it holds this share of segment.bytes, not
 * before: a prepared segment holds segment.bytes of page cache (and as much disk) until the
 * roll, so a partition written to now and then would otherwise keep a second segment's worth
 * for nothing. The other seven eighths of the fill leave the preparation time to finish
 * before the roll; a roll that outruns it maps its segment cold, as a log's first segment is.
 */
const SUCCESSOR_AT_SHARE = 8;

/**
 * Appends copy into a shared mapping of the whole segment. The mapping comes warm from
 * next-segment.ts when a roll finds one prepared, and appends are a memcpy. Otherwise it is
 * mapped cold, and large appends go in by positional write: faulting pages in through the
 * mapping costs several times what write(2) spends on the same bytes (docs/zero-copy.md), and
 * the page cache behind both is the same, so the mapping sees them. The preparation of its
 * successor starts once the segment is an eighth full.
 *
 * A segment opened cold is mapped by its first append, not when it opens: a restart of 30,000
 * partitions then maps only those written to (an fstat, ftruncate, mmap and madvise each).
 *
 * A cold mapping's file is sparse past its data, and its blocks are reserved as appends reach
 * them: a full disk then fails an append with ENOSPC. Every byte an append copies into the
 * mapping was also written by positional write first (the zeros ahead). A copy into a hole
 * would have the fault take the block, and a full disk would then raise SIGBUS and end the
 * process.
 *
 * A segment that cannot be mapped (address space or vm.max_map_count used up: ENOMEM) takes its
 * appends by positional write instead, as in write mode, rather than failing its directory.
 */
class MappedSegmentFile implements SegmentFile {
  readonly mode = 'mmap' as const;
  /** Null until the first append maps it cold, and once sealed or abandoned. */
  private region: MappedRegion | null;
  /** Every page was touched before the first append (a prepared next segment). */
  private warm: boolean;
  private sealed = false;
  private successorRequested = false;
  /** Where the zeros written ahead of small appends to a cold mapping end. */
  private zeroedTo = 0;
  /** Where the blocks reserved for a cold mapping end. */
  private reservedTo: number;
  /** Its mapping failed for want of memory: appends are positional writes. */
  private unmappable = false;

  constructor(
    readonly file: CachedFile,
    public size: number,
    /** A prepared next segment's mapping, every page touched; null for a cold one. */
    region: MappedRegion | null,
    /** Bytes mapped: the segment's capacity. */
    private readonly mapped: number,
    /** The file's length: sealing trims it to the data when it is longer. */
    private fileLength: number,
    private readonly segmentBytes: number,
    private readonly mlock: boolean,
  ) {
    this.region = region;
    this.warm = region !== null;
    this.reservedTo = this.warm ? mapped : size;
    adoptNextSegment(dirname(file.path), this);
  }

  get capacity(): number {
    return this.sealed ? 0 : this.mapped;
  }

  /** Maps the segment for its first append; null if memory for the mapping ran out. */
  private mapCold(): MappedRegion | null {
    // Longer from here on, whether the mapping follows or not.
    this.fileLength = Math.max(this.fileLength, this.mapped);
    try {
      this.region = mapCold(this.file, this.mapped, this.size, this.mlock);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOMEM') throw e;
      this.unmappable = true;
      unmappableSegments++;
      const fields = { segment: this.file.path, bytes: this.mapped, unmappable: unmappableSegments, err: (e as Error).message };
      if (unmappableSegments === 1) log.warn(fields, 'out of memory to map a segment (address space or vm.max_map_count): it takes positional writes instead; so will others that cannot be mapped');
      else log.debug(fields, 'segment not mapped: positional writes');
    }
    return this.region;
  }

  append(data: Buffer): void {
    const end = this.size + data.length;
    if (this.sealed || end > this.mapped) throw new Error('mapped segment is full');
    const region = this.region ?? (this.unmappable ? null : this.mapCold());
    if (region === null) {
      // As in write mode, into the file's sparse length: a write cut short is zeroed again.
      this.file.use((fd) => writeAllAt(fd, data, this.size, (written) => writeAllAt(fd, Buffer.alloc(written), this.size, () => undefined)));
      this.size = end;
      return;
    }
    if (!this.successorRequested && end >= this.segmentBytes / SUCCESSOR_AT_SHARE) {
      this.successorRequested = true;
      prepareNextSegment(dirname(this.file.path), this.segmentBytes, this.mlock, this);
    }
    const addon = nativeAddon!;
    if (this.warm) addon.copyToRegion(region, this.size, data);
    else {
      if (end > this.reservedTo) this.reserve(end);
      if (data.length < COLD_WRITE_BYTES) {
        if (end > this.zeroedTo) this.zeroAhead(end);
        addon.copyToRegion(region, this.size, data);
      }
      // Not cut back by truncation: the mapping must stay inside its file.
      else this.file.use((fd) => writeAllAt(fd, data, this.size, (written) => addon.zeroRegion(region, this.size, written)));
    }
    this.size = end;
  }

  diskNeededFor(bytes: number): number {
    const end = this.size + bytes;
    return end > this.reservedTo ? this.reserveEnd(end) - this.reservedTo : bytes;
  }

  /**
   * Where the reservation reaching `end` ends: as far again past it, at most RESERVE_AHEAD_MAX,
   * in whole ZERO_AHEAD_BYTES. A filling segment reserves in a few growing steps, and one
   * written to now and then holds little more disk than its data.
   */
  private reserveEnd(end: number): number {
    return Math.min(this.mapped, Math.ceil((end + Math.min(end, RESERVE_AHEAD_MAX)) / ZERO_AHEAD_BYTES) * ZERO_AHEAD_BYTES);
  }

  private reserve(end: number): void {
    const to = this.reserveEnd(end);
    this.file.use((fd) => nativeAddon!.fallocate(fd, this.reservedTo, to - this.reservedTo));
    this.reservedTo = to;
  }

  /**
   * Writes zeros from the end of the data to the step boundary past `end`, within the reserved
   * blocks, so that they need no allocation. The step is the power of two at or above `end`,
   * from ZERO_AHEAD_MIN to ZERO_AHEAD_BYTES: aligned writes get the largest folios, and a
   * segment holds at most about as many zeros ahead as data until its steps are whole.
   */
  private zeroAhead(end: number): void {
    const from = Math.max(this.zeroedTo, this.size);
    const step = Math.min(ZERO_AHEAD_BYTES, Math.max(ZERO_AHEAD_MIN, 2 ** Math.ceil(Math.log2(end))));
    const to = Math.min(this.reservedTo, (Math.floor(end / step) + 1) * step);
    const zeros = (zeroChunk ??= Buffer.alloc(ZERO_AHEAD_BYTES + COLD_WRITE_BYTES));
    // Past the data only: a write cut short leaves zeros where there were zeros.
    this.file.use((fd) => writeAllAt(fd, zeros.subarray(0, to - from), from, () => undefined));
    this.zeroedTo = to;
  }

  /**
   * By positional read, as in write mode: a read through the mapping would map the pages it
   * faults in (and as many around them) into the process, and a start that reads the tail of
   * 30,000 mapped segments held 1.5 GB of them as resident memory.
   */
  read(into: Buffer, length: number, position: number): number {
    return this.file.use((fd) => readSync(fd, into, 0, Math.max(0, Math.min(length, this.size - position)), position));
  }

  /**
   * Cuts the file and maps it anew, cold. Zeroing the cut bytes through the mapping instead
   * would fault in and write every page of them: after a crash, the recovery of an active
   * segment cuts its whole preallocated tail (segment.bytes), which for a sparse file also
   * takes a block per page. That stalled a restart of 2,500 partitions for minutes.
   */
  truncate(size: number): void {
    // Unmapped first: a mapping that reaches past the end of its file raises SIGBUS. The next
    // append maps it again, cold.
    if (this.region) nativeAddon!.unmap(this.region);
    this.region = null;
    this.file.use((fd) => ftruncateSync(fd, size));
    this.fileLength = size;
    this.warm = false;
    this.zeroedTo = this.reservedTo = this.size = size;
  }

  /**
   * Cutting the zeros instead cost a restart about 0.1 ms per partition (ftruncate through
   * the dirty pages written ahead and the reserved blocks): 3 s at 30,000 partitions. Only
   * what lies past `size` is forgotten: the next appends reserve and write ahead again.
   */
  endAt(size: number): void {
    if (this.sealed) return this.truncate(size);
    // An unmapped segment is advised so when its first append maps it.
    if (this.region) adviseCold(this.region, size, this.mapped);
    this.warm = false;
    this.zeroedTo = this.reservedTo = this.size = size;
  }

  sync(): Promise<void> {
    // fdatasync also writes back pages dirtied through a shared mapping, and runs on the
    // threadpool, where msync would block the event loop.
    return syncFile(this.file);
  }

  seal(): void {
    dropNextSegment(dirname(this.file.path), this);
    if (this.sealed) return;
    this.sealed = true;
    // Unmap before trimming: a mapping that reaches past the end of its file raises SIGBUS.
    if (this.region) nativeAddon!.unmap(this.region);
    this.region = null;
    if (this.fileLength > this.size) this.file.use((fd) => ftruncateSync(fd, this.size));
    this.fileLength = this.size;
  }

  close(): void {
    this.seal();
    this.file.close();
  }

  abandon(): void {
    dropNextSegment(dirname(this.file.path), this);
    if (this.region) nativeAddon!.unmap(this.region);
    this.region = null;
    this.sealed = true;
    this.file.close();
  }
}

/**
 * Maps `capacity` bytes of `file` on the event loop, without faulting any in (which would take
 * as long as writing them). The file grows to `capacity` as a sparse one: its blocks are taken
 * as appends write them, so that a partition holds the disk its data needs and not
 * segment.bytes (a topic of many partitions would otherwise need that much free space per
 * partition before its first record).
 */
function mapCold(file: CachedFile, capacity: number, valid: number, mlock: boolean): MappedRegion {
  const addon = nativeAddon!;
  const mapping = file.use((fd) => {
    // A mapping must stay inside its file: a page past the end raises SIGBUS.
    if (fstatSync(fd).size < capacity) ftruncateSync(fd, capacity);
    return addon.mapRegion(fd, capacity, true);
  });
  try {
    adviseCold(mapping, valid, capacity);
    if (mlock) addon.mlock(mapping, 0, capacity, true);
  } catch (e) {
    addon.unmap(mapping);
    throw e;
  }
  return mapping;
}

/**
 * Only appends touch a mapping (reads go through the file), and past the data they find their
 * pages written ahead of them. A page the kernel took back meanwhile would otherwise be faulted
 * in with a read around it, which for reserved blocks means zeroing the disk's read_ahead_kb of
 * page cache on the event loop (8 MiB and 2-3 ms on the machines measured in
 * docs/zero-copy.md): so the part past `from` is advised random.
 */
function adviseCold(mapping: MappedRegion, from: number, capacity: number): void {
  if (from < capacity) nativeAddon!.madvise(mapping, from, capacity - from, 'random');
}

/**
 * Opens a segment's data file holding `size` valid bytes. mmap mode maps `capacity` bytes for
 * appends and needs the native addon: without it, the file is written in write mode instead.
 * A new mmap segment (`size` 0) takes the prepared next segment when one is ready.
 */
export function openSegmentFile(path: string, mode: AppendMode, size: number | null, capacity: number, mlock: boolean): SegmentFile {
  const mapped = mode === 'mmap' && nativeAddon !== null;
  // Before the file is opened: taking it renames another file to `path`.
  let prepared = mapped && size === 0 ? takeNextSegment(path, capacity, mlock) : null;
  let file: CachedFile | null = null;
  try {
    file = logDescriptors.file(path, true);
    if (!mapped) return new WrittenSegmentFile(file, size ?? file.use((fd) => fstatSync(fd).size));
    const { length, valid } = file.use((fd) => dataEnd(fd, size));
    const region = prepared;
    prepared = null;
    return new MappedSegmentFile(file, valid, region, region ? capacity : Math.max(capacity, valid), region ? capacity : length, capacity, mlock);
  } catch (e) {
    if (prepared) nativeAddon!.unmap(prepared);
    file?.close();
    throw e;
  }
}

/**
 * A mapped segment file's length, and where its data ends at most (`size` when the caller
 * knows). A kill leaves a mapped segment's file as long as its mapping and sparse past its data
 * (and the zeros written ahead of it), so its first hole bounds what a recovery reads: a read
 * into the holes had the kernel read ahead around the miss and fill page cache with zeros, which took half of a restart of 30,000 partitions.
 * A recovery would stop at a hole anyway: it reads as zeros, which end the batches.
 */
function dataEnd(fd: number, size: number | null): { length: number; valid: number } {
  const length = fstatSync(fd).size;
  return { length, valid: size ?? (length > 0 ? nativeAddon!.seekHole(fd, 0) : 0) };
}

/**
 * The first span of `file` in [from, end) that may hold data, skipping holes; null when only
 * holes are left. Without the native addon the whole range may. Reading a hole would have the
 * kernel fill page cache with its zeros (see dataEnd).
 */
export function nextDataSpan(file: CachedFile, from: number, end: number): { start: number; end: number } | null {
  if (from >= end) return null;
  const addon = nativeAddon;
  if (!addon) return { start: from, end };
  return file.use((fd) => {
    const start = addon.seekData(fd, from);
    return start < 0 || start >= end ? null : { start, end: Math.min(end, addon.seekHole(fd, start)) };
  });
}

/** Opens a finished segment's data file for reading and truncation only. */
export function openSealedSegmentFile(path: string, size: number | null): SegmentFile {
  return openSegmentFile(path, 'write', size, 0, false);
}
