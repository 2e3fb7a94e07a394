import { log } from '../log.js';
import { NO_LEADER, type PartitionImage, type TopicImage } from '../metadata/image.js';
import { newTopicId } from '../metadata/names.js';
import type { ImageChanges, MetadataStore } from '../metadata/store.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { LogConfig } from '../storage/log-config.js';
import type { LogManager } from '../storage/log-manager.js';
import { Partition, type IsrWriter, type ReplicaRole } from './partition.js';
import { readPartitionTopicId, writePartitionTopicId } from './partition-metadata-file.js';
import { PartitionTable } from './partition-table.js';

const keyOf = (topic: string, index: number): string => `${topic}-${index}`;

/** What the replica manager's owner follows: leaderships gained and lost (the group coordinator). */
export type RoleListener = (partition: Partition, before: ReplicaRole) => void;

/** Where followers fetch from: the replica manager tells it which partitions follow whom. */
export interface FollowerRouting {
  follow(partition: Partition): void;
  unfollow(partition: Partition): void;
}

export interface ReplicaManagerOptions {
  nodeId: number;
  store: MetadataStore;
  logs: LogManager;
  /** The log config of a topic with these overrides (a topic the image does not name yet). */
  logConfigFor: (topic: string, overrides: Record<string, string>) => LogConfig;
  /** replica.lag.time.max.ms. */
  replicaLagTimeMaxMs: number;
}

/**
 * The replicas this broker holds, kept in step with the metadata image and the logs on disk
 * (Kafka's ReplicaManager): each partition the image assigns here gets a log and a role from
 * its state, leader or follower; logs the image does not assign here are deleted.
 *
 * A topic's logs here are made before the image names it and deleted after it stops naming
 * it, so a crash leaves at worst logs the image does not know, which the next start deletes.
 * The image and the partitions can still disagree (a log that could not be opened, a log
 * directory that failed): such a partition is offline here, answered with an error.
 */
export class ReplicaManager {
  private readonly partitions = new PartitionTable<Partition>();
  /** Offline partitions already in the log, so that each is reported once, not on every request. */
  private readonly reportedOffline = new Set<string>();
  private readonly roleListeners = new Set<RoleListener>();
  private routing: FollowerRouting | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  /** ISR changes this broker made as leader, for metrics. */
  readonly isrChanges = { shrinks: 0, expands: 0 };
  private starting = true;
  /** Partitions out of service while their log changes directory: the move, and where a later request wants it. */
  private readonly moving = new Map<string, { done: Promise<void>; next: string | null }>();

  constructor(private readonly opts: ReplicaManagerOptions) {}

  private get image() {
    return this.opts.store.image;
  }

  /** Takes every replica the image assigns here, deletes the logs it does not, and follows the image from then on. */
  start(routing: FollowerRouting): void {
    this.routing = routing;
    this.reconcile(new Set(this.image.topics.keys()), []);
    for (const l of this.opts.logs.all()) {
      if (this.partitions.has(l.topic, l.partition) || this.assignedHere(l.topic, l.partition)) continue;
      try {
        this.opts.logs.delete(l.topic, l.partition);
      } catch (e) {
        log.warn({ err: e, partition: keyOf(l.topic, l.partition) }, 'a log the metadata does not assign here could not be deleted: the next start tries again');
      }
    }
    this.starting = false;
    this.opts.store.onChange((c) => this.onImageChange(c));
    this.opts.logs.onDirOffline(() => this.onLogDirFailure());
    const every = Math.max(100, Math.floor(this.opts.replicaLagTimeMaxMs / 2));
    this.lagTimer = setInterval(() => {
      const now = Date.now();
      for (const p of this.partitions.values()) p.checkLaggingFollowers(now, this.opts.replicaLagTimeMaxMs);
    }, every);
    this.lagTimer.unref();
  }

  stop(): void {
    if (this.lagTimer) clearInterval(this.lagTimer);
  }

  onRoleChange(listener: RoleListener): void {
    this.roleListeners.add(listener);
  }

