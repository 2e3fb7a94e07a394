import { closeSync, constants, fdatasync, fdatasyncSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32c } from '../protocol/records/crc32c.js';

/**
 * Where delivery stands, rewritten whole (write, rename) when a slot is done: every entry
 * due before `cursorMs` is in its topic, and the deliverer's next sequence per partition.
 */
export interface DeliveryCheckpoint {
  cursorMs: number;
  /** The deliverer's idempotent producer id, as a decimal string (-1 before it has one). */
  producerId: string;
  /** Next sequence by `topic\u0000partition`. */
  sequences: Record<string, number>;
}

/** A batch about to be appended to a partition: its sequences and the timer entries it holds. */
export interface DeliveryIntent {
  kind: 'intent';
  topic: string;
  partition: number;
  producerId: string;
  baseSequence: number;
  positions: number[];
}

export interface DeliveryDone {
  kind: 'done';
  producerId: string;
  topic: string;
  partition: number;
  baseSequence: number;
}

type JournalRecord = DeliveryIntent | DeliveryDone;

export const sequenceKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * The deliverer's write-ahead journal since the last checkpoint: an intent before each append
 * to a partition, a done marker after it is durable. After a crash, an intent without its
 * marker is appended again with the same producer id and sequences, which the partition's own
 * duplicate detection answers as a duplicate if the first try had got in. Each record is
 * framed [length u32][crc32c u32][JSON], so a torn last record is recognised and dropped.
 *
 * Each checkpoint starts a new journal file, named by the checkpoint's cursor, and deletes the
 * old one: no truncation, and no fsync on the event loop (they stall it for hundreds of
 * milliseconds on a busy disk).
 */
export class DeliveryJournal {
  private readonly checkpointPath: string;
  private fd = -1;
  private path = '';
  private end = 0;

  constructor(
    private readonly dir: string,
    /** fdatasync intents and checkpoints: what sluice.log.flush.mode=sync asks of the logs. */
    private readonly syncWrites: boolean,
  ) {
    this.checkpointPath = join(dir, 'delivery.checkpoint');
  }

  readCheckpoint(): DeliveryCheckpoint | null {
    try {
      return JSON.parse(readFileSync(this.checkpointPath, 'utf8')) as DeliveryCheckpoint;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Opens the journal that follows the checkpoint at `cursorMs` and returns its records, up to
   * the first torn one, which is cut off. Journals of other checkpoints are left-overs of a
   * crash during a checkpoint and go.
   */
  open(cursorMs: number): JournalRecord[] {
    this.openFile(cursorMs);
    for (const f of readdirSync(this.dir)) if (JOURNAL.test(f) && join(this.dir, f) !== this.path) unlinkSync(join(this.dir, f));
    const bytes = readFileSync(this.path);
    const records: JournalRecord[] = [];
    let at = 0;
    while (at + 8 <= bytes.length) {
      const length = bytes.readUInt32BE(at);
      const body = bytes.subarray(at + 8, at + 8 + length);
      if (body.length !== length || crc32c(body) !== bytes.readUInt32BE(at + 4)) break;
      records.push(JSON.parse(body.toString()) as JournalRecord);
      at += 8 + length;
    }
    if (at !== bytes.length) ftruncateSync(this.fd, at);
    this.end = at;
    return records;
  }

  /** Writes a record; with syncWrites the promise settles once it is on disk. */
  append(record: JournalRecord): Promise<void> {
    const body = Buffer.from(JSON.stringify(record));
    const framed = Buffer.allocUnsafe(8 + body.length);
    framed.writeUInt32BE(body.length, 0);
    framed.writeUInt32BE(crc32c(body), 4);
    body.copy(framed, 8);
    let done = 0;
    while (done < framed.length) done += writeSync(this.fd, framed, done, framed.length - done, this.end + done);
    this.end += framed.length;
    return this.syncWrites ? datasync(this.fd) : Promise.resolve();
  }

  /**
   * The first checkpoint of a new store, before anything is held: without it a restart would
   * start delivering at its own time and pass over what fell due in between.
   */
  initialize(c: DeliveryCheckpoint): void {
    const fd = this.writeCheckpointFile(c);
    try {
      if (this.syncWrites) fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${this.checkpointPath}.tmp`, this.checkpointPath);
  }

  /** A new checkpoint, and a new journal after it: the old journal's records are covered. */
  async checkpoint(c: DeliveryCheckpoint): Promise<void> {
    const old = { fd: this.fd, path: this.path };
    this.openFile(c.cursorMs);
    const fd = this.writeCheckpointFile(c);
    try {
      if (this.syncWrites) await datasync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${this.checkpointPath}.tmp`, this.checkpointPath);
    closeSync(old.fd);
    unlinkSync(old.path);
  }

  /** Writes the checkpoint beside the current one; returns the open file. */
  private writeCheckpointFile(c: DeliveryCheckpoint): number {
    const fd = openSync(`${this.checkpointPath}.tmp`, 'w');
    writeSync(fd, JSON.stringify(c));
    return fd;
  }

  close(): void {
    closeSync(this.fd);
  }

  private openFile(cursorMs: number): void {
    this.path = join(this.dir, `delivery-${cursorMs}.journal`);
    this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT);
    this.end = 0;
  }
}

const JOURNAL = /^delivery-\d+\.journal$/;
const datasync = promisify(fdatasync);
