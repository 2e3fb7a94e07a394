import { closeSync, constants, openSync } from 'node:fs';
import type { LentFile } from '../native/file-transfer.js';
import { log } from '../log.js';
import { StorageError } from './storage-error.js';

/** Budget used until the broker sets one from the process's descriptor limit. */
const DEFAULT_LIMIT = 1024;

/**
 * The log files' descriptors under one budget. A file's descriptor opens when it is used and
 * stays open while the budget allows; idle ones close, least recently used first, and reopen on
 * demand. So a broker serves far more partitions than it has descriptors, and the active
 * segments of busy partitions stay open because they are used most.
 *
 * Synchronous use (an append, a scan) never waits: it may pass the budget for as long as it
 * runs, which is one descriptor at a time on the event loop. Asynchronous loans (a sendfile, an
 * fdatasync) are what can hold many descriptors at once: when every descriptor under the budget
 * is lent, the next loan waits for a release, so a request touching more files than fit is
 * served in turns instead of failing.
 */
export class DescriptorCache {
  /** Open descriptors, lent or idle. */
  open = 0;
  /** Idle open files, least recently used first (an intrusive list: no allocation per use). */
  private oldest: CachedFile | null = null;
  private newest: CachedFile | null = null;
  private readonly waiting = new Queue<() => void>();
  /** Loans woken to find the room taken again: they go before the rest, to keep their order. */
  private readonly rewaiting = new Queue<() => void>();
  readonly stats = { opened: 0, evicted: 0, waits: 0, exhausted: 0 };
  private allowed: number;

  /** `budget`: the most log files open at once (sluice.log.max.open.files). */
  constructor(public budget = DEFAULT_LIMIT) {
    this.allowed = budget;
  }

  /** What may be open now: the budget, or less while sockets hold the process's other descriptors (setLimit). */
  get limit(): number {
    return this.allowed;
  }

  /**
   * Lowers or restores what may be open now. Idle files over a lower limit close at once, so
   * their descriptors are free for whoever asked; a higher one lets waiting loans in.
   */
  setLimit(limit: number): void {
    const raised = limit > this.allowed;
    this.allowed = limit;
    this.closeIdleDownTo(limit);
    if (raised) for (let room = limit - this.open; room > 0 && this.waiters > 0; room--) this.wakeOne();
  }

  /**
   * A file under this cache: created at once when `create` is set (so that creating a segment
   * fails now, not at its first append), and opened read-write whenever it is used.
   */
  file(path: string, create: boolean): CachedFile {
    const file = new CachedFile(this, path);
    if (create) file.use(() => undefined, constants.O_CREAT);
    return file;
  }

  /** Loans waiting for a descriptor. */
  get waiters(): number {
    return this.waiting.length + this.rewaiting.length;
  }

