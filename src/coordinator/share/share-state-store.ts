import { log } from '../../log.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { Partition } from '../../replication/partition.js';
import type { CoordinatorLog } from '../coordinator-log.js';
import type { ShareGroupConfigSource } from './share-group-config.js';
import { SharePartition, type DeadLetter } from './share-partition.js';
import { deletionRecord, readShareStateRecord, SHARE_STATE_TOPIC, shareStateKey, snapshotRecord, type StoredShareState } from './share-state-log.js';
import type { SharePartitionOffset, ShareStates } from './share-states.js';

/** Where a share-partition's records are: the topic partition and the group. */
export interface ShareKey {
  groupId: string;
  topicId: string;
  partition: number;
}

/**
 * Writes records to the group's dead-letter topic; resolves once they are there. `recovering`:
 * some may be there already (written before a crash), and must not be written twice.
 */
export type DeadLetterSink = (key: ShareKey, letters: DeadLetter[], recovering: boolean) => Promise<void>;

/** How long a write waits for a newly made __share_group_state partition to get its leader. */
const READY_WAIT_MS = 10_000;
const READY_POLL_MS = 50;

/** How soon dead letters that could not be written are tried again. */
const DEAD_LETTER_RETRY_MS = 5000;

/**
 * The share coordinator of a share-partition's state when it is another broker (Kafka's
 * ReadShareGroupState and WriteShareGroupState): how the broker leading a topic partition reads
 * and writes the state another broker keeps.
 */
export interface RemoteShareState {
  /** The broker leading the __share_group_state partition with this index, or null if none does. */
  leaderOf(index: number): number | null;
  read(nodeId: number, key: ShareKey): Promise<StoredShareState | null>;
  write(nodeId: number, state: StoredShareState): Promise<void>;
}

