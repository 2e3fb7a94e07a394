import { log } from '../log.js';
import { GroupCommit } from '../storage/group-commit.js';
import { decodeDelayedMessage, encodeDelayedMessage, type DelayedMessage } from './delayed-message.js';
import { SegmentedLog } from './segmented-log.js';
import { encodePrev, NO_ENTRY, readTimerEntry, TIMER_ENTRY_SIZE, writeTimerEntry, type TimerEntry } from './timer-entry.js';
import { slotIndex, SLOT_MS, TimerWheel, WHEEL_SLOTS } from './timer-wheel.js';

/** A multiple of the entry size, so files end on entry boundaries. */
const TIMER_SEGMENT_BYTES = TIMER_ENTRY_SIZE * 1024 * 1024;
const MESSAGE_SEGMENT_BYTES = 128 * 1024 * 1024;
/** Entries read per system call when the timer log is scanned at start-up. */
const SCAN_ENTRIES = 32 * 1024;
/** Pending counts are kept by due minute: a week of delays is at most ~10,000 counters. */
const COUNT_BUCKET_MS = 60_000;

/**
 * The durable side of delayed delivery, laid out as RocketMQ 5's timer store: a message log
 * holding each record and the partition it is for, a timer log of fixed-size entries pointing
 * into it, and a timing wheel whose slots point at the newest timer entry due in their second.
 * None of it lives in memory beyond a count per due minute, whatever the number held.
 */
export class DelayStore {
  private readonly messages: SegmentedLog;
  private readonly timers: SegmentedLog;
  private readonly wheel: TimerWheel;
  private readonly commit: GroupCommit;
  /** The latest due time in each timer file, by its first position: the file goes once all are delivered. */
  private readonly latestDue = new Map<number, number>();
  /** Held and not yet delivered, by due minute. */
  private readonly counts = new Map<number, number>();
  private heldCount = 0;
  private readonly scratch = Buffer.allocUnsafe(TIMER_ENTRY_SIZE);

  constructor(dir: string) {
    this.messages = new SegmentedLog(dir, 'messages', MESSAGE_SEGMENT_BYTES);
    this.timers = new SegmentedLog(dir, 'timer', TIMER_SEGMENT_BYTES, (size) => size - (size % TIMER_ENTRY_SIZE));
    this.wheel = new TimerWheel(dir);
    this.commit = new GroupCommit(async () => {
      await this.messages.sync();
      await this.timers.sync();
    });
  }

  /**
   * Rebuilds the wheel from the timer log: every entry due at or after `cursorMs` (nothing
   * before it is still held) and not in `taken` (entries the deliverer's journal accounts for),
   * relinked in log order. This repairs whatever a crash left between the three files: an entry
   * whose slot was never updated, a slot written before its entry.
   */
  recover(cursorMs: number, taken: ReadonlySet<number>): void {
    const newest = new Float64Array(WHEEL_SLOTS);
    const buf = Buffer.allocUnsafe(SCAN_ENTRIES * TIMER_ENTRY_SIZE);
    let damaged = 0;
    for (const file of this.timers.files()) {
      let latest = -Infinity;
      for (let pos = file.base; pos < file.end; ) {
        const n = this.timers.read(pos, buf);
        for (let at = 0; at + TIMER_ENTRY_SIZE <= n; at += TIMER_ENTRY_SIZE, pos += TIMER_ENTRY_SIZE) {
          const e = readTimerEntry(buf, at, pos);
          if (!e) {
            damaged++;
            continue;
          }
          latest = Math.max(latest, e.dueMs);
          if (e.dueMs < cursorMs || taken.has(pos)) continue;
          const slot = slotIndex(e.dueMs);
          const prev = newest[slot] - 1;
          if (e.prev !== prev) this.timers.overwrite(pos, encodePrev(prev));
          newest[slot] = pos + 1;
          this.count(e.dueMs, 1);
        }
        if (n < TIMER_ENTRY_SIZE) break;
      }
      this.latestDue.set(file.base, latest);
    }
    this.wheel.replaceAll(newest);
    if (damaged > 0) log.warn({ damaged }, 'delay store: skipped damaged timer entries (torn by a crash)');
    this.release(cursorMs);
  }