  /** @internal A descriptor for `file`, closing idle ones to stay within the budget. */
  openFor(file: CachedFile, extraFlags: number): number {
    // The room made here is this caller's: no waiter is woken for it.
    this.closeIdleDownTo(this.allowed - 1);
    let fd: number;
    try {
      fd = openSync(file.path, constants.O_RDWR | extraFlags, 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'EMFILE' && code !== 'ENFILE') || !this.oldest) throw e;
      // Sockets and other files share the process limit: give back half of what idles here.
      this.stats.exhausted++;
      this.closeIdleDownTo(this.open - Math.max(1, Math.floor(this.idleCount() / 2)));
      log.warn({ open: this.open, limit: this.allowed, code }, 'the process ran out of descriptors: closed idle log files');
      fd = openSync(file.path, constants.O_RDWR | extraFlags, 0o644);
    }
    this.open++;
    this.stats.opened++;
    return fd;
  }

  private idleCount(): number {
    let n = 0;
    for (let f = this.oldest; f; f = f.newer) n++;
    return n;
  }

  /** Closes idle files, least recently used first, until `max` are open or none idles; no waiter is woken for the room. */
  private closeIdleDownTo(max: number): void {
    while (this.open > max && this.oldest) this.evict(this.oldest, false);
  }

  private evict(file: CachedFile, wake: boolean): void {
    this.unlinkIdle(file);
    file.closeDescriptor(wake);
    this.stats.evicted++;
  }

  /** @internal A descriptor closed for good or evicted. */
  closed(wake: boolean): void {
    this.open--;
    if (wake) this.wakeOne();
  }

  /** @internal `file` has no loans left: keep it open as the most recently used, if the budget allows. */
  idle(file: CachedFile): void {
    if (this.open > this.allowed) {
      file.closeDescriptor();
      return;
    }
    file.older = this.newest;
    file.newer = null;
    if (this.newest) this.newest.newer = file;
    else this.oldest = file;
    this.newest = file;
    this.wakeOne();
  }

  /** @internal `file` is in use again, or closing: off the idle list. */
  unlinkIdle(file: CachedFile): void {
    if (file.older) file.older.newer = file.newer;
    else if (this.oldest === file) this.oldest = file.newer;
    else return;
    if (file.newer) file.newer.older = file.older;
    else this.newest = file.older;
    file.older = file.newer = null;
  }

  /** @internal Whether a loan of a closed file can open it now without passing the budget. */
  hasRoom(): boolean {
    return this.open < this.allowed || this.oldest !== null;
  }

  /**
   * @internal Resolves when a descriptor may have come free. A loan woken only to find the
   * room taken (by synchronous use in between) waits again at the front: loans keep their order.
   */
  turn(again: boolean): Promise<void> {
    if (!again) this.stats.waits++;
    return new Promise((resolve) => (again ? this.rewaiting : this.waiting).push(resolve));
  }

  private wakeOne(): void {
    if (!this.hasRoom()) return;
    (this.rewaiting.shift() ?? this.waiting.shift())?.();
  }
}

/**
 * One file of a log under the descriptor budget. `path` follows renames (a segment being
 * deleted keeps being readable under its `.deleted` name until its delay is over).
 */
export class CachedFile implements LentFile {
  private fd = -1;
  private loans = 0;
  private finished = false;
  /** @internal Links of the cache's idle list. */
  older: CachedFile | null = null;
  newer: CachedFile | null = null;

  constructor(
    private readonly cache: DescriptorCache,
    public path: string,
  ) {}

  use<T>(work: (fd: number) => T, extraFlags = 0): T {
    const fd = this.lend(extraFlags);
    try {
      return work(fd);
    } finally {
      this.release();
    }
  }

  async acquire(): Promise<number> {
    for (let again = false; this.fd < 0 && !this.cache.hasRoom(); again = true) await this.cache.turn(again);
    return this.lend(0);
  }

  private lend(extraFlags: number): number {
    if (this.finished) throw new StorageError('log-closed', `${this.path} is closed`);
    if (this.fd < 0) this.fd = this.cache.openFor(this, extraFlags);
    else if (this.loans === 0) this.cache.unlinkIdle(this);
    this.loans++;
    return this.fd;
  }

  release(): void {
    if (--this.loans > 0) return;
    if (this.finished) this.closeDescriptor();
    else this.cache.idle(this);
  }

  /** @internal */
  closeDescriptor(wake = true): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    closeSync(fd);
    this.cache.closed(wake);
  }

  /** Closes the file for good: now, or when the last loan ends. */
  close(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.loans > 0) return;
    this.cache.unlinkIdle(this);
    this.closeDescriptor();
  }
}

/**
 * First in, first out, in constant time: a clean stop of a broker with tens of thousands of
 * partitions queues that many flush loans, and Array.shift moves every one left each time.
 */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** Every log file of the process: the descriptor limit is the process's, so the budget is too. */
export const logDescriptors = new DescriptorCache();

/** The budget when the process's descriptor limit is unknown or unlimited. */
const UNBOUNDED_BUDGET = 65_536;

/**
 * The log files' share of the process's descriptors: `configured` (sluice.log.max.open.files)
 * when set, else three quarters of the limit, leaving the rest to connections and the rest of
 * the process.
 */
export function descriptorBudget(processLimit: number, configured: number): number {
  if (configured > 0) return configured;
  if (processLimit <= 0) return UNBOUNDED_BUDGET;
  return Math.max(64, Math.floor((processLimit * 3) / 4));
}