  private onImageChange(c: ImageChanges): void {
    this.reconcile(c.topics, c.deleted);
    // A leader that moved its endpoint, or came back: its followers reconnect on their own.
  }

  /**
   * A log directory failed: its replicas here stop (a group coordinator among them unloads),
   * and those this broker leads give their leadership up, so that the controller elects another
   * in-sync replica, as Kafka's broker reports a failed directory to its controller.
   */
  private onLogDirFailure(): void {
    for (const p of this.partitions.values()) {
      if (!p.log.offline || p.role === 'offline') continue;
      const led = p.isLeader;
      this.changeRole(p, () => p.goOffline());
      if (!led) continue;
      const state = this.image.partition(p.topic, p.index);
      if (!state || state.leader !== this.opts.nodeId) continue;
      const isr = state.isr.filter((id) => id !== this.opts.nodeId);
      const next = { ...state, leader: NO_LEADER, leaderEpoch: state.leaderEpoch + 1, isr: isr.length > 0 ? isr : state.isr };
      this.opts.store.alterPartition(p.topic, p.index, state.partitionEpoch, next).catch((e: unknown) => {
        log.warn({ partition: p.key, err: (e as Error).message }, 'could not give up the leadership of a partition on a failed disk');
      });
    }
  }

  private assignedHere(topic: string, index: number): boolean {
    const p = this.image.partition(topic, index);
    return p !== undefined && (p.replicas.includes(this.opts.nodeId) || p.adding.includes(this.opts.nodeId));
  }

  private reconcile(topics: Set<string>, deleted: TopicImage[]): void {
    const now = Date.now();
    for (const t of deleted) {
      for (let i = 0; i < t.partitions.length; i++) if (!this.moving.has(keyOf(t.name, i))) this.remove(t.name, i);
      log.info({ topic: t.name }, 'topic deleted');
    }
    for (const name of topics) {
      const t = this.image.topic(name);
      if (!t) continue;
      this.opts.logs.reconfigure(name);
      const missing: number[] = [];
      const unopened: number[] = [];
      let cause: unknown;
      for (let i = 0; i < t.partitions.length; i++) {
        const state = t.partitions[i];
        // A move puts the partition back in service, as the image then has it.
        if (this.moving.has(keyOf(name, i))) continue;
        let p = this.partitions.get(name, i);
        if (p && p.topicId !== t.id) {
          // The topic was deleted and created again under the same name.
          this.remove(name, i);
          p = undefined;
        }
        if (!this.assignedHere(name, i)) {
          if (p) this.remove(name, i);
          continue;
        }
        if (!p) {
          const wasThere = this.opts.logs.get(name, i) !== undefined;
          const attached = this.attach(t, i);
          if (!(attached instanceof Partition)) {
            if (attached !== null) {
              unopened.push(i);
              cause = attached.cause;
            }
            continue;
          }
          p = attached;
          if (!wasThere && this.starting && this.opts.store.kind === 'embedded') missing.push(i);
        }
        if (p.log.offline) {
          this.changeRole(p, () => p.goOffline());
          continue;
        }
        this.changeRole(p, () => p.applyState(state, now));
      }
      if (missing.length > 0) log.warn({ topic: name, partitions: missing }, 'partition logs listed in the metadata were missing on disk: created empty');
      if (unopened.length > 0) log.warn({ topic: name, partitions: unopened, err: cause }, 'partition logs could not be opened: those partitions are offline here');
    }
  }

  /** Applies a state change and routes the partition: a follower fetches from its (maybe new) leader. */
  private changeRole(p: Partition, change: () => void): void {
    const before = { role: p.role, leader: p.leaderId, epoch: p.leaderEpoch };
    change();
    if (p.role === 'follower') {
      if (before.role !== 'follower' || before.leader !== p.leaderId || before.epoch !== p.leaderEpoch) this.routing?.follow(p);
    } else if (before.role === 'follower') this.routing?.unfollow(p);
    if (before.role !== p.role) for (const l of this.roleListeners) l(p, before.role);
  }

