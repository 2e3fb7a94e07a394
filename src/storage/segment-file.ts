import { fdatasync, fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import { nativeAddon } from '../native/addon.js';
import { logDescriptors, type CachedFile } from './descriptor-cache.js';
import type { AppendMode } from './log-config.js';

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

class WrittenSegmentFile implements SegmentFile {
  readonly mode = 'write' as const;
  readonly capacity = Number.POSITIVE_INFINITY;

  constructor(
    readonly file: CachedFile,
    public size: number,
  ) {}

  append(data: Buffer): void {
    this.file.use((fd) => {
      let done = 0;
      try {
        while (done < data.length) done += writeSync(fd, data, done, data.length - done, this.size + done);
      } catch (e) {
        // A full disk can take part of the data: no torn batch may stay behind.
        if (done > 0) ftruncateSync(fd, this.size);
        throw e;
      }
    });
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

/** Pre-touch in steps of this size, each a bounded stretch of work. */
const WARM_CHUNK = 4 * 1024 * 1024;

class MappedSegmentFile implements SegmentFile {
  readonly mode = 'mmap' as const;
  private mapping: ArrayBuffer | null;
  private view: Buffer;

  constructor(
    readonly file: CachedFile,
    public size: number,
    capacity: number,
    mlock: boolean,
  ) {
    const addon = nativeAddon!;
    // Blocks reserved up front: on a full disk, a page of a sparse file first touched through
    // the mapping would raise SIGBUS and end the process.
    this.mapping = file.use((fd) => {
      addon.fallocate(fd, 0, capacity);
      return addon.mmap(fd, capacity, true);
    });
    this.view = Buffer.from(this.mapping);
    // Warm-up: fault in every page now, in chunks so that madvise's read-ahead limit does not
    // cut it short, so appends later copy into resident memory without page faults.
    addon.madvise(this.mapping, 0, capacity, 'sequential');
    for (let at = size; at < capacity; at += WARM_CHUNK) addon.pretouch(this.mapping, at, Math.min(WARM_CHUNK, capacity - at));
    if (mlock) addon.mlock(this.mapping, 0, capacity, true);
  }

  get capacity(): number {
    return this.view.length;
  }

  append(data: Buffer): void {
    if (this.size + data.length > this.view.length) throw new Error('mapped segment is full');
    data.copy(this.view, this.size);
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
    if (this.mapping) nativeAddon!.unmap(this.mapping);
    this.mapping = null;
    this.view = Buffer.alloc(0);
    this.file.close();
  }
}

/**
 * Opens a segment's data file holding `size` valid bytes. mmap mode maps `capacity` bytes for
 * appends and needs the native addon: without it, the file is written in write mode instead.
 */
export function openSegmentFile(path: string, mode: AppendMode, size: number | null, capacity: number, mlock: boolean): SegmentFile {
  const file = logDescriptors.file(path, true);
  try {
    const valid = size ?? file.use((fd) => fstatSync(fd).size);
    if (mode === 'mmap' && nativeAddon) return new MappedSegmentFile(file, valid, Math.max(capacity, valid), mlock);
    return new WrittenSegmentFile(file, valid);
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Opens a finished segment's data file for reading and truncation only. */
export function openSealedSegmentFile(path: string, size: number | null): SegmentFile {
  return openSegmentFile(path, 'write', size, 0, false);
}
