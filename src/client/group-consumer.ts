import { ErrorCode } from '../protocol/generated/errors.js';
import { ConsumerProtocolSubscriptionCodec } from '../protocol/generated/messages/consumer-protocol-subscription.js';
import type { JoinGroupResponseMember } from '../protocol/generated/messages/join-group-response.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeVersioned } from '../protocol/consumer-protocol.js';
import { check, type KafkaClient } from './kafka-client.js';
import { commitOffsets, committedOffsets, coordinatorRequest, type PartitionOffset, type TopicPartitions } from './group-offsets.js';

const PROTOCOL_TYPE = 'consumer';
const ASSIGNOR = 'range';

/**
 * Kafka's range assignor: for each topic, its partitions in order are cut into consecutive
 * ranges, one per subscribed member in member-id order, the first members taking one extra
 * when the count does not divide evenly.
 */
export function rangeAssign(subscriptions: ReadonlyMap<string, readonly string[]>, partitionCounts: ReadonlyMap<string, number>): Map<string, TopicPartitions[]> {
  const out = new Map<string, TopicPartitions[]>([...subscriptions.keys()].map((m) => [m, []]));
  for (const [topic, count] of partitionCounts) {
    const members = [...subscriptions].filter(([, topics]) => topics.includes(topic)).map(([m]) => m).sort();
    if (members.length === 0) continue;
    const base = Math.floor(count / members.length);
    const extra = count % members.length;
    let next = 0;
    members.forEach((m, i) => {
      const n = base + (i < extra ? 1 : 0);
      if (n > 0) out.get(m)!.push({ topic, partitions: Array.from({ length: n }, (_, k) => next + k) });
      next += n;
    });
  }
  return out;
}

export interface GroupMemberOptions {
  groupId: string;
  topics: string[];
  /** Default 10 s. */
  sessionTimeoutMs?: number;
  /** How long a rebalance may wait for members to rejoin; default 30 s. */
  rebalanceTimeoutMs?: number;
  /** Default a third of the session timeout. */
  heartbeatIntervalMs?: number;
}

/** Errors that mean the group moved to a new generation without us: rejoin, then carry on. */
const REJOIN = new Set<number>([ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_INSTANCE_ID]);

/**
 * A member of a classic consumer group (the JoinGroup/SyncGroup protocol with the "consumer"
 * protocol type and the range assignor), for a consumer that fetches by itself: `join()` gives
 * the partitions to read, heartbeats keep the membership alive in the background, and
 * `needsRejoin` turns true when the group rebalances; the consumer then commits what it has
 * processed and calls `join()` again.
 */
export class GroupMember {
  memberId = '';
  generationId = -1;
  private rejoin = true;
  private heartbeats: symbol | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly sessionTimeoutMs: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;

  constructor(
    private readonly client: KafkaClient,
    private readonly options: GroupMemberOptions,
  ) {
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.floor(this.sessionTimeoutMs / 3);
  }

  get groupId(): string {
    return this.options.groupId;
  }

  get needsRejoin(): boolean {
    return this.rejoin;
  }

  /** Joins (or rejoins) the group and returns this member's partitions. */
  async join(): Promise<TopicPartitions[]> {
    this.stopHeartbeats();
    const { groupId } = this.options;
    const metadata = encodeVersioned(ConsumerProtocolSubscriptionCodec, { topics: this.options.topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null }, 0);
    for (;;) {
      const joined = await coordinatorRequest(
        this.client,
        groupId,
        'JoinGroup',
        () => ({
          groupId,
          sessionTimeoutMs: this.sessionTimeoutMs,
          rebalanceTimeoutMs: this.rebalanceTimeoutMs,
          memberId: this.memberId,
          groupInstanceId: null,
          protocolType: PROTOCOL_TYPE,
          protocols: [{ name: ASSIGNOR, metadata }],
          reason: null,
        }),
        (r) => r.errorCode,
      );
      // Since JoinGroup v4 a new member is first handed an id and must join again with it.
      if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = joined.memberId;
        continue;
      }
      if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = '';
        continue;
      }
      if (joined.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue;
      check(joined.errorCode, `join group ${groupId}`);
      this.memberId = joined.memberId;
      this.generationId = joined.generationId;

      const assignments = joined.leader === joined.memberId ? await this.assign(joined.members) : [];
      const synced = await coordinatorRequest(
        this.client,
        groupId,
        'SyncGroup',
        () => ({ groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null, protocolType: PROTOCOL_TYPE, protocolName: ASSIGNOR, assignments }),
        (r) => r.errorCode,
      );
      if (synced.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
      if (REJOIN.has(synced.errorCode)) continue;
      check(synced.errorCode, `sync group ${groupId}`);
      this.rejoin = false;
      this.startHeartbeats();
      return decodeAssignment(synced.assignment);
    }
  }

