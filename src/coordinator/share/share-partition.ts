import { ErrorCode } from '../../protocol/generated/errors.js';
import type { ShareGroupConfig } from './share-group-config.js';

/**
 * Kafka's share-partition record states, with the numbers __share_group_state uses, and
 * ARCHIVING (3, as KIP-1191 numbers it): archived once its dead letter is written.
 */
export const RecordState = { AVAILABLE: 0, ACQUIRED: 1, ACKNOWLEDGED: 2, ARCHIVING: 3, ARCHIVED: 4 } as const;
export type RecordStateId = (typeof RecordState)[keyof typeof RecordState];

/** ShareFetch/ShareAcknowledge acknowledge types. */
export const AckType = { GAP: 0, ACCEPT: 1, RELEASE: 2, REJECT: 3 } as const;

/** Why a record leaves the share-partition without being accepted: for the dead-letter topic. */
export type ArchiveReason = 'rejected' | 'delivery-limit';

interface InFlight {
  state: RecordStateId;
  deliveryCount: number;
  /** The member holding the acquisition lock. */
  owner: string | null;
  /** When the acquisition lock runs out. */
  lockedUntil: number;
  /** Retry backoff: not delivered again before then. */
  availableAt: number;
}

/** A range of records handed to one consumer, all with the same delivery count. */
export interface AcquiredRange {
  firstOffset: number;
  lastOffset: number;
  deliveryCount: number;
}

/** A stretch of the partition with one state and delivery count, as __share_group_state stores it. */
export interface StateBatch {
  firstOffset: number;
  lastOffset: number;
  state: RecordStateId;
  deliveryCount: number;
}

/** A record archived without being accepted: the dead-letter topic gets it first, when the group has one. */
export interface DeadLetter {
  offset: number;
  deliveryCount: number;
  reason: ArchiveReason;
}

/** A batch of the log: its offsets, so acquisition can take whole batches. */
export interface LogBatchSpan {
  baseOffset: number;
  lastOffset: number;
  /** A transaction marker or an emptied batch: no consumer gets it, so its offsets are archived as they are reached. */
  recordless: boolean;
}

/**
 * One share group's view of one topic partition (KIP-932): records from the share-partition
 * start offset on, each available, acquired by a consumer under a time-limited lock,
 * acknowledged or archived. A consumer acquires what is available (new records, and released
 * or expired ones whose retry backoff has passed), then accepts, releases or rejects each; the
 * start offset moves past every record that is done. A record delivered as many times as the
 * delivery count limit is archived instead of becoming available again, and a rejected one is
 * archived at once; both are reported as dead letters. Nothing here does I/O: the owner stores
 * `batches()` after every change and acts on the dead letters.
 */