  /** Writes the messages and schedules them; returns their timer entries, in order. */
  hold(messages: readonly DelayedMessage[]): TimerEntry[] {
    const encoded = messages.map(encodeDelayedMessage);
    const messageBase = this.messages.append(Buffer.concat(encoded));
    const timerBase = this.timers.end;
    const timerBytes = Buffer.allocUnsafe(messages.length * TIMER_ENTRY_SIZE);
    // Links within this call follow each other before the wheel is written once per slot.
    const linked = new Map<number, number>();
    const entries: TimerEntry[] = [];
    let messagePos = messageBase;
    messages.forEach((m, i) => {
      const slot = slotIndex(m.dueMs);
      const pos = timerBase + i * TIMER_ENTRY_SIZE;
      const entry = { pos, prev: linked.get(slot) ?? this.wheel.newest(m.dueMs), messagePos, messageSize: encoded[i].length, dueMs: m.dueMs };
      writeTimerEntry(timerBytes, i * TIMER_ENTRY_SIZE, entry);
      entries.push(entry);
      linked.set(slot, pos);
      messagePos += encoded[i].length;
    });
    this.timers.append(timerBytes);
    // Slots last: a slot must never point at an entry that is not written.
    for (const e of entries) if (linked.get(slotIndex(e.dueMs)) === e.pos) this.wheel.setNewest(e.dueMs, e.pos);
    const file = this.timers.files().at(-1)!.base;
    for (const e of entries) {
      this.latestDue.set(file, Math.max(this.latestDue.get(file) ?? -Infinity, e.dueMs));
      this.count(e.dueMs, 1);
    }
    return entries;
  }

  /** Resolves once everything held so far is on disk (one fdatasync for a burst of callers). */
  durable(): Promise<void> {
    return this.commit.request();
  }

  /**
   * The entries due in the slot starting at `slotMs`, oldest position first. The chain also
   * holds entries of the slot's other laps: later ones are skipped, and the first one of an
   * earlier lap ends the walk, since every entry older than it is of an earlier lap too.
   */
  slotEntries(slotMs: number): TimerEntry[] {
    const entries: TimerEntry[] = [];
    for (let pos = this.wheel.newest(slotMs); pos !== NO_ENTRY && pos >= this.timers.start; ) {
      const e = this.entryAt(pos);
      if (!e || e.dueMs < slotMs) break;
      if (e.dueMs < slotMs + SLOT_MS) entries.push(e);
      pos = e.prev;
    }
    return entries.reverse();
  }

  entryAt(pos: number): TimerEntry | null {
    if (this.timers.read(pos, this.scratch) < TIMER_ENTRY_SIZE) return null;
    return readTimerEntry(this.scratch, 0, pos);
  }

  /** The message an entry points at, or null when its bytes are damaged. */
  message(e: TimerEntry): DelayedMessage | null {
    const buf = Buffer.allocUnsafe(e.messageSize);
    if (e.messagePos < this.messages.start || this.messages.read(e.messagePos, buf) < e.messageSize) return null;
    return decodeDelayedMessage(buf);
  }

  /** An entry is no longer held (delivered, or dropped). */
  released(dueMs: number): void {
    this.count(dueMs, -1);
  }

  /** Deletes the files whose entries are all due before `cursorMs`, and so delivered. */
  release(cursorMs: number): void {
    const files = this.timers.files();
    let keep = files.at(-1)!.base;
    for (const f of files.slice(0, -1)) {
      if ((this.latestDue.get(f.base) ?? Infinity) >= cursorMs) {
        keep = f.base;
        break;
      }
    }
    if (this.timers.deleteBefore(keep) === 0) return;
    for (const base of this.latestDue.keys()) if (base < keep) this.latestDue.delete(base);
    const first = this.entryAt(keep);
    if (first) this.messages.deleteBefore(first.messagePos);
  }

  /** Records held and not yet delivered. */
  get held(): number {
    return this.heldCount;
  }

  /** Held records by due minute (its start, epoch ms), earliest first. */
  heldByMinute(): [number, number][] {
    return [...this.counts].sort((a, b) => a[0] - b[0]);
  }

  close(): void {
    this.messages.close();
    this.timers.close();
    this.wheel.close();
  }

  private count(dueMs: number, n: number): void {
    const minute = Math.floor(dueMs / COUNT_BUCKET_MS) * COUNT_BUCKET_MS;
    const left = (this.counts.get(minute) ?? 0) + n;
    if (left > 0) this.counts.set(minute, left);
    else this.counts.delete(minute);
    this.heldCount += n;
  }
}
