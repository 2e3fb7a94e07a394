import { log } from '../log.js';
import { NO_LEADER, type PartitionImage } from '../metadata/image.js';
import { RecordBatchHeader } from '../protocol/records/batch-header.js';
import { BATCH_LENGTH_OVERHEAD, HeaderField, MIN_BATCH_LENGTH, RECORD_BATCH_HEADER_SIZE } from '../protocol/records/batch-layout.js';
import { readInt64 } from '../storage/int64.js';
import type { AppendResult, PartitionLog } from '../storage/partition-log.js';
import type { Listing } from '../storage/directory-listing.js';
import { loadedProducerState, producerStateOf } from './producers/producer-state.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';

export type ReplicaRole = 'leader' | 'follower' | 'offline';

/** What a leader knows of one follower, from its fetches (Kafka's replica state). */
interface FollowerState {
  /** Its log end offset: the offset of its last fetch; -1 until it fetches. */
  logEndOffset: number;
  /** The last time it had everything the leader had (see recordFetch). */
  lastCaughtUpMs: number;
  lastFetchMs: number;
  /** The leader's log end at that fetch. */
  leaderEndAtLastFetch: number;
}

/** How a partition's leader changes its in-sync replica set: compare-and-set through the metadata store. */
export interface IsrWriter {
  write(partition: Partition, isr: number[]): Promise<boolean>;
  /**
   * KIP-841: a broker that is gone or stopping does not join an ISR however caught up it is
   * (the controller would only take it out again), so its fetches propose nothing.
   */
  mayJoin(brokerId: number): boolean;
}

/** Who waits on a partition's events (a parked fetch's partition, an acks=all produce): woken, it looks again. */
export interface PartitionWaiter {
  wake(): void;
}

/**
 * A replica of one partition on this broker: its log, its role (leading, following, or offline),
 * leader epoch, in-sync replicas and high watermark. Handlers, coordinators, replication and the
 * console all use partitions through this.
 *
 * As leader it tracks its followers' fetches: the high watermark is the lowest log end of the
 * in-sync replicas (this replica counting what its flush mode has made durable), so consumers
 * and acks=all never see what a failover could take away; it adds caught-up followers to the
 * ISR and removes those behind for replica.lag.time.max.ms, each change a compare-and-set on
 * the partition epoch, so a deposed leader cannot shrink the ISR to itself and acknowledge alone.
 * As follower it appends its leader's batches byte for byte.
 */
