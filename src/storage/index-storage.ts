import { closeSync, constants, fdatasync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { nativeAddon } from '../native/addon.js';

export type IndexMode = 'heap' | 'mmap';

/**
 * The bytes of one index file, held in memory and kept in step with the file. Two kinds behind
 * one interface: a heap Buffer written through to the file with positional writes (as fast to
 * search as a mapping and unable to crash the process), or a shared mmap of a preallocated file
 * (Kafka's way). Readers use `bytes` directly; only `used` bytes hold entries.
 */
export interface IndexStorage {
  readonly mode: IndexMode;
  readonly bytes: Buffer;
  readonly used: number;
  write(data: Buffer): void;
  /** Drops entries past `size` bytes. */
  truncate(size: number): void;
  sync(): Promise<void>;
  /**
   * The storage for an index that takes no more entries: a mapping is trimmed to its entries
   * and becomes a heap copy, so no preallocated zeros outlive the active segment.
   */
  seal(): IndexStorage;
  /** Trims the file to its entries and releases it. */
  close(): void;
}

class HeapIndexStorage implements IndexStorage {
  readonly mode = 'heap' as const;
  bytes: Buffer;
  used: number;

  constructor(
    private readonly fd: number,
    initial: Buffer,
  ) {
    this.bytes = Buffer.allocUnsafe(Math.max(4096, initial.length * 2));
    initial.copy(this.bytes);
    this.used = initial.length;
  }

  write(data: Buffer): void {
    if (this.used + data.length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + data.length));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    data.copy(this.bytes, this.used);
    writeSync(this.fd, data, 0, data.length, this.used);
    this.used += data.length;
  }

  truncate(size: number): void {
    this.used = Math.min(this.used, size);
    ftruncateSync(this.fd, this.used);
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  seal(): IndexStorage {
    return this;
  }

  close(): void {
    closeSync(this.fd);
  }
}

class MappedIndexStorage implements IndexStorage {
  readonly mode = 'mmap' as const;
  private readonly mapping: ArrayBuffer;
  readonly bytes: Buffer;
  used: number;

  constructor(
    private readonly fd: number,
    used: number,
    capacity: number,
  ) {
    ftruncateSync(fd, capacity);
    this.mapping = nativeAddon!.mmap(fd, capacity, true);
    this.bytes = Buffer.from(this.mapping);
    this.used = used;
  }

  write(data: Buffer): void {
    if (this.used + data.length > this.bytes.length) throw new Error('index file is full');
    data.copy(this.bytes, this.used);
    this.used += data.length;
  }

  truncate(size: number): void {
    this.used = Math.min(this.used, size);
    this.bytes.fill(0, this.used);
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  seal(): IndexStorage {
    const entries = Buffer.from(this.bytes.subarray(0, this.used));
    this.trim();
    return new HeapIndexStorage(this.fd, entries);
  }

  close(): void {
    this.trim();
    closeSync(this.fd);
  }

  private trim(): void {
    // Unmap before trimming: touching a mapping past the end of its file raises SIGBUS.
    nativeAddon!.unmap(this.mapping);
    ftruncateSync(this.fd, this.used);
  }
}

/**
 * Opens an index file with room for `maxEntries`. Only whole entries are kept (a torn tail is
 * dropped); mmap falls back to heap without the addon.
 */
export function openIndexStorage(path: string, mode: IndexMode, maxEntries: number, entrySize: number): IndexStorage {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const size = fstatSync(fd).size;
    const used = size - (size % entrySize);
    if (mode === 'mmap' && nativeAddon) return new MappedIndexStorage(fd, used, Math.max(maxEntries * entrySize, used));
    const existing = Buffer.allocUnsafe(used);
    for (let at = 0; at < used; ) {
      const n = readSync(fd, existing, at, used - at, at);
      if (n === 0) throw new Error(`${path} shrank while being read`);
      at += n;
    }
    if (size !== used) ftruncateSync(fd, used);
    return new HeapIndexStorage(fd, existing);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