  /**
   * The partition of a replica assigned here, with its log opened or made. A log of another
   * topic by the same name (deleted and made again while this broker was away) is replaced.
   * When the log cannot be opened or made: why, the first time, then null (reported once).
   */
  private attach(t: TopicImage, index: number, knownHighWatermark?: number): Partition | { cause: unknown } | null {
    const key = keyOf(t.name, index);
    try {
      let partitionLog = this.opts.logs.get(t.name, index);
      let listing = partitionLog?.takeOpeningListing() ?? null;
      if (partitionLog && !partitionLog.offline) {
        const id = readPartitionTopicId(partitionLog.dir, listing);
        if (id !== null && id !== t.id) {
          log.warn({ partition: key, found: id, topicId: t.id }, 'a log of an earlier topic of the same name: replaced');
          this.opts.logs.delete(t.name, index);
          partitionLog = undefined;
        } else if (id === null) writePartitionTopicId(partitionLog.dir, t.id);
      }
      if (!partitionLog) {
        this.opts.logs.createLogs(t.name, [index]);
        partitionLog = this.opts.logs.get(t.name, index)!;
        listing = partitionLog.takeOpeningListing();
        writePartitionTopicId(partitionLog.dir, t.id);
      }
      const hw =
        knownHighWatermark ?? (this.opts.store.kind === 'embedded' ? partitionLog.logEndOffset : (this.opts.logs.checkpointedHighWatermark(t.name, index) ?? 0));
      const p = new Partition(t.name, index, t.id, partitionLog, this.opts.nodeId, this.isrWriter, hw, listing);
      this.partitions.set(t.name, index, p);
      this.reportedOffline.delete(key);
      return p;
    } catch (e) {
      if (this.reportedOffline.has(key)) return null;
      this.reportedOffline.add(key);
      return { cause: e };
    }
  }

  private readonly isrWriter: IsrWriter = {
    write: (p, isr) => this.writeIsr(p, isr),
    mayJoin: (brokerId) => this.image.isAvailable(brokerId),
  };

  /** An ISR change, compare-and-set on the partition epoch this leader knows. */
  private async writeIsr(p: Partition, isr: number[]): Promise<boolean> {
    const current = this.image.partition(p.topic, p.index);
    if (!current || current.leader !== this.opts.nodeId || current.partitionEpoch !== p.partitionEpoch) return false;
    if (isr.some((id) => !current.isr.includes(id) && !this.isrWriter.mayJoin(id))) return false;
    const committed = await this.opts.store.alterPartition(p.topic, p.index, p.partitionEpoch, { ...current, isr });
    if (committed) this.isrChanges[isr.length > current.isr.length ? 'expands' : 'shrinks']++;
    return committed;
  }

  /** Drops a replica here: stops following, tells the listeners, deletes its log. */
  private remove(topic: string, index: number): void {
    const key = keyOf(topic, index);
    const p = this.partitions.get(topic, index);
    this.reportedOffline.delete(key);
    if (p) {
      this.partitions.delete(topic, index);
      this.changeRole(p, () => p.goOffline());
    }
    try {
      this.opts.logs.delete(topic, index);
    } catch (e) {
      log.error({ partition: key, err: e }, 'a partition log could not be deleted: the next start deletes it');
    }
  }

  get(topic: string, index: number): Partition | undefined {
    return this.partitions.get(topic, index);
  }

  /** Whether a partition's log is moving to another directory (AlterReplicaLogDirs). */
  isMoving(topic: string, index: number): boolean {
    return this.moving.has(keyOf(topic, index)) || this.opts.logs.futureLogs().some((m) => m.topic === topic && m.partition === index);
  }