/** A failure to read or write share state, with the Kafka error to answer. */
export class ShareStateError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The share-partitions this broker serves, and their durable state on __share_group_state
 * (Kafka's ShareSnapshot records, one per share-partition, compacted). State is loaded with
 * the leadership of the __share_group_state partition it hashes to; a share-partition comes to
 * life on its first fetch, from its stored state or, new, at share.auto.offset.reset.
 */
export class ShareStateStore implements ShareStates {
  /** State read from the __share_group_state partitions this broker leads, by shareStateKey. */
  private readonly stored = new Map<string, StoredShareState>();
  private readonly live = new Map<string, { key: ShareKey; sp: SharePartition }>();
  private readonly opening = new Map<string, Promise<SharePartition>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly loaded = new Set<number>();
  private snapshotEpoch = 0;
  private readonly listeners = new Set<() => void>();
  /** Where archived records go first; the broker sets it (share-dead-letters.ts). */
  deadLetters: DeadLetterSink = () => Promise.resolve();
  /** The other brokers' share state, in a cluster; the broker sets it. */
  remote: RemoteShareState | null = null;
  /** Makes __share_group_state when it does not exist yet; the broker sets it. */
  createTopic: () => Promise<void> = () => Promise.resolve();

  constructor(
    private readonly log: CoordinatorLog,
    private readonly config: ShareGroupConfigSource,
  ) {}

  loadPartition(partition: Partition): void {
    let n = 0;
    this.log.replay(partition, (batch) => {
      for (const r of batch.records) {
        try {
          const read = readShareStateRecord(r.key, r.value);
          if (!read) continue;
          const k = shareStateKey(read.groupId, read.topicId, read.partition);
          if (read.state === null) this.stored.delete(k);
          else this.stored.set(k, read.state);
          n++;
        } catch (e) {
          log.warn({ err: e, partition: partition.key }, 'skipped an unreadable __share_group_state record');
        }
      }
    });
    this.loaded.add(partition.index);
    if (n > 0) log.info({ partition: partition.key, records: n }, 'share-group state loaded');
  }

  /** The state partition moved away: its states are the next leader's. Share-partitions served here carry on, writing there. */
  unloadPartition(index: number): void {
    this.loaded.delete(index);
    for (const k of [...this.stored.keys()]) if (this.log.partitionOf(k) === index) this.stored.delete(k);
  }

  /** This broker no longer leads a topic partition: its share-partitions are the new leader's, from their stored state. */
  dropTopicPartition(topicId: string, partition: number): void {
    for (const [k, { key, sp }] of this.live) {
      if (key.topicId !== topicId || key.partition !== partition) continue;
      sp.close();
      this.live.delete(k);
    }
  }

  /** Where a share-partition's state is kept: here (null), or the broker to ask. */
  private home(k: string): { local: true } | { local: false; nodeId: number } {
    const index = this.log.partitionOf(k);
    if (index < 0) throw new ShareStateError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${SHARE_STATE_TOPIC} does not exist yet`);
    if (this.loaded.has(index)) return { local: true };
    const nodeId = this.remote?.leaderOf(index) ?? null;
    if (nodeId === null) throw new ShareStateError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${SHARE_STATE_TOPIC}-${index} has no leader`);
    return { local: false, nodeId };
  }

  /** Stored state as its share coordinator has it (here, or remote). */
  private async load(key: ShareKey, k: string): Promise<StoredShareState | null> {
    const home = this.home(k);
    if (home.local) return this.stored.get(k) ?? null;
    return this.remote!.read(home.nodeId, key);
  }

  /** The share-partition, brought to life from stored state or at the group's share.auto.offset.reset. */
  open(key: ShareKey, partition: Partition): Promise<SharePartition> {
    const k = shareStateKey(key.groupId, key.topicId, key.partition);
    const existing = this.live.get(k);
    if (existing) return Promise.resolve(existing.sp);
    let pending = this.opening.get(k);
    if (!pending) {
      pending = this.load(key, k)
        .then((stored) => this.live.get(k)?.sp ?? this.bringToLife(key, k, stored, partition))
        .finally(() => this.opening.delete(k));
      this.opening.set(k, pending);
    }
    return pending;
  }

  private bringToLife(key: ShareKey, k: string, stored: StoredShareState | null, partition: Partition): SharePartition {
    const onTimer = (): void => this.expire(k);
    let sp: SharePartition;
    if (stored) sp = SharePartition.restore(stored.startOffset, stored.stateEpoch, stored.batches, onTimer);
    else {
      const start = this.config(key.groupId).autoOffsetReset === 'earliest' ? partition.log.logStartOffset : partition.highWatermark;
      sp = new SharePartition(start, start, 0, onTimer);
    }
    sp.skipTo(partition.log.logStartOffset);
    this.live.set(k, { key, sp });
    const pending = sp.pendingDeadLetters(this.config(key.groupId));
    if (pending.length > 0) void this.deadLetter(key, sp, pending, true);
    return sp;
  }

  /** Calls `listener` whenever records may have become available (locks ran out, backoffs ended). */
  onAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private expire(k: string): void {
    const entry = this.live.get(k);
    if (!entry) return;
    const letters: DeadLetter[] = [];
    if (entry.sp.expireLocks(Date.now(), this.config(entry.key.groupId), letters)) {
      this.settle(entry.key, entry.sp, letters).catch((e: unknown) => log.error({ err: e, ...entry.key }, 'could not store share-partition state'));
    }
    for (const l of this.listeners) l();
  }

  /**
   * After a change: the state is stored (records to dead-letter as ARCHIVING), then their dead
   * letters are written, then they are archived. A crash in between leaves them ARCHIVING, and
   * the dead letters are written on recovery, skipping those the topic already has.
   */
  async settle(key: ShareKey, sp: SharePartition, letters: DeadLetter[]): Promise<void> {
    await this.persist(key, sp);
    if (letters.length > 0) await this.deadLetter(key, sp, letters, false);
  }

  private async deadLetter(key: ShareKey, sp: SharePartition, letters: DeadLetter[], recovering: boolean): Promise<void> {
    try {
      await this.deadLetters(key, letters, recovering);
    } catch (e) {
      log.warn({ err: e, ...key, records: letters.length }, 'dead letters not written; retrying');
      const retry = setTimeout(() => {
        this.retries.delete(retry);
        void this.deadLetter(key, sp, letters, true);
      }, DEAD_LETTER_RETRY_MS);
      retry.unref();
      this.retries.add(retry);
      return;
    }
    sp.deadLettered(letters.map((l) => l.offset));
    // Not stored now, the records stay ARCHIVING in the stored state: recovery would find their dead letters written.
    await this.persist(key, sp).catch((e: unknown) => log.error({ err: e, ...key }, 'could not store share-partition state'));
  }

  /** Writes the share-partition's state; resolves once the in-sync replicas of its share coordinator have it. */
  persist(key: ShareKey, sp: SharePartition, leaderEpoch = -1): Promise<void> {
    return this.write({ ...key, startOffset: sp.startOffset, stateEpoch: sp.stateEpoch, leaderEpoch, batches: sp.batches() });
  }

  private async write(state: StoredShareState): Promise<void> {
    const home = await this.ready(shareStateKey(state.groupId, state.topicId, state.partition));
    return home.local ? this.store(state) : this.remote!.write(home.nodeId, state);
  }

  /**
   * Where a state is kept, making __share_group_state first if it does not exist (an admin
   * setting offsets of a group that never fetched) and waiting for its partition to get a leader.
   */
  private async ready(k: string): Promise<{ local: true } | { local: false; nodeId: number }> {
    if (this.log.partitionOf(k) < 0) await this.createTopic();
    for (let waited = 0; ; waited += READY_POLL_MS) {
      try {
        return this.home(k);
      } catch (e) {
        if (waited >= READY_WAIT_MS) throw e;
      }
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  }

  /** Stores a state this broker is the share coordinator of (its own, or one WriteShareGroupState sent). */
  store(state: StoredShareState): Promise<void> {
    const k = shareStateKey(state.groupId, state.topicId, state.partition);
    const index = this.log.partitionOf(k);
    if (!this.loaded.has(index)) return Promise.reject(new ShareStateError(ErrorCode.NOT_COORDINATOR, `${SHARE_STATE_TOPIC}-${index} is not led here`));
    this.stored.set(k, state);
    return this.log.append(k, [snapshotRecord(state, this.snapshotEpoch++)]);
  }

  /** A state this broker is the share coordinator of (ReadShareGroupState); NOT_COORDINATOR if it is not. */
  storedState(key: ShareKey): StoredShareState | null | number {
    const k = shareStateKey(key.groupId, key.topicId, key.partition);
    if (!this.loaded.has(this.log.partitionOf(k))) return ErrorCode.NOT_COORDINATOR;
    return this.stored.get(k) ?? null;
  }

  /** The live share-partitions of a group member's fetches, to release what a member holds. */
  livePartitions(): { key: ShareKey; sp: SharePartition }[] {
    return [...this.live.values()];
  }

  close(): void {
    for (const { sp } of this.live.values()) sp.close();
    this.live.clear();
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
  }

  // ---- ShareStates: the admin side ---------------------------------------------------------

  private statesOf(groupId: string): StoredShareState[] {
    const out = new Map<string, StoredShareState>();
    for (const [k, s] of this.stored) if (s.groupId === groupId) out.set(k, s);
    for (const [k, { key, sp }] of this.live) {
      if (key.groupId === groupId) out.set(k, { ...key, startOffset: sp.startOffset, stateEpoch: sp.stateEpoch, leaderEpoch: -1, batches: [] });
    }
    return [...out.values()];
  }

  groupIds(): string[] {
    const ids = new Set<string>();
    for (const s of this.stored.values()) ids.add(s.groupId);
    for (const { key } of this.live.values()) ids.add(key.groupId);
    return [...ids];
  }

  offsets(groupId: string): SharePartitionOffset[] {
    return this.statesOf(groupId).map((s) => ({ topicId: s.topicId, partition: s.partition, startOffset: s.startOffset, leaderEpoch: s.leaderEpoch }));
  }

  async alter(groupId: string, changes: { topicId: string; partition: number; startOffset: number }[]): Promise<void> {
    for (const c of changes) {
      const k = shareStateKey(groupId, c.topicId, c.partition);
      const previous = this.live.get(k)?.sp.stateEpoch ?? this.stored.get(k)?.stateEpoch ?? -1;
      this.live.get(k)?.sp.close();
      this.live.delete(k);
      await this.write({ groupId, topicId: c.topicId, partition: c.partition, startOffset: c.startOffset, stateEpoch: previous + 1, leaderEpoch: -1, batches: [] });
    }
  }

  async delete(groupId: string, topicIds: string[] | null): Promise<void> {
    for (const s of this.statesOf(groupId)) {
      if (topicIds !== null && !topicIds.includes(s.topicId)) continue;
      const k = shareStateKey(groupId, s.topicId, s.partition);
      await this.log.append(k, [deletionRecord(groupId, s.topicId, s.partition)]);
      this.live.get(k)?.sp.close();
      this.live.delete(k);
      this.stored.delete(k);
    }
  }
}
