import { closeSync, constants, fdatasync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const datasync = promisify(fdatasync);

interface Segment {
  /** The log position of its first byte. */
  base: number;
  fd: number;
  size: number;
  path: string;
}

/**
 * An append-only log of byte entries split into files named by the position of their first
 * byte, so that positions stay valid forever while fully consumed files are deleted from the
 * front. An entry never straddles two files.
 */
export class SegmentedLog {
  private readonly segments: Segment[] = [];
  /** Segments written since the last sync: a roll leaves the previous one unsynced. */
  private readonly unsynced = new Set<Segment>();

  /**
   * Opens the log in `dir`, its last file cut to `validSize(size)` bytes: what a crash may have
   * left half-written at the end is dropped before anything is appended after it.
   */
  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly segmentBytes: number,
    validSize: (size: number) => number = (size) => size,
  ) {
    mkdirSync(dir, { recursive: true });
    const pattern = new RegExp(`^${name}-(\\d{20})\\.seg$`);
    const bases = readdirSync(dir)
      .map((f) => pattern.exec(f))
      .flatMap((m) => (m ? [Number(m[1])] : []))
      .sort((a, b) => a - b);
    for (const base of bases) this.segments.push(this.openSegment(base));
    const last = this.segments.at(-1);
    if (last) {
      const size = validSize(last.size);
      if (size !== last.size) ftruncateSync(last.fd, size);
      last.size = size;
    } else {
      this.segments.push(this.openSegment(0));
    }
  }

  private openSegment(base: number): Segment {
    const path = join(this.dir, `${this.name}-${String(base).padStart(20, '0')}.seg`);
    // Not 'a': Linux ignores the position of writes to a file opened for appending.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT);
    return { base, fd, size: fstatSync(fd).size, path };
  }

  /** The position the next entry goes to. */
  get end(): number {
    const last = this.segments.at(-1)!;
    return last.base + last.size;
  }

  /** The first position still held. */
  get start(): number {
    return this.segments[0].base;
  }

  /** Appends one entry; returns its position. */
  append(entry: Buffer): number {
    let last = this.segments.at(-1)!;
    if (last.size > 0 && last.size + entry.length > this.segmentBytes) {
      last = this.openSegment(last.base + last.size);
      this.segments.push(last);
    }
    const pos = last.base + last.size;
    writeAll(last.fd, entry, last.size);
    last.size += entry.length;
    this.unsynced.add(last);
    return pos;
  }

  /** Overwrites bytes of an entry already written (a link repaired after a crash). */
  overwrite(pos: number, bytes: Buffer): void {
    const s = this.segmentAt(pos);
    writeAll(s.fd, bytes, pos - s.base);
    this.unsynced.add(s);
  }

  /** Reads `into.length` bytes at `pos` (fewer at the end of a file); returns how many. */
  read(pos: number, into: Buffer): number {
    const s = this.segmentAt(pos);
    const length = Math.min(into.length, s.base + s.size - pos);
    let done = 0;
    while (done < length) {
      const n = readSync(s.fd, into, done, length - done, pos - s.base + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** The files' starting positions and ends, oldest first. */
  files(): { base: number; end: number }[] {
    return this.segments.map((s) => ({ base: s.base, end: s.base + s.size }));
  }

  /** Deletes the files that end at or before `pos`; the file being appended to stays. */
  deleteBefore(pos: number): number {
    let deleted = 0;
    while (this.segments.length > 1 && this.segments[0].base + this.segments[0].size <= pos) {
      const s = this.segments.shift()!;
      this.unsynced.delete(s);
      closeSync(s.fd);
      unlinkSync(s.path);
      deleted++;
    }
    return deleted;
  }

  /** Makes everything appended so far durable. */
  async sync(): Promise<void> {
    const pending = [...this.unsynced];
    this.unsynced.clear();
    await Promise.all(pending.map((s) => datasync(s.fd)));
  }

  close(): void {
    for (const s of this.segments) closeSync(s.fd);
    this.segments.length = 0;
  }

  private segmentAt(pos: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].base <= pos) lo = mid;
      else hi = mid - 1;
    }
    const s = this.segments[lo];
    if (pos < s.base || pos > s.base + s.size) throw new RangeError(`position ${pos} is not in the ${this.name} log [${this.start}, ${this.end})`);
    return s;
  }
}

function writeAll(fd: number, bytes: Buffer, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}
