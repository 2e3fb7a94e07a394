import { fdatasync, fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { nativeAddon } from '../native/addon.js';
import { logDescriptors, type CachedFile } from './descriptor-cache.js';
import type { AppendMode } from './log-config.js';
import { adoptNextSegment, dropNextSegment, prepareNextSegment, takeNextSegment } from './next-segment.js';

/**
 * The `.log` file of a segment. Appends go into the page cache either by positional write
 * (Kafka) or by copying into a preallocated, pre-touched shared mapping (RocketMQ); reads for
 * scanning always go through the file descriptor, which also serves sendfile.
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
  /** Reads up to `length` bytes at `position` into `into`; returns how many were read. */
  read(into: Buffer, length: number, position: number): number;
  truncate(size: number): void;
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

  read(into: Buffer, length: number, position: number): number {
    return this.file.use((fd) => readSync(fd, into, 0, Math.min(length, this.size - position), position));
  }

  truncate(size: number): void {
    this.file.use((fd) => ftruncateSync(fd, size));
    this.size = size;
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
 * less than faulting in the four or more pages they cover, one at a time. Smaller appends share
 * each fault with the next ones, and copy.
 */
const COLD_WRITE_BYTES = 16 * 1024;

/**
 * Appends copy into a shared mapping of the whole segment. The mapping comes warm from
 * next-segment.ts when a roll finds one prepared, and appends are a memcpy. Otherwise it is
 * mapped cold, and large appends go in by positional write: faulting pages in through the
 * mapping costs several times what write(2) spends on the same bytes (docs/zero-copy.md), and
 * the page cache behind both is the same, so the mapping sees them. The segment's first append
 * starts the preparation of its successor.
 */
class MappedSegmentFile implements SegmentFile {
  readonly mode = 'mmap' as const;
  private mapping: ArrayBuffer | null;
  private view: Buffer;
  private successorRequested = false;

  constructor(
    readonly file: CachedFile,
    public size: number,
    mapping: ArrayBuffer,
    /** Every page was touched before the first append (a prepared next segment). */
    private readonly warm: boolean,
    private readonly segmentBytes: number,
    private readonly mlock: boolean,
  ) {
    this.mapping = mapping;
    this.view = Buffer.from(mapping);
    adoptNextSegment(dirname(file.path), this);
  }

  get capacity(): number {
    return this.view.length;
  }

  append(data: Buffer): void {
    if (this.size + data.length > this.view.length) throw new Error('mapped segment is full');
    // Not before: a partition that is never written to holds no second segment of page cache.
    if (!this.successorRequested) {
      this.successorRequested = true;
      prepareNextSegment(dirname(this.file.path), this.segmentBytes, this.mlock, this);
    }
    if (this.warm || data.length < COLD_WRITE_BYTES) data.copy(this.view, this.size);
    // Not cut back by truncation: the mapping must stay inside its file.
    else this.file.use((fd) => writeAllAt(fd, data, this.size, (written) => this.view.fill(0, this.size, this.size + written)));
    this.size += data.length;
  }

  read(into: Buffer, length: number, position: number): number {
    const n = Math.max(0, Math.min(length, this.size - position));
    if (this.mapping) this.view.copy(into, 0, position, position + n);
    else return this.file.use((fd) => readSync(fd, into, 0, n, position));
    return n;
  }

  truncate(size: number): void {
    if (this.mapping) this.view.fill(0, size, this.size);
    else this.file.use((fd) => ftruncateSync(fd, size));
    this.size = size;
  }

  sync(): Promise<void> {
    // fdatasync also writes back pages dirtied through a shared mapping, and runs on the
    // threadpool, where msync would block the event loop.
    return syncFile(this.file);
  }

  seal(): void {
    dropNextSegment(dirname(this.file.path), this);
    if (!this.mapping) return;
    // Unmap before trimming: a mapping that reaches past the end of its file raises SIGBUS.
    nativeAddon!.unmap(this.mapping);
    this.mapping = null;
    this.view = Buffer.alloc(0);
    this.file.use((fd) => ftruncateSync(fd, this.size));
  }

  close(): void {
    this.seal();
    this.file.close();
  }

  abandon(): void {
    dropNextSegment(dirname(this.file.path), this);
    if (this.mapping) nativeAddon!.unmap(this.mapping);
    this.mapping = null;
    this.view = Buffer.alloc(0);
    this.file.close();
  }
}

/**
 * Maps `capacity` bytes of `file` on the event loop, without faulting any in (which would take
 * as long as writing them). Blocks are reserved first: on a full disk, a page of a sparse file
 * first touched through the mapping would raise SIGBUS and end the process.
 */
function mapCold(file: CachedFile, capacity: number, mlock: boolean): ArrayBuffer {
  const addon = nativeAddon!;
  const mapping = file.use((fd) => {
    addon.fallocate(fd, 0, capacity);
    return addon.mmap(fd, capacity, true);
  });
  try {
    addon.madvise(mapping, 0, capacity, 'sequential');
    if (mlock) addon.mlock(mapping, 0, capacity, true);
  } catch (e) {
    addon.unmap(mapping);
    throw e;
  }
  return mapping;
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
    const valid = size ?? file.use((fd) => fstatSync(fd).size);
    if (!mapped) return new WrittenSegmentFile(file, valid);
    const warm = prepared !== null;
    const mapping = prepared ?? mapCold(file, Math.max(capacity, valid), mlock);
    prepared = null;
    return new MappedSegmentFile(file, valid, mapping, warm, capacity, mlock);
  } catch (e) {
    if (prepared) nativeAddon!.unmap(prepared);
    file?.close();
    throw e;
  }
}

/** Opens a finished segment's data file for reading and truncation only. */
export function openSealedSegmentFile(path: string, size: number | null): SegmentFile {
  return openSegmentFile(path, 'write', size, 0, false);
}
