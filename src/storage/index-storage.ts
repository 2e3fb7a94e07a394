import { fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import { nativeAddon } from '../native/addon.js';
import { logDescriptors, type CachedFile } from './descriptor-cache.js';
import { syncFile } from './segment-file.js';

export type IndexMode = 'heap' | 'mmap';

/**
 * The bytes of one index file, held in memory and kept in step with the file. Two kinds behind
 * one interface: a heap Buffer written to the file when the segment flushes, seals or closes
 * (as fast to search as a mapping, unable to crash the process, and needing no descriptor in
 * between), or a shared mmap of a preallocated file (Kafka's way). Readers use `bytes`
 * directly; only `used` bytes hold entries. Entries not yet on disk when the process dies are
 * rebuilt by recovery, which checks every segment past the recovery point.
 */
export interface IndexStorage {
  readonly mode: IndexMode;
  /** The index file under the descriptor budget. */
  readonly file: CachedFile;
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
  /** Releases the file without writing to it: it is being deleted. */
  discard(): void;
}

/** Room for this many bytes of entries at first: most segments of an idle partition hold few. */
const INITIAL_HEAP_BYTES = 96;

class HeapIndexStorage implements IndexStorage {
  readonly mode = 'heap' as const;
  bytes: Buffer;
  used: number;
  /** Leading bytes of `bytes` known to be in the file as they are here. */
  private persisted: number;
  /** The file's length. */
  private fileLength: number;

  constructor(
    readonly file: CachedFile,
    initial: Buffer,
  ) {
    this.bytes = Buffer.allocUnsafe(Math.max(INITIAL_HEAP_BYTES, initial.length));
    initial.copy(this.bytes);
    this.used = this.persisted = this.fileLength = initial.length;
  }

  write(data: Buffer): void {
    if (this.used + data.length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + data.length));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    data.copy(this.bytes, this.used);
    this.used += data.length;
  }

  truncate(size: number): void {
    this.used = Math.min(this.used, size);
    this.persisted = Math.min(this.persisted, this.used);
  }

  /** Makes the file hold exactly the entries. */
  private persist(fd: number): void {
    if (this.fileLength > this.used) ftruncateSync(fd, this.used);
    for (let at = this.persisted; at < this.used; ) at += writeSync(fd, this.bytes, at, this.used - at, at);
    this.persisted = this.fileLength = this.used;
  }

  sync(): Promise<void> {
    return syncFile(this.file, (fd) => this.persist(fd));
  }

  /** Writes the entries out now: a sealed segment's files are complete before its next flush. */
  seal(): IndexStorage {
    try {
      this.persistIfBehind();
    } catch {
      // A full disk must not fail the roll that seals: the entries stay here, and the next
      // flush or close writes them or fails (so no clean-shutdown marker trusts them).
    }
    return this;
  }

  close(): void {
    this.persistIfBehind();
    this.file.close();
  }

  private persistIfBehind(): void {
    if (this.persisted !== this.used || this.fileLength !== this.used) this.file.use((fd) => this.persist(fd));
  }

  discard(): void {
    this.file.close();
  }
}

class MappedIndexStorage implements IndexStorage {
  readonly mode = 'mmap' as const;
  private readonly mapping: ArrayBuffer;
  readonly bytes: Buffer;
  used: number;

  constructor(
    readonly file: CachedFile,
    used: number,
    capacity: number,
  ) {
    // Reserved up front, as for mapped segments: a full disk fails here instead of raising SIGBUS.
    this.mapping = file.use((fd) => {
      nativeAddon!.fallocate(fd, 0, capacity);
      return nativeAddon!.mmap(fd, capacity, true);
    });
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
    return syncFile(this.file);
  }

  seal(): IndexStorage {
    const entries = Buffer.from(this.bytes.subarray(0, this.used));
    this.trim();
    return new HeapIndexStorage(this.file, entries);
  }

  close(): void {
    this.trim();
    this.file.close();
  }

  discard(): void {
    nativeAddon!.unmap(this.mapping);
    this.file.close();
  }

  private trim(): void {
    // Unmap before trimming: touching a mapping past the end of its file raises SIGBUS.
    nativeAddon!.unmap(this.mapping);
    this.file.use((fd) => ftruncateSync(fd, this.used));
  }
}

/**
 * Opens an index file with room for `maxEntries`. Only whole entries are kept (a torn tail is
 * dropped); mmap falls back to heap without the addon.
 */
export function openIndexStorage(path: string, mode: IndexMode, maxEntries: number, entrySize: number): IndexStorage {
  const file = logDescriptors.file(path, true);
  try {
    return file.use((fd) => {
      const size = fstatSync(fd).size;
      const used = size - (size % entrySize);
      if (mode === 'mmap' && nativeAddon) return new MappedIndexStorage(file, used, Math.max(maxEntries * entrySize, used));
      const existing = Buffer.allocUnsafe(used);
      for (let at = 0; at < used; ) {
        const n = readSync(fd, existing, at, used - at, at);
        if (n === 0) throw new Error(`${path} shrank while being read`);
        at += n;
      }
      if (size !== used) ftruncateSync(fd, used);
      return new HeapIndexStorage(file, existing);
    });
  } catch (e) {
    file.close();
    throw e;
  }
}