export class SharePartition {
  /** Offsets from startOffset up to endOffset that are in flight, or done but not yet behind the start offset. */
  private readonly records = new Map<number, InFlight>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    /** Every record before it is done. */
    public startOffset: number,
    /** The first offset never acquired. */
    public endOffset: number,
    /** Bumped by AlterShareGroupOffsets: state written before belongs to an older life. */
    public stateEpoch: number,
    /** Called when locks run out or retry backoffs end: the owner expires locks and wakes waiting fetches. */
    private readonly onTimer: () => void,
  ) {}

  /** Stored state back: records acquired when it was written are available again, their deliveries counted. */
  static restore(startOffset: number, stateEpoch: number, batches: readonly StateBatch[], onTimer: () => void): SharePartition {
    const sp = new SharePartition(startOffset, startOffset, stateEpoch, onTimer);
    for (const b of batches) {
      for (let o = Math.max(b.firstOffset, startOffset); o <= b.lastOffset; o++) {
        const state: RecordStateId = b.state === RecordState.ACQUIRED ? RecordState.AVAILABLE : b.state;
        sp.records.set(o, { state, deliveryCount: b.deliveryCount, owner: null, lockedUntil: 0, availableAt: 0 });
      }
      sp.endOffset = Math.max(sp.endOffset, b.lastOffset + 1);
    }
    sp.advanceStart();
    return sp;
  }

  /** Records acquired or waiting to be delivered again: what group.share.partition.max.record.locks caps. */
  get inFlight(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.state === RecordState.ACQUIRED || r.state === RecordState.AVAILABLE) n++;
    return n;
  }

  counts(): { available: number; acquired: number; acknowledged: number; archived: number } {
    const c = { available: 0, acquired: 0, acknowledged: 0, archived: 0 };
    for (const r of this.records.values()) {
      if (r.state === RecordState.AVAILABLE) c.available++;
      else if (r.state === RecordState.ACQUIRED) c.acquired++;
      else if (r.state === RecordState.ACKNOWLEDGED) c.acknowledged++;
      else c.archived++;
    }
    return c;
  }

  /** Whether a fetch could acquire something now without reading the log: a record available again. */
  hasRedeliverable(now: number): boolean {
    for (const r of this.records.values()) if (r.state === RecordState.AVAILABLE && r.availableAt <= now) return true;
    return false;
  }

  /**
   * Acquires up to `maxRecords` for `member`: first records available again (oldest first),
   * then new ones from the log (whole batches, below `fetchableEnd`), within `maxInFlight`.
   * `batches` lists the log's batches from endOffset on.
   */
  acquire(member: string, maxRecords: number, maxInFlight: number, batches: readonly LogBatchSpan[], fetchableEnd: number, now: number, config: ShareGroupConfig): AcquiredRange[] {
    const taken: number[] = [];
    const lockedUntil = now + config.lockDurationMs;
    for (const [offset, r] of this.records) {
      if (taken.length >= maxRecords) break;
      // A new leader's high watermark can trail offsets its predecessor handed out: those wait for it.
      if (r.state !== RecordState.AVAILABLE || r.availableAt > now || offset >= fetchableEnd) continue;
      this.take(offset, r, member, lockedUntil, taken);
    }
    let inFlight = this.inFlight;
    for (const b of batches) {
      if (taken.length >= maxRecords || inFlight >= maxInFlight || b.baseOffset >= fetchableEnd) break;
      if (b.lastOffset < this.endOffset) continue;
      const last = Math.min(b.lastOffset, fetchableEnd - 1);
      for (let o = Math.max(b.baseOffset, this.endOffset); o <= last; o++) {
        const r: InFlight = { state: b.recordless ? RecordState.ARCHIVED : RecordState.AVAILABLE, deliveryCount: 0, owner: null, lockedUntil: 0, availableAt: 0 };
        this.records.set(o, r);
        if (b.recordless) continue;
        this.take(o, r, member, lockedUntil, taken);
        inFlight++;
      }
      this.endOffset = last + 1;
    }
    this.advanceStart();
    if (taken.length > 0) this.schedule(lockedUntil);
    return this.rangesOf(taken);
  }

  private take(offset: number, r: InFlight, member: string, lockedUntil: number, taken: number[]): void {
    r.state = RecordState.ACQUIRED;
    r.owner = member;
    r.lockedUntil = lockedUntil;
    r.deliveryCount++;
    taken.push(offset);
  }

  /** Consecutive offsets with the same delivery count become one range. */
  private rangesOf(offsets: number[]): AcquiredRange[] {
    offsets.sort((a, b) => a - b);
    const out: AcquiredRange[] = [];
    for (const o of offsets) {
      const count = this.records.get(o)!.deliveryCount;
      const last = out[out.length - 1];
      if (last && last.lastOffset === o - 1 && last.deliveryCount === count) last.lastOffset = o;
      else out.push({ firstOffset: o, lastOffset: o, deliveryCount: count });
    }
    return out;
  }

  /**
   * Acknowledges `first`..`last` for `member`: one type for the whole range or one per offset
   * (GAP for offsets with no record). Every offset must be acquired by the member, else nothing
   * changes and the answer is INVALID_RECORD_STATE, as Kafka answers.
   */
  acknowledge(member: string, first: number, last: number, types: readonly number[], now: number, config: ShareGroupConfig, deadLetters: DeadLetter[]): number {
    if (last < first || (types.length !== 1 && types.length !== last - first + 1)) return ErrorCode.INVALID_REQUEST;
    for (const t of types) if (t < AckType.GAP || t > AckType.REJECT) return ErrorCode.INVALID_REQUEST;
    for (let o = first; o <= last; o++) {
      const r = this.records.get(o);
      if (!r || r.state !== RecordState.ACQUIRED || r.owner !== member) return ErrorCode.INVALID_RECORD_STATE;
    }
    for (let o = first; o <= last; o++) {
      const r = this.records.get(o)!;
      const type = types.length === 1 ? types[0] : types[o - first];
      if (type === AckType.ACCEPT) this.finish(r, RecordState.ACKNOWLEDGED);
      else if (type === AckType.GAP) this.finish(r, RecordState.ARCHIVED);
      else if (type === AckType.REJECT) this.archive(o, r, 'rejected', config, deadLetters);
      else this.makeAvailable(o, r, now, config, deadLetters);
    }
    this.advanceStart();
    return ErrorCode.NONE;
  }

  private finish(r: InFlight, state: RecordStateId): void {
    r.state = state;
    r.owner = null;
  }

  /** Rejected or out of deliveries: archived, or first dead-lettered when the group has a dead-letter topic. */
  private archive(offset: number, r: InFlight, reason: ArchiveReason, config: ShareGroupConfig, deadLetters: DeadLetter[]): void {
    if (config.deadLetterTopic === null) {
      this.finish(r, RecordState.ARCHIVED);
      return;
    }
    this.finish(r, RecordState.ARCHIVING);
    deadLetters.push({ offset, deliveryCount: r.deliveryCount, reason });
  }

  /** Records waiting for their dead letter to be written (after a restart, say), with the likely reason. */
  pendingDeadLetters(config: ShareGroupConfig): DeadLetter[] {
    const out: DeadLetter[] = [];
    for (const [offset, r] of this.records) {
      if (r.state === RecordState.ARCHIVING) out.push({ offset, deliveryCount: r.deliveryCount, reason: r.deliveryCount >= config.deliveryCountLimit ? 'delivery-limit' : 'rejected' });
    }
    return out;
  }

  /** Their dead letters are written: the records are archived. */
  deadLettered(offsets: readonly number[]): void {
    for (const o of offsets) {
      const r = this.records.get(o);
      if (r?.state === RecordState.ARCHIVING) r.state = RecordState.ARCHIVED;
    }
    this.advanceStart();
  }

  /** Released or expired: available again after the retry backoff, or archived once delivered `deliveryCountLimit` times. */
  private makeAvailable(offset: number, r: InFlight, now: number, config: ShareGroupConfig, deadLetters: DeadLetter[]): void {
    if (r.deliveryCount >= config.deliveryCountLimit) {
      this.archive(offset, r, 'delivery-limit', config, deadLetters);
      return;
    }
    this.finish(r, RecordState.AVAILABLE);
    const ladder = config.retryBackoffMs;
    r.availableAt = ladder.length === 0 ? now : now + ladder[Math.min(Math.max(r.deliveryCount, 1), ladder.length) - 1];
    if (r.availableAt > now) this.schedule(r.availableAt);
  }

  /** A member's share session ended or it left: what it holds is available again (KIP-932 releases it). */
  releaseMember(member: string, now: number, config: ShareGroupConfig, deadLetters: DeadLetter[]): boolean {
    let changed = false;
    for (const [o, r] of this.records) {
      if (r.state !== RecordState.ACQUIRED || r.owner !== member) continue;
      // Released without having been processed: this delivery does not count.
      r.deliveryCount--;
      this.makeAvailable(o, r, now, config, deadLetters);
      changed = true;
    }
    if (changed) this.advanceStart();
    return changed;
  }

  /** Locks run out: those records are available again (or archived at the limit). Whether anything changed. */
  expireLocks(now: number, config: ShareGroupConfig, deadLetters: DeadLetter[]): boolean {
    let changed = false;
    for (const [o, r] of this.records) {
      if (r.state !== RecordState.ACQUIRED || r.lockedUntil > now) continue;
      this.makeAvailable(o, r, now, config, deadLetters);
      changed = true;
    }
    if (changed) this.advanceStart();
    this.rescheduleFrom(now);
    return changed;
  }

  /** The start offset moves past records that are done; their entries go. */
  private advanceStart(): void {
    while (this.startOffset < this.endOffset) {
      const r = this.records.get(this.startOffset);
      if (r && r.state !== RecordState.ACKNOWLEDGED && r.state !== RecordState.ARCHIVED) break;
      this.records.delete(this.startOffset);
      this.startOffset++;
    }
  }

  /**
   * The log's start moved past records (retention, DeleteRecords): they can no longer be
   * delivered, so the share-partition moves on with it.
   */
  skipTo(logStartOffset: number): boolean {
    if (logStartOffset <= this.startOffset) return false;
    for (let o = this.startOffset; o < logStartOffset; o++) this.records.delete(o);
    this.startOffset = logStartOffset;
    this.endOffset = Math.max(this.endOffset, logStartOffset);
    return true;
  }

  /** In-flight state as __share_group_state stores it: runs of equal state and count. */
  batches(): StateBatch[] {
    const out: StateBatch[] = [];
    for (const [o, r] of [...this.records].sort(([a], [b]) => a - b)) {
      const last = out[out.length - 1];
      if (last && last.lastOffset === o - 1 && last.state === r.state && last.deliveryCount === r.deliveryCount) last.lastOffset = o;
      else out.push({ firstOffset: o, lastOffset: o, state: r.state, deliveryCount: r.deliveryCount });
    }
    return out;
  }

  private schedule(at: number): void {
    if (at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.onTimer();
    }, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  /** The next lock expiry or backoff end after `now`. */
  private rescheduleFrom(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (const r of this.records.values()) {
      if (r.state === RecordState.ACQUIRED) next = Math.min(next, r.lockedUntil);
      else if (r.state === RecordState.AVAILABLE && r.availableAt > now) next = Math.min(next, r.availableAt);
    }
    if (Number.isFinite(next)) this.schedule(next);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