export class Partition {
  highWatermark: number;
  role: ReplicaRole = 'offline';
  leaderId = NO_LEADER;
  leaderEpoch = 0;
  partitionEpoch = -1;
  replicas: number[] = [];
  isr: number[] = [];
  readonly epochs: LeaderEpochCache;
  private readonly followers = new Map<number, FollowerState>();
  /** An ISR change sent to the metadata store and not answered yet. */
  private pendingIsr: number[] | null = null;
  private isrWriteFailing = false;
  /** The log end as durable as the flush mode makes it: this replica's own share of the high watermark. */
  private durableEnd: number;
  private readonly dataListeners = new Set<PartitionWaiter>();
  private readonly appendListeners = new Set<PartitionWaiter>();
  private readonly header = new RecordBatchHeader();
  /** As a follower: the leader's high watermark at the last fetch. */
  private leaderHighWatermark = 0;

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly topicId: string,
    readonly log: PartitionLog,
    private readonly nodeId: number,
    private readonly isrWriter: IsrWriter,
    highWatermark: number,
    /** The log directory's listing, when the caller has one (PartitionLog.takeOpeningListing). */
    listing: Listing | null = null,
  ) {
    this.highWatermark = Math.min(Math.max(highWatermark, log.logStartOffset), log.logEndOffset);
    this.durableEnd = log.logEndOffset;
    this.epochs = new LeaderEpochCache(log, listing);
  }

  get key(): string {
    return `${this.topic}-${this.index}`;
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /**
   * Takes a new state from the metadata. A new leader epoch starts at this log's end (the epoch
   * cache records it); a leader keeps the high watermark it had, which moves again once the ISR
   * has fetched.
   */
  applyState(state: PartitionImage, now: number): void {
    // Another partition of the topic changed: nothing for this one.
    if (state.partitionEpoch === this.partitionEpoch && state.leader === this.leaderId && this.role !== 'offline') return;
    const newEpoch = state.leaderEpoch !== this.leaderEpoch || state.leader !== this.leaderId;
    this.replicas = state.replicas;
    this.isr = state.isr;
    this.partitionEpoch = state.partitionEpoch;
    this.pendingIsr = null;
    if (state.leader === this.nodeId) {
      if (newEpoch || this.role !== 'leader') {
        this.role = 'leader';
        this.followers.clear();
        this.epochs.assign(state.leaderEpoch, this.log.logEndOffset);
      }
      for (const id of state.replicas) {
        if (id !== this.nodeId && !this.followers.has(id)) this.followers.set(id, { logEndOffset: -1, lastCaughtUpMs: now, lastFetchMs: 0, leaderEndAtLastFetch: 0 });
      }
    } else {
      const wasLeader = this.role === 'leader';
      this.role = state.leader === NO_LEADER ? 'offline' : 'follower';
      // Whoever waits on this leader's high watermark must hear that it no longer leads.
      if (wasLeader) for (const l of this.dataListeners) l.wake();
    }
    this.leaderId = state.leader;
    this.leaderEpoch = state.leaderEpoch;
    this.maybeAdvanceHighWatermark();
  }

  /** The log's directory failed: nothing is served, nothing replicated. */
  goOffline(): void {
    const wasLeader = this.role === 'leader';
    this.role = 'offline';
    if (wasLeader) for (const l of this.dataListeners) l.wake();
  }

  /**
   * Appends a producer's (or a coordinator's) batches as leader: offsets and this leader's
   * epoch are stamped in. The high watermark moves once the ISR has them.
   */
  appendAsLeader(records: Buffer, now: number): AppendResult {
    const appended = this.log.append(records, { leaderEpoch: this.leaderEpoch, now, assignOffsets: true });
    const end = appended.lastOffset + 1;
    for (const l of this.appendListeners) l.wake();
    appended.durable.then(
      () => {
        if (end > this.durableEnd) this.durableEnd = end;
        this.maybeAdvanceHighWatermark();
      },
      () => {},
    );
    return appended;
  }

  /**
   * Appends what the leader sent, as it is: whole batches past this log's end (a response may
   * end inside a batch, and begin before the end when the leader's batch straddles it), with
   * their epochs recorded and the producer state following when it is loaded. Returns the
   * bytes appended.
   */
  appendAsFollower(records: Buffer, leaderHighWatermark: number, now: number): number {
    const end = this.log.logEndOffset;
    let from = -1;
    let to = 0;
    for (let at = 0; at + RECORD_BATCH_HEADER_SIZE <= records.length; ) {
      const length = records.readInt32BE(at + HeaderField.batchLength);
      const size = BATCH_LENGTH_OVERHEAD + length;
      if (length < MIN_BATCH_LENGTH || at + size > records.length) break;
      const last = readInt64(records, at) + records.readInt32BE(at + HeaderField.lastOffsetDelta);
      if (last >= end && from < 0) from = at;
      at += size;
      to = at;
    }
    if (from >= 0 && to > from) {
      const batches = records.subarray(from, to);
      let transactional = false;
      for (let at = 0; at < batches.length; ) {
        const h = this.header.reset(batches, at);
        this.epochs.assign(h.partitionLeaderEpoch, Number(h.baseOffset));
        transactional ||= h.isTransactional;
        at += BATCH_LENGTH_OVERHEAD + h.batchLength;
      }
      // Transactions need the producer state here at all times (the stable offset, the aborted
      // transactions' index): loaded before the append, since loading replays the log.
      const producers = transactional ? producerStateOf(this.log) : loadedProducerState(this.log);
      const appended = this.log.append(batches, { leaderEpoch: this.leaderEpoch, now, assignOffsets: false });
      if (producers) {
        for (let at = 0; at < batches.length; ) {
          const h = this.header.reset(batches, at);
          if (h.producerId >= 0n) producers.apply(h, now);
          at += BATCH_LENGTH_OVERHEAD + h.batchLength;
        }
      }
      appended.durable.then(
        () => (this.durableEnd = Math.max(this.durableEnd, appended.lastOffset + 1)),
        () => {},
      );
    }
    this.followHighWatermark(leaderHighWatermark);
    return from >= 0 ? to - from : 0;
  }

  /** A follower's high watermark is its leader's, as far as its own log reaches. */
  followHighWatermark(leaderHighWatermark: number): void {
    this.leaderHighWatermark = leaderHighWatermark;
    this.advanceHighWatermark(Math.min(leaderHighWatermark, this.log.logEndOffset));
  }

  /** How far this replica's log is behind what its leader has committed (0 for the leader itself). */
  get lag(): number {
    return this.role === 'follower' ? Math.max(0, this.leaderHighWatermark - this.log.logEndOffset) : 0;
  }

  /**
   * A follower fetched from `fetchOffset` (its log end). Kafka's rule for "caught up": it asked
   * for the leader's log end, or for at least what the leader had at its previous fetch.
   */
  recordFetch(replicaId: number, fetchOffset: number, now: number): void {
    const f = this.followers.get(replicaId);
    if (!f) return;
    const leaderEnd = this.log.logEndOffset;
    f.logEndOffset = Math.min(fetchOffset, leaderEnd);
    if (fetchOffset >= leaderEnd) f.lastCaughtUpMs = now;
    else if (fetchOffset >= f.leaderEndAtLastFetch) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.lastFetchMs);
    f.leaderEndAtLastFetch = leaderEnd;
    f.lastFetchMs = now;
    if (!this.isr.includes(replicaId) && this.replicas.includes(replicaId) && this.canJoinIsr(replicaId, f)) this.proposeIsr([...this.isr, replicaId]);
    this.maybeAdvanceHighWatermark();
  }

  /** Kafka's condition: at the high watermark, and into this leader's own epoch. */
  private canJoinIsr(replicaId: number, f: FollowerState): boolean {
    if (!this.isrWriter.mayJoin(replicaId)) return false;
    const epochStart = this.epochs.endOffsetFor(this.leaderEpoch - 1, this.log.logEndOffset).startOffset;
    return f.logEndOffset >= this.highWatermark && f.logEndOffset >= Math.max(0, epochStart);
  }

  /** Followers in the ISR that have not caught up within `lagMaxMs` leave it. */
  checkLaggingFollowers(now: number, lagMaxMs: number): void {
    if (this.role !== 'leader') return;
    const lagging = this.isr.filter((id) => id !== this.nodeId && now - (this.followers.get(id)?.lastCaughtUpMs ?? now) > lagMaxMs);
    if (lagging.length > 0) this.proposeIsr(this.isr.filter((id) => !lagging.includes(id)));
  }

  private proposeIsr(isr: number[]): void {
    if (this.pendingIsr !== null || this.role !== 'leader') return;
    const expanding = isr.length > this.isr.length;
    this.pendingIsr = isr;
    this.isrWriter.write(this, isr).then(
      (committed) => {
        this.isrWriteFailing = false;
        if (!committed) this.pendingIsr = null;
        // A refused change is retried with the newer metadata: only a change made is news.
        if (committed) log.info({ partition: this.key, isr }, expanding ? 'ISR expanded' : 'ISR shrunk');
      },
      (e: unknown) => {
        this.pendingIsr = null;
        // Tried again at every lag check while the metadata store is away: said once.
        if (!this.isrWriteFailing) log.warn({ partition: this.key, err: (e as Error).message }, 'could not change the ISR; retrying');
        this.isrWriteFailing = true;
      },
    );
  }

  /**
   * The replicas counted for the high watermark: the ISR, and a replica being added to it
   * (Kafka's maximal ISR: one not yet known to be in must not hold the watermark back, one on
   * its way out still must).
   */
  private maximalIsr(): number[] {
    if (this.pendingIsr && this.pendingIsr.length > this.isr.length) return this.pendingIsr;
    return this.isr;
  }

  /** For the leader: the lowest log end among the ISR; for anyone else, nothing to do. */
  private maybeAdvanceHighWatermark(): void {
    if (this.role !== 'leader') return;
    let hw = this.durableEnd;
    for (const id of this.maximalIsr()) {
      if (id === this.nodeId) continue;
      const end = this.followers.get(id)?.logEndOffset ?? -1;
      if (end < 0) return;
      hw = Math.min(hw, end);
    }
    this.advanceHighWatermark(hw);
  }

  /** Moves the high watermark up and wakes whoever waits for new data. */
  private advanceHighWatermark(offset: number): void {
    if (offset <= this.highWatermark) return;
    this.highWatermark = offset;
    for (const l of this.dataListeners) l.wake();
  }

  /**
   * Kafka's last stable offset: the high watermark, or the first offset of a transaction still
   * open, if lower. read_committed consumers read up to it. Knowing it takes the producer state,
   * which `load` loads (replaying the log from its last snapshot) when no one has yet.
   */
  lastStableOffset(load: boolean): number {
    const producers = load ? producerStateOf(this.log) : loadedProducerState(this.log);
    const unstable = producers?.firstUnstableOffset() ?? null;
    return unstable === null ? this.highWatermark : Math.min(unstable, this.highWatermark);
  }

  /** Wakes `waiter` whenever the high watermark moves (or this replica stops leading), until offNewData. */
  onNewData(waiter: PartitionWaiter): void {
    this.dataListeners.add(waiter);
  }

  offNewData(waiter: PartitionWaiter): void {
    this.dataListeners.delete(waiter);
  }

  /** Wakes `waiter` whenever the leader appends (for followers' long polls), until offAppend. */
  onAppend(waiter: PartitionWaiter): void {
    this.appendListeners.add(waiter);
  }

  offAppend(waiter: PartitionWaiter): void {
    this.appendListeners.delete(waiter);
  }

  /** Listeners registered now (parked fetches, acks=all waits): what closed connections must not leave behind. */
  get listenerCount(): number {
    return this.dataListeners.size + this.appendListeners.size;
  }

  /** After truncation or DeleteRecords, the high watermark may not exceed the log end. */
  clampHighWatermark(): void {
    this.highWatermark = Math.min(Math.max(this.highWatermark, this.log.logStartOffset), this.log.logEndOffset);
    this.durableEnd = Math.min(this.durableEnd, this.log.logEndOffset);
  }

  /** Replicas assigned to this partition that are not in its ISR (for metrics and the console). */
  get underReplicated(): boolean {
    return this.role === 'leader' && this.isr.length < this.replicas.length;
  }

  /** How far a follower is behind, as this leader last saw it (-1: not seen yet). */
  followerLag(replicaId: number): number {
    const f = this.followers.get(replicaId);
    return f && f.logEndOffset >= 0 ? this.log.logEndOffset - f.logEndOffset : -1;
  }
}