  /**
   * AlterReplicaLogDirs: moves a replica's log to the log directory `dir`, online. The closed
   * segments are copied while the partition serves; then it is out of service (requests get
   * NOT_LEADER_OR_FOLLOWER and retry) while its log closes, the rest is copied and made durable,
   * the copy is renamed into place and opened; then it serves again from there, with its role
   * as the image gives it. A request for a partition already moving takes effect after the move.
   */
  moveToDir(topic: string, index: number, dir: string): Promise<void> {
    const key = keyOf(topic, index);
    const running = this.moving.get(key) ?? this.precopying.get(key);
    if (running) {
      running.next = dir;
      return running.done;
    }
    const entry = { done: Promise.resolve(), next: null as string | null };
    this.precopying.set(key, entry);
    entry.done = this.move(topic, index, dir, entry).finally(() => {
      this.precopying.delete(key);
      this.moving.delete(key);
      const next = entry.next;
      if (next !== null && this.opts.logs.dirOfLog(topic, index) !== next && this.partitions.has(topic, index)) {
        this.moveToDir(topic, index, next).catch((e: unknown) => log.warn({ partition: key, err: (e as Error).message }, 'log directory move failed'));
      }
    });
    return entry.done;
  }

  private readonly precopying = new Map<string, { done: Promise<void>; next: string | null }>();

  private async move(topic: string, index: number, dir: string, entry: { done: Promise<void>; next: string | null }): Promise<void> {
    const key = keyOf(topic, index);
    const p = this.partitions.get(topic, index);
    if (!p || p.log.offline) throw new Error(`${key} is not served here`);
    const move = await this.opts.logs.startMove(topic, index, dir);
    const current = this.partitions.get(topic, index);
    if (current !== p || p.log.offline) {
      this.opts.logs.abandonMove(move);
      throw new Error(`${key} changed while its log was copied`);
    }
    // Out of service: nothing appends from here until the log is open in its new place.
    this.precopying.delete(key);
    this.moving.set(key, entry);
    this.partitions.delete(topic, index);
    this.changeRole(p, () => p.goOffline());
    try {
      await this.opts.logs.completeMove(move);
    } finally {
      this.moving.delete(key);
      this.reattach(topic, index, p.highWatermark);
    }
  }

  /** A moved partition back in service, as the image has it now (or its log deleted, if the image dropped it meanwhile). */
  private reattach(topic: string, index: number, highWatermark: number): void {
    const t = this.image.topic(topic);
    if (!t || !this.assignedHere(topic, index)) {
      this.deleteLog(topic, index);
      return;
    }
    // A log that could not be opened again stays offline here rather than be made anew, empty.
    if (!this.opts.logs.get(topic, index)) return;
    const attached = this.attach(t, index, highWatermark);
    if (!(attached instanceof Partition)) return;
    if (attached.log.offline) this.changeRole(attached, () => attached.goOffline());
    else this.changeRole(attached, () => attached.applyState(t.partitions[index], Date.now()));
  }

