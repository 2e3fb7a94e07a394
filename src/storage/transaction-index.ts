import { fstatSync, ftruncateSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { logDescriptors, type CachedFile } from './descriptor-cache.js';
import { listedOrExists, type Listing } from './directory-listing.js';
import { readInt64, writeInt64 } from './int64.js';
import { syncFile } from './segment-file.js';
import { readBigInt64, writeBigInt64 } from '../protocol/primitives/int64.js';

/** One aborted transaction, as a read_committed consumer needs it (Kafka's AbortedTxn). */
export interface AbortedTxn {
  producerId: bigint;
  /** The transaction's first record in this partition. */
  firstOffset: number;
  /** Its ABORT marker. */
  lastOffset: number;
  /** The last stable offset once it was aborted. */
  lastStableOffset: number;
}

/** Kafka's .txnindex entry: version int16 (0), producer id int64, first, last and last stable offset int64. */
const ENTRY_SIZE = 34;
const VERSION = 0;

/**
 * A segment's `.txnindex` in Kafka's layout: the transactions aborted in it, by the offset of
 * their ABORT marker, appended as markers are. Fetch answers read_committed consumers with the
 * ones their records overlap, so they can drop those records. Most segments never hold one:
 * the file is made with the first entry. Entries are kept in memory as well (they are few).
 */
export class TransactionIndex {
  private entries: AbortedTxn[] = [];
  private file: CachedFile | null = null;

  constructor(
    private path: string,
    /** The directory's listing, when the caller has one. */
    present?: Listing,
  ) {
    if (!listedOrExists(path, present)) return;
    this.file = logDescriptors.file(path, false);
    this.entries = this.file.use((fd) => {
      const size = fstatSync(fd).size;
      const bytes = Buffer.allocUnsafe(size - (size % ENTRY_SIZE));
      for (let at = 0; at < bytes.length; ) at += readSync(fd, bytes, at, bytes.length - at, at);
      const out: AbortedTxn[] = [];
      for (let at = 0; at < bytes.length; at += ENTRY_SIZE) {
        // An entry of another version is not one this index can read: it ends the index, as a torn tail would.
        if (bytes.readInt16BE(at) !== VERSION) break;
        out.push({ producerId: readBigInt64(bytes, at + 2), firstOffset: readInt64(bytes, at + 10), lastOffset: readInt64(bytes, at + 18), lastStableOffset: readInt64(bytes, at + 26) });
      }
      if (out.length * ENTRY_SIZE !== size) ftruncateSync(fd, out.length * ENTRY_SIZE);
      return out;
    });
  }

  get all(): readonly AbortedTxn[] {
    return this.entries;
  }

  /** Records an aborted transaction; one already here (a replay of its marker) is not added twice. */
  append(txn: AbortedTxn): void {
    const last = this.entries.at(-1);
    if (last && last.lastOffset >= txn.lastOffset) return;
    const bytes = Buffer.alloc(ENTRY_SIZE);
    bytes.writeInt16BE(VERSION, 0);
    writeBigInt64(bytes, txn.producerId, 2);
    writeInt64(bytes, txn.firstOffset, 10);
    writeInt64(bytes, txn.lastOffset, 18);
    writeInt64(bytes, txn.lastStableOffset, 26);
    this.file ??= logDescriptors.file(this.path, true);
    const at = this.entries.length * ENTRY_SIZE;
    this.file.use((fd) => {
      for (let done = 0; done < ENTRY_SIZE; ) done += writeSync(fd, bytes, done, ENTRY_SIZE - done, at + done);
    });
    this.entries.push(txn);
  }

  /** The aborted transactions that overlap [fromOffset, upToOffset). */
  overlapping(fromOffset: number, upToOffset: number, into: AbortedTxn[]): void {
    for (const t of this.entries) if (t.lastOffset >= fromOffset && t.firstOffset < upToOffset) into.push(t);
  }

  /** Drops the transactions whose marker is at or after `offset` (the log was cut there). */
  truncateTo(offset: number): void {
    const keep = this.entries.filter((t) => t.lastOffset < offset);
    if (keep.length === this.entries.length) return;
    this.entries = keep;
    this.file?.use((fd) => ftruncateSync(fd, keep.length * ENTRY_SIZE));
  }

  sync(): Promise<void> {
    return this.file ? syncFile(this.file) : Promise.resolve();
  }

  /** Follows its segment's files through a compaction swap or a deletion. */
  rename(path: string): void {
    if (this.file) renameSync(this.path, path);
    if (this.file) this.file.path = path;
    this.path = path;
  }

  close(): void {
    this.file?.close();
  }

  /** Gone with its segment. */
  delete(): void {
    this.file?.close();
    rmSync(this.path, { force: true });
  }
}
