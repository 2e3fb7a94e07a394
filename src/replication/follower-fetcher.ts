import { BrokerConnection } from '../client/connection.js';
import { FetchSessionState } from '../client/fetch-session-state.js';
import { log } from '../log.js';
import type { MetadataStore } from '../metadata/store.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { FetchResponsePartitionData } from '../protocol/generated/messages/fetch-response.js';
import { UNDEFINED_EPOCH, UNDEFINED_OFFSET } from './leader-epoch-cache.js';
import type { Partition } from './partition.js';
import type { FollowerRouting } from './replica-manager.js';

export interface FetcherSettings {
  nodeId: number;
  store: MetadataStore;
  /** The listener brokers reach each other on (inter.broker.listener.name). */
  listenerName: string;
  /** replica.fetch.wait.max.ms, replica.fetch.min.bytes, replica.fetch.max.bytes, replica.fetch.response.max.bytes. */
  waitMaxMs: number;
  minBytes: number;
  partitionMaxBytes: number;
  responseMaxBytes: number;
  /** replica.fetch.backoff.ms: the pause after an error. */
  backoffMs: number;
}

/** What a fetcher does next for a partition it follows. */
interface Followed {
  partition: Partition;
  /** It must first cut off what diverges from the leader (KIP-101/279). */
  truncating: boolean;
  /** Not before this time, after an error. */
  notBefore: number;
}

/**
 * The followers of this broker: one fetcher per leader broker, each fetching all the partitions
 * this broker follows from it in one Fetch at a time (Kafka's replica fetcher threads).
 */
export class FollowerFetchers implements FollowerRouting {
  private readonly fetchers = new Map<number, LeaderFetcher>();
  private closed = false;

  constructor(private readonly settings: FetcherSettings) {}

  follow(partition: Partition): void {
    if (this.closed) return;
    this.unfollow(partition);
    // Taken once: the partition moves to other leaders later, and a fetcher that goes idle must
    // remove its own entry, not its partition's next leader's, which would then run on unstopped.
    const leaderId = partition.leaderId;
    let fetcher = this.fetchers.get(leaderId);
    if (!fetcher) {
      const created = new LeaderFetcher(leaderId, this.settings, () => {
        if (this.fetchers.get(leaderId) === created) this.fetchers.delete(leaderId);
      });
      fetcher = created;
      this.fetchers.set(leaderId, fetcher);
    }
    fetcher.add(partition);
  }

  unfollow(partition: Partition): void {
    for (const f of this.fetchers.values()) f.remove(partition);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    this.fetchers.clear();
  }
}

/**
 * The fetch loop towards one leader. It keeps a fetch session with it (KIP-227), as Kafka's
 * followers do: a round names only the partitions whose position moved, and the answer carries
 * only those the leader has something new for.
 */