  /**
   * The partition to serve, or the Kafka error for why there is none: UNKNOWN_TOPIC_OR_PARTITION
   * when the image does not list it; NOT_LEADER_OR_FOLLOWER when it has no replica here;
   * KAFKA_STORAGE_ERROR, Kafka's answer for a partition on an offline log directory, when its
   * replica here has no usable log.
   */
  lookup(topic: string, index: number): Partition | number {
    if (index < 0 || index >= this.partitionCount(topic)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const p = this.partitions.get(topic, index);
    // The directory's failure is logged where it happens, once.
    if (p) return p.log.offline ? ErrorCode.KAFKA_STORAGE_ERROR : p;
    const key = keyOf(topic, index);
    // Moving to another log directory, for the moment it takes to close, copy and reopen: clients retry.
    if (this.moving.has(key)) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (!this.assignedHere(topic, index)) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (!this.reportedOffline.has(key)) {
      this.reportedOffline.add(key);
      log.warn({ partition: key }, 'the metadata assigns this partition here but the broker has no log for it: it is offline');
    }
    return ErrorCode.KAFKA_STORAGE_ERROR;
  }

  /**
   * The partition if this broker leads it and may write to it now; else the error a client
   * should act on: NOT_LEADER_OR_FOLLOWER sends it to the leader the metadata names, which
   * includes this broker while it cannot prove its registration is alive (etcd away too long).
   */
  lookupLeader(topic: string, index: number): Partition | number {
    const p = this.lookup(topic, index);
    if (typeof p === 'number') return p;
    if (p.role !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return p;
  }

  /** How many partitions the image gives a topic, served here or not (0: no such topic). */
  partitionCount(topic: string): number {
    return this.image.topic(topic)?.partitions.length ?? 0;
  }

  /** Partitions this broker should serve but cannot: no log, or a log in a failed directory. */
  offlineCount(): number {
    let n = 0;
    for (const t of this.image.allTopics()) {
      for (let i = 0; i < t.partitions.length; i++) {
        if (!this.assignedHere(t.name, i)) continue;
        const p = this.partitions.get(t.name, i);
        if (!p || p.log.offline) n++;
      }
    }
    return n;
  }

  all(): Partition[] {
    return [...this.partitions.values()];
  }

  /** The topic's partitions that have a replica here, by index; offline ones are left out. */
  ofTopic(topic: string): Partition[] {
    const out: Partition[] = [];
    for (let i = 0; i < this.partitionCount(topic); i++) {
      const p = this.partitions.get(topic, i);
      if (p && !p.log.offline) out.push(p);
    }
    return out;
  }

  /**
   * Creates a topic with the given replica assignment (one list of brokers per partition, the
   * preferred leader first): the logs of the replicas here first, then the metadata. Throws,
   * keeping nothing, when a log cannot be made or the metadata refuses the topic.
   */
  async createTopic(name: string, assignment: number[][], configs: Record<string, string>): Promise<TopicImage> {
    const topic: TopicImage = { name, id: newTopicId(), configs, partitions: assignment.map(initialState) };
    await this.withLocalLogs(topic, 0, (t) => this.opts.store.createTopic(t));
    return this.image.topic(name) ?? topic;
  }

  async addPartitions(name: string, assignment: number[][]): Promise<void> {
    const t = this.image.topic(name);
    if (!t) throw new Error(`topic ${name} does not exist`);
    const added = assignment.map(initialState);
    const grown: TopicImage = { ...t, partitions: [...t.partitions, ...added] };
    await this.withLocalLogs(grown, t.partitions.length, () => this.opts.store.addPartitions(name, added));
  }

  /** Makes this broker's logs of `topic`'s partitions from `from` on, runs `write`, and deletes the logs again if anything fails. */
  private async withLocalLogs(topic: TopicImage, from: number, write: (t: TopicImage) => Promise<void>): Promise<void> {
    const here: number[] = [];
    for (let i = from; i < topic.partitions.length; i++) if (topic.partitions[i].replicas.includes(this.opts.nodeId)) here.push(i);
    this.opts.logs.createLogs(topic.name, here, this.opts.logConfigFor(topic.name, topic.configs));
    try {
      for (const i of here) {
        const made = this.opts.logs.get(topic.name, i)!;
        writePartitionTopicId(made.dir, topic.id);
        // Dropped: the listing taken as the log was made lacks the file just written, and would
        // have the partition's attach write it a second time; without one, attach reads it.
        made.takeOpeningListing();
      }
      await write(topic);
    } catch (e) {
      for (const i of here) if (!this.partitions.has(topic.name, i)) this.deleteLog(topic.name, i);
      throw e;
    }
  }

  private deleteLog(topic: string, index: number): void {
    try {
      this.opts.logs.delete(topic, index);
    } catch {
      log.error({ partition: keyOf(topic, index) }, 'a partition log could not be deleted: the next start deletes it');
    }
  }

  async deleteTopic(name: string): Promise<void> {
    await this.opts.store.deleteTopic(name);
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    await this.opts.store.setTopicConfigs(name, configs);
  }
}

/** A new partition: its preferred replica leads, every replica in sync (they are all empty). */
export function initialState(replicas: number[]): PartitionImage {
  return { replicas, isr: [...replicas], leader: replicas[0] ?? NO_LEADER, leaderEpoch: 0, partitionEpoch: 0, adding: [], removing: [] };
}
