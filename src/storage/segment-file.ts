import { closeSync, constants, fdatasync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { nativeAddon } from '../native/addon.js';
import type { AppendMode } from './log-config.js';

/**
 * The `.log` file of a segment. Appends go into the page cache either by positional write
 * (Kafka) or by copying into a preallocated, pre-touched shared mapping (RocketMQ); reads for
 * scanning always go through the file descriptor, which also serves sendfile.
 */
export interface SegmentFile {
  readonly mode: AppendMode;
  readonly fd: number;
  /** Bytes of data; in mmap mode the file itself is larger until it is trimmed. */
  readonly size: number;
  append(data: Buffer): void;
  /** Reads up to `length` bytes at `position` into `into`; returns how many were read. */
  read(into: Buffer, length: number, position: number): number;
  truncate(size: number): void;
  sync(): Promise<void>;
  /** Trims preallocated space: the segment takes no more appends. */
  seal(): void;
  close(): void;
}

function syncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

class WrittenSegmentFile implements SegmentFile {
  readonly mode = 'write' as const;

  constructor(
    readonly fd: number,
    public size: number,
  ) {}

  append(data: Buffer): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, this.size + done);
    this.size += data.length;
  }

  read(into: Buffer, length: number, position: number): number {
    return readSync(this.fd, into, 0, Math.min(length, this.size - position), position);
  }

  truncate(size: number): void {
    ftruncateSync(this.fd, size);
    this.size = size;
  }

  sync(): Promise<void> {
    return syncFd(this.fd);
  }

  seal(): void {}

  close(): void {
    closeSync(this.fd);
  }
}

/** Pre-touch in steps of this size, each a bounded stretch of work. */
const WARM_CHUNK = 4 * 1024 * 1024;

class MappedSegmentFile implements SegmentFile {
  readonly mode = 'mmap' as const;
  private mapping: ArrayBuffer | null;
  private view: Buffer;

  constructor(
    readonly fd: number,
    public size: number,
    capacity: number,
    mlock: boolean,
  ) {
    const addon = nativeAddon!;
    ftruncateSync(fd, capacity);
    this.mapping = addon.mmap(fd, capacity, true);
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
    else return readSync(this.fd, into, 0, n, position);
    return n;
  }

  truncate(size: number): void {
    if (this.mapping) this.view.fill(0, size, this.size);
    else ftruncateSync(this.fd, size);
    this.size = size;
  }

  sync(): Promise<void> {
    // fdatasync also writes back pages dirtied through a shared mapping, and runs on the
    // threadpool, where msync would block the event loop.
    return syncFd(this.fd);
  }

  seal(): void {
    if (!this.mapping) return;
    // Unmap before trimming: a mapping that reaches past the end of its file raises SIGBUS.
    nativeAddon!.unmap(this.mapping);
    this.mapping = null;
    this.view = Buffer.alloc(0);
    ftruncateSync(this.fd, this.size);
  }

  close(): void {
    this.seal();
    closeSync(this.fd);
  }
}

/**
 * Opens a segment's data file holding `size` valid bytes. mmap mode maps `capacity` bytes for
 * appends and needs the native addon: without it, the file is written in write mode instead.
 */
export function openSegmentFile(path: string, mode: AppendMode, size: number | null, capacity: number, mlock: boolean): SegmentFile {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const valid = size ?? fstatSync(fd).size;
    if (mode === 'mmap' && nativeAddon) return new MappedSegmentFile(fd, valid, Math.max(capacity, valid), mlock);
    return new WrittenSegmentFile(fd, valid);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Opens a finished segment's data file for reading and truncation only. */
export function openSealedSegmentFile(path: string, size: number | null): SegmentFile {
  return openSegmentFile(path, 'write', size, 0, false);
}