class LeaderFetcher {
  private readonly followed = new Map<string, Followed>();
  private readonly session = new FetchSessionState();
  private conn: BrokerConnection | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly leaderId: number,
    private readonly s: FetcherSettings,
    private readonly onIdle: () => void,
  ) {}

  add(partition: Partition): void {
    if (this.stopped) return;
    this.followed.set(partition.key, { partition, truncating: true, notBefore: 0 });
    this.wake?.();
    this.running ??= this.loop();
  }

  remove(partition: Partition): void {
    const f = this.followed.get(partition.key);
    if (f?.partition === partition) this.followed.delete(partition.key);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.conn?.close();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.followed.size > 0) {
      try {
        const conn = await this.connection();
        const now = Date.now();
        const ready = [...this.followed.values()].filter((f) => f.notBefore <= now);
        const truncating = ready.filter((f) => f.truncating);
        if (truncating.length > 0) await this.truncate(conn, truncating);
        const fetching = ready.filter((f) => !f.truncating && this.followed.get(f.partition.key) === f);
        if (fetching.length > 0) await this.fetch(conn, fetching);
        else await this.pause(this.s.backoffMs);
      } catch (e) {
        if (!this.stopped) log.debug({ leader: this.leaderId, err: (e as Error).message }, 'replica fetch failed');
        this.session.reset();
        this.conn?.close();
        this.conn = null;
        await this.pause(this.s.backoffMs);
      }
    }
    // In the same step as the last check of `followed`: a partition added after this starts a new loop.
    this.running = null;
    if (this.followed.size === 0) this.onIdle();
  }

  /** Waits `ms`, or less when a partition is added or the fetcher stops. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async connection(): Promise<BrokerConnection> {
    if (this.conn?.isOpen) return this.conn;
    const broker = this.s.store.image.brokers.get(this.leaderId);
    const endpoint = broker?.endpoints.find((e) => e.name === this.s.listenerName) ?? broker?.endpoints[0];
    if (!endpoint) throw new Error(`leader ${this.leaderId} is not registered`);
    this.conn = await BrokerConnection.open(endpoint.host, endpoint.port, `sluice-replica-${this.s.nodeId}`, 5000);
    return this.conn;
  }

  /**
   * Kafka's truncation by leader epoch: the leader says where its log leaves this replica's
   * latest epoch, and this replica cuts everything after (a round more when the leader knows
   * only an older epoch, as KIP-279 describes).
   */
  private async truncate(conn: BrokerConnection, list: Followed[]): Promise<void> {
    const byTopic = new Map<string, Followed[]>();
    for (const f of list) {
      if (f.partition.epochs.latestEpoch === UNDEFINED_EPOCH) {
        // Nothing to compare: an empty log needs nothing cut; one without epochs keeps what is committed.
        if (f.partition.log.logEndOffset > 0) this.cut(f.partition, f.partition.highWatermark);
        f.truncating = false;
        continue;
      }
      const group = byTopic.get(f.partition.topic) ?? [];
      group.push(f);
      byTopic.set(f.partition.topic, group);
    }
    if (byTopic.size === 0) return;
    const res = await conn.send('OffsetForLeaderEpoch', {
      replicaId: this.s.nodeId,
      topics: [...byTopic].map(([topic, fs]) => ({
        topic,
        partitions: fs.map((f) => ({ partition: f.partition.index, currentLeaderEpoch: f.partition.leaderEpoch, leaderEpoch: f.partition.epochs.latestEpoch })),
      })),
    });
    for (const t of res.topics) {
      for (const r of t.partitions) {
        const f = byTopic.get(t.topic)?.find((x) => x.partition.index === r.partition);
        if (!f || this.followed.get(f.partition.key) !== f) continue;
        if (r.errorCode !== ErrorCode.NONE) {
          f.notBefore = Date.now() + this.s.backoffMs;
          continue;
        }
        const p = f.partition;
        const leaderEnd = Number(r.endOffset);
        if (r.leaderEpoch === UNDEFINED_EPOCH || leaderEnd === UNDEFINED_OFFSET) {
          this.cut(p, leaderEnd === UNDEFINED_OFFSET ? p.highWatermark : leaderEnd);
          f.truncating = false;
          continue;
        }
        const mine = p.epochs.endOffsetFor(r.leaderEpoch, p.log.logEndOffset);
        if (mine.epoch !== r.leaderEpoch && mine.epoch !== UNDEFINED_EPOCH) {
          // The leader's epoch is not this log's: cut to where this log's own older epoch ends and ask again.
          this.cut(p, mine.startOffset);
          continue;
        }
        this.cut(p, mine.epoch === UNDEFINED_EPOCH ? leaderEnd : Math.min(leaderEnd, mine.startOffset));
        f.truncating = false;
      }
    }
  }

  private cut(p: Partition, offset: number): void {
    if (offset < 0 || offset >= p.log.logEndOffset) return;
    log.info({ partition: p.key, from: offset, logEnd: p.log.logEndOffset, leader: this.leaderId }, 'truncating what diverges from the leader');
    p.log.truncateTo(offset);
    p.clampHighWatermark();
  }

  private async fetch(conn: BrokerConnection, list: Followed[]): Promise<void> {
    const byTopic = new Map<string, Followed[]>();
    for (const f of list) {
      const group = byTopic.get(f.partition.topic) ?? [];
      group.push(f);
      byTopic.set(f.partition.topic, group);
    }
    const version = conn.versionFor('Fetch');
    const wanted = [...byTopic].map(([topic, fs]) => ({
      topic,
      topicId: fs[0].partition.topicId,
      partitions: fs.map((f) => ({
        partition: f.partition.index,
        currentLeaderEpoch: f.partition.leaderEpoch,
        fetchOffset: BigInt(f.partition.log.logEndOffset),
        lastFetchedEpoch: f.partition.epochs.latestEpoch,
        logStartOffset: BigInt(f.partition.log.logStartOffset),
        partitionMaxBytes: this.s.partitionMaxBytes,
        replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
      })),
    }));
    const res = await conn.send('Fetch', {
      clusterId: null,
      // The follower says who it is in replicaId up to v14, in replicaState from v15.
      replicaId: version >= 15 ? -1 : this.s.nodeId,
      replicaState: { replicaId: version >= 15 ? this.s.nodeId : -1, replicaEpoch: version >= 15 ? BigInt(this.s.store.brokerEpoch) : -1n },
      maxWaitMs: this.s.waitMaxMs,
      minBytes: this.s.minBytes,
      maxBytes: this.s.responseMaxBytes,
      isolationLevel: 0,
      ...this.session.next(wanted),
      rackId: '',
    });
    if (res.errorCode !== ErrorCode.NONE) throw new Error(`fetch from leader ${this.leaderId} failed with error ${res.errorCode}`);
    this.session.answered(res.sessionId);
    const now = Date.now();
    for (const t of res.responses) {
      const group = byTopic.get(t.topic) ?? [...byTopic.values()].find((fs) => fs[0].partition.topicId === t.topicId) ?? [];
      for (const data of t.partitions) {
        const f = group.find((x) => x.partition.index === data.partitionIndex);
        if (f && this.followed.get(f.partition.key) === f) this.handle(f, data, now);
      }
    }
  }

  private handle(f: Followed, data: FetchResponsePartitionData, now: number): void {
    const p = f.partition;
    switch (data.errorCode) {
      case ErrorCode.NONE: {
        const records = data.records as Buffer | null;
        try {
          if (records && records.length > 0) p.appendAsFollower(records, Number(data.highWatermark), now);
          else p.followHighWatermark(Number(data.highWatermark));
          const leaderStart = Number(data.logStartOffset);
          // The leader deleted records (retention, DeleteRecords): so does its follower.
          if (leaderStart > p.log.logStartOffset && leaderStart <= p.log.logEndOffset) p.log.deleteRecordsBefore(leaderStart);
        } catch (e) {
          log.warn({ partition: p.key, err: (e as Error).message }, 'could not append what the leader sent');
          f.notBefore = now + this.s.backoffMs;
        }
        return;
      }
      case ErrorCode.OFFSET_OUT_OF_RANGE:
        // Behind the leader's log start (it deleted what this replica lacks), or ahead of its end.
        if (Number(data.logStartOffset) > p.log.logEndOffset) {
          log.info({ partition: p.key, from: Number(data.logStartOffset) }, 'the leader no longer has this log end: starting over at its log start');
          p.log.truncateFullyAndStartAt(Number(data.logStartOffset));
          p.clampHighWatermark();
        } else f.truncating = true;
        return;
      default:
        // Not the leader (yet or any more), an epoch one of us has not seen, a topic not loaded:
        // the metadata catches up, and the fetch is tried again.
        f.notBefore = now + this.s.backoffMs;
    }
  }
}
