import type { IndexStorage } from './index-storage.js';
import { readInt64, writeInt64 } from './int64.js';

/**
 * The sparse indexes of a segment in Kafka's layouts, searched by binary search for the
 * greatest entry at or below a key. Entries are appended in increasing key order.
 */
abstract class SortedIndex {
  protected readonly entry: Buffer;

  constructor(
    public storage: IndexStorage,
    readonly baseOffset: number,
    readonly entrySize: number,
  ) {
    this.entry = Buffer.alloc(entrySize);
  }

  get entries(): number {
    return Math.floor(this.storage.used / this.entrySize);
  }

  protected abstract keyAt(i: number): number;

  /** The index of the greatest entry whose key is <= key, or -1. */
  protected floor(key: number): number {
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keyAt(mid) <= key) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  protected appendEntry(): void {
    this.storage.write(this.entry);
  }

  /** Keeps only the entries whose key is below `key`. */
  protected truncateFromKey(key: number): void {
    const keep = this.floor(key - 1) + 1;
    this.storage.truncate(keep * this.entrySize);
  }

  clear(): void {
    this.storage.truncate(0);
  }

  sync(): Promise<void> {
    return this.storage.sync();
  }

  /** No more entries will come: see IndexStorage.seal. */
  seal(): void {
    this.storage = this.storage.seal();
  }

  close(): void {
    this.storage.close();
  }

  discard(): void {
    this.storage.discard();
  }
}

/** `.index`: 8-byte entries of relative offset (int32) and file position (int32). */
export class OffsetIndex extends SortedIndex {
  static readonly ENTRY_SIZE = 8;

  constructor(storage: IndexStorage, baseOffset: number) {
    super(storage, baseOffset, OffsetIndex.ENTRY_SIZE);
  }

  protected keyAt(i: number): number {
    return this.storage.bytes.readInt32BE(i * 8);
  }

  get lastOffset(): number {
    const n = this.entries;
    return n === 0 ? this.baseOffset : this.baseOffset + this.keyAt(n - 1);
  }

  append(offset: number, position: number): void {
    this.entry.writeInt32BE(offset - this.baseOffset, 0);
    this.entry.writeInt32BE(position, 4);
    this.appendEntry();
  }

  /** The file position to start scanning from for `offset`: at or before its batch. */
  lookup(offset: number): number {
    const i = this.floor(offset - this.baseOffset);
    return i < 0 ? 0 : this.storage.bytes.readInt32BE(i * 8 + 4);
  }

  truncateTo(offset: number): void {
    this.truncateFromKey(offset - this.baseOffset);
  }
}

/** `.timeindex`: 12-byte entries of timestamp (int64) and relative offset (int32). */
export class TimeIndex extends SortedIndex {
  static readonly ENTRY_SIZE = 12;

  constructor(storage: IndexStorage, baseOffset: number) {
    super(storage, baseOffset, TimeIndex.ENTRY_SIZE);
  }

  protected keyAt(i: number): number {
    return readInt64(this.storage.bytes, i * 12);
  }

  get lastTimestamp(): number {
    const n = this.entries;
    return n === 0 ? -1 : this.keyAt(n - 1);
  }

  get lastEntryOffset(): number {
    const n = this.entries;
    return n === 0 ? this.baseOffset : this.baseOffset + this.storage.bytes.readInt32BE((n - 1) * 12 + 8);
  }

  /** Appends only when the timestamp moves forward, keeping the index monotonic. */
  maybeAppend(timestamp: number, offset: number): void {
    if (this.entries > 0 && timestamp <= this.lastTimestamp) return;
    writeInt64(this.entry, timestamp, 0);
    this.entry.writeInt32BE(offset - this.baseOffset, 8);
    this.appendEntry();
  }

  /**
   * The offset to start scanning from for the first record at or after `timestamp`. An entry
   * (T, O) says no record up to O is later than T, so the scan may start at the last entry
   * with T below the target.
   */
  lookup(timestamp: number): number {
    const i = this.floor(timestamp - 1);
    return i < 0 ? this.baseOffset : this.baseOffset + this.storage.bytes.readInt32BE(i * 12 + 8);
  }

  /** Drops entries pointing at `offset` or later. */
  truncateTo(offset: number): void {
    let keep = this.entries;
    while (keep > 0 && this.baseOffset + this.storage.bytes.readInt32BE((keep - 1) * 12 + 8) >= offset) keep--;
    this.storage.truncate(keep * 12);
  }
}