  /** As the leader: the range assignment of every member's subscription. */
  private async assign(members: JoinGroupResponseMember[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = new Map(members.map((m) => [m.memberId, decodeSubscription(m.metadata).topics]));
    const topics = [...new Set([...subscriptions.values()].flat())];
    const md = await this.client.retrying(() => this.client.metadata(topics));
    // Topics that do not exist (yet) are simply not assigned, as in Kafka.
    const counts = new Map(md.topics.filter((t) => t.errorCode === ErrorCode.NONE && t.name !== null).map((t) => [t.name!, t.partitions.length]));
    return [...rangeAssign(subscriptions, counts)].map(([memberId, assigned]) => ({ memberId, assignment: encodeAssignment(assigned) }));
  }

  /**
   * Heartbeats every interval until stopped. Each start is its own chain, so a heartbeat still
   * in flight from before a rejoin ends its chain instead of doubling the new one.
   */
  private startHeartbeats(): void {
    const chain = Symbol('heartbeats');
    this.heartbeats = chain;
    const next = (): void => {
      this.heartbeatTimer = setTimeout(() => {
        // A failed heartbeat is retried at the next interval; the session timeout is the judge.
        this.sendHeartbeat()
          .catch(() => {})
          .finally(() => {
            if (this.heartbeats === chain) next();
          });
      }, this.heartbeatIntervalMs);
      // Heartbeats never keep a finished consumer's process alive.
      this.heartbeatTimer.unref();
    };
    next();
  }

  private stopHeartbeats(): void {
    this.heartbeats = null;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async sendHeartbeat(): Promise<void> {
    const { groupId } = this.options;
    const res = await coordinatorRequest(this.client, groupId, 'Heartbeat', () => ({ groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null }), (r) => r.errorCode);
    this.noteError(res.errorCode);
  }

  /** Flags a rejoin for errors that call for one; a member the group forgot starts afresh. */
  private noteError(code: number): boolean {
    if (!REJOIN.has(code)) return false;
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
    this.rejoin = true;
    return true;
  }

  /** The committed offsets of these partitions (-1n where the group has none). */
  committed(partitions: TopicPartitions[]): Promise<PartitionOffset[]> {
    return committedOffsets(this.client, this.options.groupId, partitions);
  }

  /**
   * Commits processed positions (the offsets to read next). Returns false, and flags a rejoin,
   * when the group has moved to a new generation: the commit was refused and whoever gets these
   * partitions reads them again from the previous commit.
   */
  async commit(offsets: readonly PartitionOffset[]): Promise<boolean> {
    if (offsets.length === 0) return true;
    const code = await commitOffsets(this.client, this.options.groupId, offsets, this.generationId, this.memberId);
    if (this.noteError(code)) return false;
    check(code, `commit offsets of group ${this.options.groupId}`);
    return true;
  }

  /** Leaves the group at once, so the others rebalance now rather than after a session timeout. */
  async leave(): Promise<void> {
    this.stopHeartbeats();
    if (this.memberId === '') return;
    const { groupId } = this.options;
    const memberId = this.memberId;
    this.memberId = '';
    this.rejoin = true;
    const res = await coordinatorRequest(
      this.client,
      groupId,
      'LeaveGroup',
      (v) => (v >= 3 ? { groupId, memberId: '', members: [{ memberId, groupInstanceId: null, reason: null }] } : { groupId, memberId, members: [] }),
      (r) => r.errorCode,
    );
    // A member the group already dropped has left as well.
    if (res.errorCode !== ErrorCode.UNKNOWN_MEMBER_ID) check(res.errorCode, `leave group ${groupId}`);
  }
}
