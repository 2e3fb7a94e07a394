import { randomBytes } from 'node:crypto';
import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { Reader } from '../protocol/primitives/reader.js';
import { ConsumerGroupMetadataKeyCodec } from '../protocol/generated/group-coordinator/consumer-group-metadata-key.js';
import { ConsumerGroupMetadataValueCodec } from '../protocol/generated/group-coordinator/consumer-group-metadata-value.js';
import { ConsumerGroupMemberMetadataKeyCodec } from '../protocol/generated/group-coordinator/consumer-group-member-metadata-key.js';
import { ConsumerGroupMemberMetadataValueCodec, type ConsumerGroupMemberMetadataValue } from '../protocol/generated/group-coordinator/consumer-group-member-metadata-value.js';
import { ConsumerGroupCurrentMemberAssignmentKeyCodec } from '../protocol/generated/group-coordinator/consumer-group-current-member-assignment-key.js';
import {
  ConsumerGroupCurrentMemberAssignmentValueCodec,
  type ConsumerGroupCurrentMemberAssignmentValue,
} from '../protocol/generated/group-coordinator/consumer-group-current-member-assignment-value.js';
import type { Partition } from '../replication/partition.js';
import { ConsumerProtocolSubscriptionCodec } from '../protocol/generated/messages/consumer-protocol-subscription.js';
import { ConsumerProtocolAssignmentCodec } from '../protocol/generated/messages/consumer-protocol-assignment.js';
import { coordinatorWriteError, innerMap, versionedRecord, type CoordinatorRecord } from './coordinator-log.js';
import type { GroupLog } from './group-log.js';
import { joinError, syncError, type JoinRequest, type MemberRef, type SyncRequest } from './group-coordinator.js';
import { Member as ClassicMember, type Protocol } from './group.js';
import { createJoinGroupResponse, type JoinGroupResponse } from '../protocol/generated/messages/join-group-response.js';
import { createSyncGroupResponse, type SyncGroupResponse } from '../protocol/generated/messages/sync-group-response.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, type NamedPartitions } from '../protocol/consumer-protocol.js';
import { assignorsFromConfig, type AssignableTopic, type Assignor, type AssignorMember } from './assignors.js';

/** topicId -> partitions. */
export type TopicPartitions = Map<string, Set<number>>;

/** Member states of Kafka's CurrentAssignmentBuilder, with the numbers its records use. */
export const MemberState = { STABLE: 0, UNREVOKED_PARTITIONS: 1, UNRELEASED_PARTITIONS: 2 } as const;
type MemberStateId = (typeof MemberState)[keyof typeof MemberState];

/** The epoch a static member leaves with when it means to come back (KIP-848). */
const STATIC_LEAVE_EPOCH = -2;

/** __consumer_offsets key versions (record types) of the consumer group records. */
const KEY = { METADATA: 3, PARTITION_METADATA: 4, MEMBER_METADATA: 5, TARGET_METADATA: 6, TARGET_MEMBER: 7, CURRENT_ASSIGNMENT: 8 } as const;

export interface ConsumerGroupSettings {
  /** group.consumer.assignors: the first is the default. */
  assignors: string[];
  /** group.consumer.session.timeout.ms. */
  sessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms. */
  heartbeatIntervalMs: number;
  /** group.consumer.migration.policy: which way a group may switch protocols while it has members. */
  migrationPolicy: MigrationPolicy;
}

export type MigrationPolicy = 'bidirectional' | 'upgrade' | 'downgrade' | 'disabled';

/** What this coordinator asks of the classic one for KIP-848's online migration. */
export interface ClassicGroups {
  /** Whether a classic group with members has this id. */
  isActive(groupId: string): boolean;
  /** A classic group's members, when it may become a consumer group; else why not. */
  stableMembers(groupId: string): { generationId: number; protocolName: string | null; members: ClassicMember[] } | string;
  /** Drops a classic group's members: a consumer group has taken them over. */
  release(groupId: string): void;
  /** Takes a consumer group's members back as a classic group, which then rebalances. */
  adopt(groupId: string, generationId: number, members: ClassicMember[]): void;
}

/** A member speaking the classic protocol (JoinGroup, SyncGroup, Heartbeat) inside a consumer group. */
export interface ClassicProtocols {
  sessionTimeoutMs: number;
  protocols: Protocol[];
}

const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** The topics the coordinator can see (the metadata image). */
export interface TopicsView {
  allTopics(): { name: string; id: string; partitions: unknown[] }[];
  topic(name: string): { name: string; id: string; partitions: unknown[] } | undefined;
  topicById(id: string): { name: string; id: string; partitions: unknown[] } | undefined;
}

/** What the classic coordinator asks of this one (see GroupCoordinator.consumerGroups). */
export interface ConsumerGroupsHook {
  loadPartition(partition: Partition): void;
  unloadPartition(index: number): void;
  /** undefined: not a consumer group, the classic checks apply. */
  commitCheck(ref: MemberRef, apiVersion: number): number | undefined;
  /** A consumer group with members: its offsets do not expire, classic members join it (below). */
  isActive(groupId: string): boolean;
  /** The classic protocol's requests for a consumer group's members; undefined: not a consumer group with members. */
  classicJoin(req: JoinRequest): Promise<JoinGroupResponse> | undefined;
  classicSync(req: SyncRequest): SyncGroupResponse | undefined;
  classicHeartbeat(ref: MemberRef): number | undefined;
  classicLeave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]): { topError: number; results: number[] } | undefined;
  /** undefined: no such consumer group. */
  deleteGroup(groupId: string): Promise<number | undefined>;
  close(): void;
  /** ListGroups: the consumer groups, type `consumer`. */
  listed(): { groupId: string; state: ConsumerGroupStateName }[];
  /** DescribeGroups: a consumer group as the classic API shows it, or undefined. */
  describedAsClassic(groupId: string): ClassicView | undefined;
}

/** A consumer group as DescribeGroups shows it (Kafka's ConsumerGroup.asDescribedGroup). */
export interface ClassicView {
  state: ConsumerGroupStateName;
  protocolType: string;
  protocolData: string;
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; memberMetadata: Buffer; memberAssignment: Buffer }[];
}

export class ConsumerMember {
  instanceId: string | null = null;
  rackId: string | null = null;
  clientId = '';
  clientHost = '';
  subscribedTopicNames: string[] = [];
  subscribedTopicRegex: string | null = null;
  regex: RegExp | null = null;
  rebalanceTimeoutMs = 300_000;
  serverAssignor: string | null = null;
  memberEpoch = 0;
  previousMemberEpoch = -1;
  state: MemberStateId = MemberState.STABLE;
  assigned: TopicPartitions = new Map();
  pendingRevocation: TopicPartitions = new Map();
  sessionTimer: NodeJS.Timeout | null = null;
  revocationTimer: NodeJS.Timeout | null = null;
  /** The assignment last sent to the member, to send it again only when it changes. */
  lastSent: string | null = null;
  /** Set for a member that joined with JoinGroup (KIP-848's online migration). */
  classic: ClassicProtocols | null = null;
  /** What was last written to __consumer_offsets, to write only changes. */
  persistedMetadata: string | null = null;
  persistedAssignment: string | null = null;

  constructor(readonly memberId: string) {}

  /** Whether the member subscribes to a topic, by name or by its regex. */
  subscribes(topic: string): boolean {
    return this.subscribedTopicNames.includes(topic) || (this.regex !== null && !topic.startsWith('__') && this.regex.test(topic));
  }
}

export type ConsumerGroupStateName = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** instanceId -> memberId. */
  readonly staticMembers = new Map<string, string>();
  /** memberId -> its target assignment (of assignmentEpoch). */
  target = new Map<string, TopicPartitions>();
  /** The subscribed topics' ids and partition counts the target was computed for. */
  subscriptionFingerprint = '';
  assignorName = 'uniform';
  persistedEpoch = -1;
  stateTimestamp = Date.now();

  constructor(readonly groupId: string) {}

  get state(): ConsumerGroupStateName {
    if (this.members.size === 0) return 'Empty';
    if (this.assignmentEpoch < this.groupEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch === STATIC_LEAVE_EPOCH) continue;
      if (m.state !== MemberState.STABLE || m.memberEpoch !== this.assignmentEpoch) return 'Reconciling';
    }
    return 'Stable';
  }
}

export interface HeartbeatRequest {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: { topicId: string; partitions: number[] }[] | null;
}

export interface HeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null;
}

export function toList(tps: TopicPartitions): { topicId: string; partitions: number[] }[] {
  return [...tps]
    .filter(([, parts]) => parts.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topicId, parts]) => ({ topicId, partitions: [...parts].sort((a, b) => a - b) }));
}

export function fromList(list: { topicId: string; partitions: number[] }[]): TopicPartitions {
  const m: TopicPartitions = new Map();
  for (const t of list) {
    let s = m.get(t.topicId);
    if (!s) m.set(t.topicId, (s = new Set()));
    for (const p of t.partitions) s.add(p);
  }
  return m;
}

export function fingerprint(tps: TopicPartitions): string {
  return JSON.stringify(toList(tps));
}

function has(tps: TopicPartitions, topicId: string, p: number): boolean {
  return tps.get(topicId)?.has(p) ?? false;
}

function addTo(tps: TopicPartitions, topicId: string, p: number): void {
  let s = tps.get(topicId);
  if (!s) tps.set(topicId, (s = new Set()));
  s.add(p);
}

function isEmpty(tps: TopicPartitions): boolean {
  for (const s of tps.values()) if (s.size > 0) return false;
  return true;
}

function overlaps(a: TopicPartitions, b: TopicPartitions): boolean {
  for (const [t, parts] of a) for (const p of parts) if (has(b, t, p)) return true;
  return false;
}

/** A member id as Kafka's clients make them: a random UUID in URL-safe base64. */
export function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

function compileRegex(source: string): RegExp | null {
  try {
    // Kafka uses RE2/J and matches the whole topic name; JavaScript's RegExp stands in for it.
    return new RegExp(`^(?:${source})$`);
  } catch {
    return null;
  }
}

function error(errorCode: number, errorMessage: string | null = null, memberId: string | null = null): HeartbeatResult {
  return { errorCode, errorMessage, memberId, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

/**
 * KIP-848's group coordinator for `consumer` groups: members heartbeat (ConsumerGroupHeartbeat),
 * the coordinator computes a target assignment with a server-side assignor whenever the group
 * epoch moves (members, subscriptions or subscribed topics changed) and reconciles each member
 * toward it: a member first revokes what it must give up (keeping its epoch), and a partition
 * is given to its new owner only once no other member owns it. Offsets are the classic
 * coordinator's (the same store, same records). Group state is written to __consumer_offsets
 * in Kafka's ConsumerGroup* record formats and replayed when a broker takes the partition over.
 */
export class ConsumerGroupCoordinator implements ConsumerGroupsHook {
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly assignors: Assignor[];

  constructor(
    private readonly settings: ConsumerGroupSettings,
    private readonly store: GroupLog,
    private readonly topics: TopicsView,
    /** NONE when this broker coordinates the group (the classic coordinator's answer). */
    private readonly coordinatorError: (groupId: string) => number,
    private readonly classic: ClassicGroups,
  ) {
    this.assignors = assignorsFromConfig(settings.assignors);
  }

  group(groupId: string): ConsumerGroup | undefined {
    return this.groups.get(groupId);
  }

  allGroups(): ConsumerGroup[] {
    return [...this.groups.values()];
  }

  isActive(groupId: string): boolean {
    return (this.groups.get(groupId)?.members.size ?? 0) > 0;
  }

  close(): void {
    for (const g of this.groups.values()) for (const m of g.members.values()) this.stopTimers(m);
  }

  private stopTimers(m: ConsumerMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    if (m.revocationTimer) clearTimeout(m.revocationTimer);
    m.sessionTimer = m.revocationTimer = null;
  }

  // ---- heartbeat -------------------------------------------------------------------------

  async heartbeat(req: HeartbeatRequest, clientId: string, clientHost: string): Promise<HeartbeatResult> {
    if (req.groupId === '') return error(ErrorCode.INVALID_REQUEST, 'GroupId can not be empty.');
    const elsewhere = this.coordinatorError(req.groupId);
    if (elsewhere !== ErrorCode.NONE) return error(elsewhere);
    if (req.memberEpoch === STATIC_LEAVE_EPOCH && req.instanceId === null) return error(ErrorCode.INVALID_REQUEST, 'InstanceId can not be null when MemberEpoch is -2.');
    if (req.memberEpoch === 0) {
      if (req.rebalanceTimeoutMs === -1) return error(ErrorCode.INVALID_REQUEST, 'RebalanceTimeoutMs must be provided in first request.');
      if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null) return error(ErrorCode.INVALID_REQUEST, 'SubscribedTopicNames or SubscribedTopicRegex must be set in first request.');
    } else if (req.memberEpoch > 0 && req.memberId === '') return error(ErrorCode.UNKNOWN_MEMBER_ID, 'MemberId can not be empty.');
    if (req.serverAssignor !== null && !this.assignors.some((a) => a.name === req.serverAssignor)) {
      return error(ErrorCode.UNSUPPORTED_ASSIGNOR, `Assignor ${req.serverAssignor} is not supported. Supported assignors: ${this.assignors.map((a) => a.name).join(', ')}.`);
    }
    let regex: RegExp | null = null;
    if (req.subscribedTopicRegex !== null && req.subscribedTopicRegex !== '') {
      regex = compileRegex(req.subscribedTopicRegex);
      if (regex === null) return error(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${req.subscribedTopicRegex} is not a valid regular expression.`);
    }
    if (this.classic.isActive(req.groupId)) {
      const refused = this.upgrade(req.groupId);
      if (refused !== null) return error(ErrorCode.GROUP_ID_NOT_FOUND, refused);
    }

    let group = this.groups.get(req.groupId);
    if (req.memberEpoch < 0) return this.leave(group, req);
    if (!group) {
      if (req.memberEpoch !== 0) return error(ErrorCode.UNKNOWN_MEMBER_ID, `Group ${req.groupId} has no member ${req.memberId}.`);
      group = new ConsumerGroup(req.groupId);
      group.assignorName = this.assignors[0].name;
      this.groups.set(req.groupId, group);
    }

    let member: ConsumerMember;
    let bump = false;
    if (req.memberEpoch === 0) {
      const joined = this.join(group, req);
      if ('errorCode' in joined) return joined;
      member = joined.member;
      bump = joined.bump;
    } else {
      const known = group.members.get(req.memberId);
      if (!known || known.memberEpoch === STATIC_LEAVE_EPOCH || known.classic) return error(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${req.groupId}.`);
      if (req.instanceId !== null && known.instanceId !== req.instanceId) return error(ErrorCode.FENCED_INSTANCE_ID);
      const owned = req.topicPartitions === null ? null : fromList(req.topicPartitions);
      if (req.memberEpoch > known.memberEpoch) return error(ErrorCode.FENCED_MEMBER_EPOCH, `The member epoch ${req.memberEpoch} is newer than the member's ${known.memberEpoch}.`);
      if (req.memberEpoch < known.memberEpoch) {
        // A member that missed the response that moved it to its current epoch may carry on,
        // provided it owns nothing beyond what it is assigned now.
        const lostResponse = req.memberEpoch === known.previousMemberEpoch && owned !== null && [...owned].every(([t, ps]) => [...ps].every((p) => has(known.assigned, t, p)));
        if (!lostResponse) return error(ErrorCode.FENCED_MEMBER_EPOCH, `The member epoch ${req.memberEpoch} is older than the member's ${known.memberEpoch}.`);
      }
      member = known;
    }
    member.clientId = clientId;
    member.clientHost = clientHost;
    if (req.rackId !== null) member.rackId = req.rackId;
    if (req.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    if (req.serverAssignor !== null && member.serverAssignor !== req.serverAssignor) {
      member.serverAssignor = req.serverAssignor;
      bump = true;
    }
    if (req.subscribedTopicNames !== null) {
      const names = [...new Set(req.subscribedTopicNames)].sort();
      if (JSON.stringify(names) !== JSON.stringify(member.subscribedTopicNames)) bump = true;
      member.subscribedTopicNames = names;
    }
    if (req.subscribedTopicRegex !== null) {
      const source = req.subscribedTopicRegex === '' ? null : req.subscribedTopicRegex;
      if (source !== member.subscribedTopicRegex) bump = true;
      member.subscribedTopicRegex = source;
      member.regex = source === null ? null : regex;
    }
    this.scheduleSessionExpiry(group, member);
    if (bump) this.bumpEpoch(group);
    this.maybeRecomputeTarget(group);
    const owned = req.topicPartitions === null ? null : fromList(req.topicPartitions);
    this.reconcile(group, member, owned);

    const res: HeartbeatResult = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
      assignment: null,
    };
    const assigned = fingerprint(member.assigned);
    const ownedDiffers = owned !== null && fingerprint(owned) !== assigned;
    if (req.memberEpoch === 0 || member.lastSent !== assigned || ownedDiffers) {
      res.assignment = { topicPartitions: toList(member.assigned) };
      member.lastSent = assigned;
    }
    try {
      await this.persist(group);
    } catch (e) {
      log.error({ err: e, group: group.groupId }, 'could not store the consumer group state');
      return error(coordinatorWriteError(e));
    }
    return res;
  }

  private join(group: ConsumerGroup, req: HeartbeatRequest): { member: ConsumerMember; bump: boolean } | HeartbeatResult {
    if (req.instanceId !== null) {
      const previousId = group.staticMembers.get(req.instanceId);
      const previous = previousId === undefined ? undefined : group.members.get(previousId);
      if (previous) {
        if (previous.memberEpoch !== STATIC_LEAVE_EPOCH && previous.memberId !== req.memberId) {
          return error(ErrorCode.UNRELEASED_INSTANCE_ID, `Static member ${req.instanceId} is still in use by member ${previous.memberId}.`);
        }
        if (previous.memberEpoch === STATIC_LEAVE_EPOCH) {
          // The static member is back: its new member id takes the old one's place, epoch and assignment.
          const member = this.takeOverStatic(group, previous, req.memberId !== '' ? req.memberId : newMemberId());
          if (previous.previousMemberEpoch < 0) member.memberEpoch = 0;
          return { member, bump: false };
        }
      }
    }
    const memberId = req.memberId !== '' ? req.memberId : newMemberId();
    const existing = group.members.get(memberId);
    if (existing) {
      // A member rejoining with epoch 0 has given up what it had (fenced, or restarted).
      this.stopTimers(existing);
      existing.assigned = new Map();
      existing.pendingRevocation = new Map();
      existing.state = MemberState.STABLE;
      existing.previousMemberEpoch = existing.memberEpoch;
      existing.memberEpoch = 0;
      existing.lastSent = null;
      return { member: existing, bump: true };
    }
    const member = new ConsumerMember(memberId);
    member.instanceId = req.instanceId;
    group.members.set(memberId, member);
    if (req.instanceId !== null) group.staticMembers.set(req.instanceId, memberId);
    log.debug({ group: group.groupId, member: memberId }, 'consumer group member joined');
    return { member, bump: true };
  }

  /** A static member's instance id comes back under a new member id: it takes the old one's place, epoch and assignment. */
  private takeOverStatic(group: ConsumerGroup, previous: ConsumerMember, memberId: string): ConsumerMember {
    const member = new ConsumerMember(memberId);
    Object.assign(member, {
      instanceId: previous.instanceId,
      subscribedTopicNames: previous.subscribedTopicNames,
      subscribedTopicRegex: previous.subscribedTopicRegex,
      regex: previous.regex,
      serverAssignor: previous.serverAssignor,
      rebalanceTimeoutMs: previous.rebalanceTimeoutMs,
      memberEpoch: previous.memberEpoch === STATIC_LEAVE_EPOCH ? previous.previousMemberEpoch : previous.memberEpoch,
      previousMemberEpoch: previous.previousMemberEpoch,
      state: previous.state,
      assigned: previous.assigned,
      pendingRevocation: previous.pendingRevocation,
      classic: previous.classic,
    });
    this.stopTimers(previous);
    group.members.delete(previous.memberId);
    group.members.set(memberId, member);
    group.staticMembers.set(previous.instanceId!, memberId);
    const target = group.target.get(previous.memberId);
    group.target.delete(previous.memberId);
    if (target) group.target.set(memberId, target);
    this.writeMemberTombstones(group, previous.memberId);
    return member;
  }

  private async leave(group: ConsumerGroup | undefined, req: HeartbeatRequest): Promise<HeartbeatResult> {
    const id = req.instanceId !== null ? group?.staticMembers.get(req.instanceId) : req.memberId;
    const member = id === undefined ? undefined : group?.members.get(id);
    if (!group || !member) return error(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${req.groupId}.`);
    if (req.instanceId !== null && req.memberId !== '' && member.memberId !== req.memberId) return error(ErrorCode.FENCED_INSTANCE_ID);
    if (req.memberEpoch === STATIC_LEAVE_EPOCH) {
      // A static member going away for a while: it keeps its assignment until its session times out.
      if (member.memberEpoch !== STATIC_LEAVE_EPOCH) member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = STATIC_LEAVE_EPOCH;
      if (member.revocationTimer) clearTimeout(member.revocationTimer);
      this.scheduleSessionExpiry(group, member);
    } else {
      this.removeMember(group, member, 'left the group');
    }
    try {
      await this.persist(group);
    } catch (e) {
      return error(coordinatorWriteError(e));
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: member.memberId, memberEpoch: req.memberEpoch, heartbeatIntervalMs: 0, assignment: null };
  }

  private removeMember(group: ConsumerGroup, member: ConsumerMember, reason: string): void {
    this.stopTimers(member);
    group.members.delete(member.memberId);
    group.target.delete(member.memberId);
    if (member.instanceId !== null && group.staticMembers.get(member.instanceId) === member.memberId) group.staticMembers.delete(member.instanceId);
    this.writeMemberTombstones(group, member.memberId);
    log.info({ group: group.groupId, member: member.memberId, reason }, 'consumer group member removed');
    this.bumpEpoch(group);
    this.maybeRecomputeTarget(group);
    if (group.members.size === 0) group.stateTimestamp = Date.now();
    else if (member.classic === null && this.migrates('downgrade') && [...group.members.values()].every((m) => m.classic !== null)) this.downgrade(group);
  }

  private scheduleSessionExpiry(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (group.members.get(member.memberId) !== member) return;
      this.removeMember(group, member, 'session expired');
      this.persist(group).catch((e: unknown) => log.error({ err: e, group: group.groupId }, 'could not store the consumer group state'));
    }, member.classic?.sessionTimeoutMs ?? this.settings.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private bumpEpoch(group: ConsumerGroup): void {
    group.groupEpoch = Math.max(group.groupEpoch, group.assignmentEpoch) + 1;
  }

  // ---- assignment ------------------------------------------------------------------------

  /** The topics the group's members subscribe to, by id. */
  private subscribedTopics(group: ConsumerGroup): Map<string, AssignableTopic> {
    const out = new Map<string, AssignableTopic>();
    for (const t of this.topics.allTopics()) {
      for (const m of group.members.values()) {
        if (m.subscribes(t.name)) {
          out.set(t.id, { id: t.id, name: t.name, partitions: t.partitions.length });
          break;
        }
      }
    }
    return out;
  }

  /** A new target assignment when the group epoch moved or the subscribed topics changed. */
  private maybeRecomputeTarget(group: ConsumerGroup): void {
    const topics = this.subscribedTopics(group);
    const print = JSON.stringify([...topics.values()].map((t) => [t.id, t.partitions]).sort());
    if (print !== group.subscriptionFingerprint && group.assignmentEpoch >= group.groupEpoch) this.bumpEpoch(group);
    if (group.assignmentEpoch >= group.groupEpoch) return;
    group.subscriptionFingerprint = print;
    const assignorName = this.pickAssignor(group);
    const assignor = this.assignors.find((a) => a.name === assignorName) ?? this.assignors[0];
    group.assignorName = assignor.name;
    const members: AssignorMember[] = [...group.members.values()].map((m) => {
      const current: TopicPartitions = new Map();
      // Stickiness from the previous target (what the member is moving to), else what it has.
      const previous = group.target.get(m.memberId) ?? m.assigned;
      for (const [t, ps] of previous) for (const p of ps) addTo(current, t, p);
      return {
        memberId: m.memberId,
        instanceId: m.instanceId,
        topics: new Set([...topics.values()].filter((t) => m.subscribes(t.name)).map((t) => t.id)),
        current,
      };
    });
    group.target = assignor.assign(members, topics);
    group.assignmentEpoch = group.groupEpoch;
    log.debug({ group: group.groupId, epoch: group.groupEpoch, assignor: assignor.name }, 'consumer group target assignment');
    // Members revoking partitions they keep in the new target are no longer in a hurry.
  }

  /** The assignor most members ask for, else the first configured (Kafka's rule). */
  private pickAssignor(group: ConsumerGroup): string {
    const votes = new Map<string, number>();
    for (const m of group.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best = this.assignors[0].name;
    let bestVotes = 0;
    for (const [name, n] of votes) if (n > bestVotes) [best, bestVotes] = [name, n];
    return best;
  }

  /** The members owning each partition (assigned, or still to revoke), but `except`. */
  private ownedByOthers(group: ConsumerGroup, except: ConsumerMember): TopicPartitions {
    const owned: TopicPartitions = new Map();
    for (const m of group.members.values()) {
      if (m === except) continue;
      for (const [t, ps] of m.assigned) for (const p of ps) addTo(owned, t, p);
      for (const [t, ps] of m.pendingRevocation) for (const p of ps) addTo(owned, t, p);
    }
    return owned;
  }

  /**
   * Moves a member toward its target (Kafka's CurrentAssignmentBuilder): first it revokes what
   * it must give up, keeping its epoch; then it gets the target epoch and those of its target
   * partitions no other member owns any more; the rest follow as their owners release them.
   */
  private reconcile(group: ConsumerGroup, member: ConsumerMember, owned: TopicPartitions | null): void {
    switch (member.state) {
      case MemberState.STABLE:
        if (member.memberEpoch !== group.assignmentEpoch) this.computeNext(group, member);
        return;
      case MemberState.UNREVOKED_PARTITIONS:
        if (owned !== null && !overlaps(member.pendingRevocation, owned)) {
          member.pendingRevocation = new Map();
          if (member.revocationTimer) clearTimeout(member.revocationTimer);
          member.revocationTimer = null;
          this.computeNext(group, member);
        }
        return;
      case MemberState.UNRELEASED_PARTITIONS:
        this.computeNext(group, member);
        return;
    }
  }

  private computeNext(group: ConsumerGroup, member: ConsumerMember): void {
    const target = group.target.get(member.memberId) ?? new Map<string, Set<number>>();
    const others = this.ownedByOthers(group, member);
    const kept: TopicPartitions = new Map();
    const revoke: TopicPartitions = new Map();
    for (const [t, ps] of member.assigned) for (const p of ps) addTo(has(target, t, p) ? kept : revoke, t, p);
    const grant: TopicPartitions = new Map();
    let unreleased = false;
    for (const [t, ps] of target) {
      for (const p of ps) {
        if (has(member.assigned, t, p)) continue;
        if (has(others, t, p)) unreleased = true;
        else addTo(grant, t, p);
      }
    }
    if (!isEmpty(revoke)) {
      member.assigned = kept;
      member.pendingRevocation = revoke;
      member.state = MemberState.UNREVOKED_PARTITIONS;
      this.scheduleRevocationTimeout(group, member);
      return;
    }
    for (const [t, ps] of grant) for (const p of ps) addTo(kept, t, p);
    member.assigned = kept;
    if (member.memberEpoch !== group.assignmentEpoch) {
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = group.assignmentEpoch;
    }
    member.state = unreleased ? MemberState.UNRELEASED_PARTITIONS : MemberState.STABLE;
  }

  /** A member that does not revoke within its rebalance timeout is removed from the group. */
  private scheduleRevocationTimeout(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.revocationTimer) return;
    member.revocationTimer = setTimeout(() => {
      member.revocationTimer = null;
      if (group.members.get(member.memberId) !== member || member.state !== MemberState.UNREVOKED_PARTITIONS) return;
      this.removeMember(group, member, 'did not revoke its partitions within its rebalance timeout');
      this.persist(group).catch((e: unknown) => log.error({ err: e, group: group.groupId }, 'could not store the consumer group state'));
    }, member.rebalanceTimeoutMs);
    member.revocationTimer.unref();
  }

  // ---- classic members and online migration (KIP-848) ------------------------------------

  private migrates(direction: 'upgrade' | 'downgrade'): boolean {
    return this.settings.migrationPolicy === 'bidirectional' || this.settings.migrationPolicy === direction;
  }

  /** The partitions of a consumer-protocol message, by topic id; topics this broker does not know are left out. */
  private topicIds(named: readonly NamedPartitions[]): TopicPartitions {
    const out: TopicPartitions = new Map();
    for (const t of named) {
      const id = this.topics.topic(t.topic)?.id;
      if (id !== undefined) for (const p of t.partitions) addTo(out, id, p);
    }
    return out;
  }

  private named(tps: TopicPartitions): NamedPartitions[] {
    return toList(tps).map((t) => ({ topic: this.topicName(t.topicId), partitions: t.partitions }));
  }

  /**
   * A consumer-protocol member joins a classic group (KIP-848's upgrade): the classic members
   * carry on inside a consumer group with their generation as member epoch and their
   * assignment; the new member's arrival then moves the group to a new target, which they
   * reach by rejoining when their heartbeat says so. Null, or why the group cannot be upgraded.
   */
  private upgrade(groupId: string): string | null {
    if (!this.migrates('upgrade')) return `Group ${groupId} is a classic group and group.consumer.migration.policy does not allow upgrading it.`;
    const classic = this.classic.stableMembers(groupId);
    if (typeof classic === 'string') return classic;
    const group = new ConsumerGroup(groupId);
    group.groupEpoch = group.assignmentEpoch = Math.max(classic.generationId, this.groups.get(groupId)?.groupEpoch ?? 0);
    group.assignorName = this.assignors[0].name;
    try {
      for (const c of classic.members) {
        const subscription = decodeSubscription(c.metadataFor(classic.protocolName));
        const m = new ConsumerMember(c.memberId);
        Object.assign(m, {
          instanceId: c.groupInstanceId,
          rackId: subscription.rackId,
          clientId: c.clientId,
          clientHost: c.clientHost,
          subscribedTopicNames: [...new Set(subscription.topics)].sort(),
          rebalanceTimeoutMs: c.rebalanceTimeoutMs,
          memberEpoch: classic.generationId,
          previousMemberEpoch: classic.generationId,
          assigned: this.topicIds(decodeAssignment(c.assignment)),
          classic: { sessionTimeoutMs: c.sessionTimeoutMs, protocols: c.protocols },
        });
        group.members.set(m.memberId, m);
        group.target.set(m.memberId, new Map([...m.assigned].map(([t, ps]) => [t, new Set(ps)])));
        if (m.instanceId !== null) group.staticMembers.set(m.instanceId, m.memberId);
      }
    } catch (e) {
      return `Group ${groupId} cannot be upgraded: a member's consumer protocol metadata does not parse (${(e as Error).message}).`;
    }
    group.subscriptionFingerprint = JSON.stringify([...this.subscribedTopics(group).values()].map((t) => [t.id, t.partitions]).sort());
    this.classic.release(groupId);
    this.groups.set(groupId, group);
    for (const m of group.members.values()) this.scheduleSessionExpiry(group, m);
    log.info({ group: groupId, epoch: group.groupEpoch, members: group.members.size }, 'classic group upgraded to a consumer group');
    return null;
  }

  /** The last consumer-protocol member left: the classic members go on as a classic group (KIP-848's downgrade). */
  private downgrade(group: ConsumerGroup): void {
    const members = [...group.members.values()];
    for (const m of members) {
      this.stopTimers(m);
      this.writeMemberTombstones(group, m.memberId);
    }
    group.members.clear();
    group.staticMembers.clear();
    group.target.clear();
    this.groups.delete(group.groupId);
    this.classic.adopt(
      group.groupId,
      group.groupEpoch,
      members.map((m) => {
        const c = new ClassicMember(m.memberId, m.instanceId, m.clientId, m.clientHost, m.classic!.sessionTimeoutMs, m.rebalanceTimeoutMs, CONSUMER_PROTOCOL_TYPE, m.classic!.protocols);
        c.assignment = encodeAssignment(this.named(m.assigned), 3);
        return c;
      }),
    );
    log.info({ group: group.groupId, epoch: group.groupEpoch, members: members.length }, 'consumer group downgraded to a classic group');
  }

  /** The member a classic request names, or its error (Kafka's validateConsumerGroupMember). */
  private classicMember(group: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerMember | number {
    const id = instanceId === null ? memberId : group.staticMembers.get(instanceId);
    const member = id === undefined ? undefined : group.members.get(id);
    if (!member || member.classic === null) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (instanceId !== null && member.memberId !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    return member;
  }

  private activeGroup(groupId: string): ConsumerGroup | undefined {
    const group = this.groups.get(groupId);
    return group && group.members.size > 0 ? group : undefined;
  }

  /**
   * JoinGroup to a consumer group: the member's subscription and owned partitions come from its
   * protocol metadata; it is reconciled as a consumer-protocol member would be and answered at
   * once with its member epoch as generation. No member leads: the assignment is the
   * coordinator's, handed out by SyncGroup.
   */
  classicJoin(req: JoinRequest): Promise<JoinGroupResponse> | undefined {
    const group = this.activeGroup(req.groupId);
    if (!group) return undefined;
    if (req.protocolType !== CONSUMER_PROTOCOL_TYPE || req.protocols.length === 0) return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    if (req.memberId === '' && req.groupInstanceId === null && req.requireKnownMemberId) return Promise.resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, newMemberId()));
    let subscription;
    try {
      subscription = decodeSubscription(req.protocols[0].metadata);
    } catch {
      return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    const memberId = req.memberId !== '' ? req.memberId : newMemberId();
    let member = group.members.get(memberId);
    let bump = false;
    if (member) {
      if (member.classic === null) return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
      if (req.groupInstanceId !== null && member.instanceId !== req.groupInstanceId) return Promise.resolve(joinError(ErrorCode.FENCED_INSTANCE_ID, memberId));
    } else {
      const previousId = req.groupInstanceId === null ? undefined : group.staticMembers.get(req.groupInstanceId);
      const previous = previousId === undefined ? undefined : group.members.get(previousId);
      if (previous) member = this.takeOverStatic(group, previous, memberId);
      else {
        member = new ConsumerMember(memberId);
        member.instanceId = req.groupInstanceId;
        group.members.set(memberId, member);
        if (req.groupInstanceId !== null) group.staticMembers.set(req.groupInstanceId, memberId);
        bump = true;
      }
    }
    member.classic = { sessionTimeoutMs: req.sessionTimeoutMs, protocols: req.protocols };
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    if (subscription.rackId !== null) member.rackId = subscription.rackId;
    const names = [...new Set(subscription.topics)].sort();
    if (JSON.stringify(names) !== JSON.stringify(member.subscribedTopicNames)) bump = true;
    member.subscribedTopicNames = names;
    this.scheduleSessionExpiry(group, member);
    if (bump) this.bumpEpoch(group);
    this.maybeRecomputeTarget(group);
    // What it owns now is what its metadata lists (nothing, for an eager member that revoked
    // everything before rejoining): a revocation it has already done completes in this join.
    const owned = this.topicIds(subscription.ownedPartitions);
    this.reconcile(group, member, owned);
    if (member.state === MemberState.UNREVOKED_PARTITIONS) this.reconcile(group, member, owned);
    const res = createJoinGroupResponse();
    res.memberId = member.memberId;
    res.generationId = member.memberEpoch;
    res.protocolType = CONSUMER_PROTOCOL_TYPE;
    res.protocolName = req.protocols[0].name;
    const joined = member;
    return this.persist(group).then(
      () => res,
      (e: unknown) => {
        log.error({ err: e, group: group.groupId, member: joined.memberId }, 'could not store the consumer group state');
        return joinError(coordinatorWriteError(e), joined.memberId);
      },
    );
  }

  /** SyncGroup: the member's current assignment, unless the group moved on and it must rejoin first. */
  classicSync(req: SyncRequest): SyncGroupResponse | undefined {
    const group = this.activeGroup(req.groupId);
    if (!group) return undefined;
    const member = this.classicMember(group, req.memberId, req.groupInstanceId);
    if (typeof member === 'number') return syncError(member);
    if (req.generationId !== member.memberEpoch) return syncError(ErrorCode.ILLEGAL_GENERATION);
    const protocolName = member.classic!.protocols[0].name;
    if ((req.protocolType !== null && req.protocolType !== CONSUMER_PROTOCOL_TYPE) || (req.protocolName !== null && req.protocolName !== protocolName)) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    // A member still revoking has rejoined already: it gets what it keeps, revokes the rest, then rejoins.
    if (group.groupEpoch > member.memberEpoch && member.state !== MemberState.UNREVOKED_PARTITIONS) return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
    this.scheduleSessionExpiry(group, member);
    const res = createSyncGroupResponse();
    res.protocolType = CONSUMER_PROTOCOL_TYPE;
    res.protocolName = protocolName;
    res.assignment = encodeAssignment(this.named(member.assigned), 3);
    return res;
  }

  /**
   * Heartbeat: REBALANCE_IN_PROGRESS tells the member to rejoin when the group moved past its
   * epoch, when it has partitions to revoke, or when partitions it waits for are free now.
   */
  classicHeartbeat(ref: MemberRef): number | undefined {
    const group = this.activeGroup(ref.groupId);
    if (!group) return undefined;
    const member = this.classicMember(group, ref.memberId, ref.groupInstanceId);
    if (typeof member === 'number') return member;
    if (ref.generationId !== member.memberEpoch) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleSessionExpiry(group, member);
    const waiting = member.state === MemberState.UNRELEASED_PARTITIONS && this.waitsOnOthers(group, member);
    if (member.memberEpoch < group.groupEpoch || member.state === MemberState.UNREVOKED_PARTITIONS || (member.state === MemberState.UNRELEASED_PARTITIONS && !waiting)) {
      return ErrorCode.REBALANCE_IN_PROGRESS;
    }
    return ErrorCode.NONE;
  }

  /** Whether another member still owns a partition of this member's target. */
  private waitsOnOthers(group: ConsumerGroup, member: ConsumerMember): boolean {
    const others = this.ownedByOthers(group, member);
    for (const [t, ps] of group.target.get(member.memberId) ?? []) for (const p of ps) if (has(others, t, p)) return true;
    return false;
  }

  classicLeave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]): { topError: number; results: number[] } | undefined {
    const group = this.activeGroup(groupId);
    if (!group) return undefined;
    const results = members.map(({ memberId, groupInstanceId }) => {
      const member = this.classicMember(group, memberId === '' && groupInstanceId !== null ? (group.staticMembers.get(groupInstanceId) ?? '') : memberId, groupInstanceId);
      if (typeof member === 'number') return member;
      this.removeMember(group, member, 'left the group');
      return ErrorCode.NONE;
    });
    this.persist(group).catch((e: unknown) => log.error({ err: e, group: groupId }, 'could not store the consumer group state'));
    return { topError: ErrorCode.NONE, results };
  }

  // ---- offsets ---------------------------------------------------------------------------

  /**
   * OffsetCommit for a consumer group: the generation is the member epoch, which must be the
   * member's current one (STALE_MEMBER_EPOCH otherwise), as Kafka's ConsumerGroup checks it;
   * commits from outside the group (admin, generation -1) only while it has no members.
   */
  commitCheck(ref: MemberRef, apiVersion: number): number | undefined {
    const group = this.groups.get(ref.groupId);
    // An empty group takes commits from outside (the classic checks); a non-empty one only from its members.
    if (!group || group.members.size === 0) return undefined;
    const member = group.members.get(ref.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    // Classic members know generations, not member epochs; the others need OffsetCommit v9+,
    // the version that carries a member epoch.
    if (member.classic) return ref.generationId === member.memberEpoch ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    if (apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (ref.generationId !== member.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return ErrorCode.NONE;
  }

  async deleteGroup(groupId: string): Promise<number | undefined> {
    const group = this.groups.get(groupId);
    if (!group) return undefined;
    if (group.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    try {
      await this.store.log.append(groupId, [{ key: metadataKey(groupId), value: null }]);
    } catch (e) {
      return coordinatorWriteError(e);
    }
    this.groups.delete(groupId);
    return ErrorCode.NONE;
  }

  // ---- persistence -----------------------------------------------------------------------

  private readonly pendingTombstones = new Map<ConsumerGroup, string[]>();

  private writeMemberTombstones(group: ConsumerGroup, memberId: string): void {
    const list = this.pendingTombstones.get(group) ?? [];
    list.push(memberId);
    this.pendingTombstones.set(group, list);
  }

  /** Writes what changed since the last write: members' metadata and assignments, the group epoch. */
  private persist(group: ConsumerGroup): Promise<void> {
    const records: CoordinatorRecord[] = [];
    const gone = this.pendingTombstones.get(group) ?? [];
    this.pendingTombstones.delete(group);
    for (const memberId of gone) {
      if (group.members.has(memberId)) continue;
      records.push({ key: currentAssignmentKey(group.groupId, memberId), value: null });
      records.push({ key: memberMetadataKey(group.groupId, memberId), value: null });
    }
    for (const m of group.members.values()) {
      const meta: ConsumerGroupMemberMetadataValue = {
        instanceId: m.instanceId,
        rackId: m.rackId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        serverAssignor: m.serverAssignor,
        classicMemberMetadata: m.classic && { sessionTimeoutMs: m.classic.sessionTimeoutMs, supportedProtocols: m.classic.protocols },
      };
      const metaPrint = JSON.stringify(meta);
      if (metaPrint !== m.persistedMetadata) {
        records.push({ key: memberMetadataKey(group.groupId, m.memberId), value: versionedRecord(0, (w) => ConsumerGroupMemberMetadataValueCodec.write(w, meta, 0)) });
        m.persistedMetadata = metaPrint;
      }
      const assignment: ConsumerGroupCurrentMemberAssignmentValue = {
        memberEpoch: m.memberEpoch,
        previousMemberEpoch: m.previousMemberEpoch,
        state: m.state,
        assignedPartitions: toList(m.assigned),
        partitionsPendingRevocation: toList(m.pendingRevocation),
      };
      const assignmentPrint = JSON.stringify(assignment);
      if (assignmentPrint !== m.persistedAssignment) {
        records.push({ key: currentAssignmentKey(group.groupId, m.memberId), value: versionedRecord(0, (w) => ConsumerGroupCurrentMemberAssignmentValueCodec.write(w, assignment, 0)) });
        m.persistedAssignment = assignmentPrint;
      }
    }
    if (this.groups.get(group.groupId) !== group) {
      // Converted back to a classic group (downgrade): the consumer group's records go.
      records.push({ key: metadataKey(group.groupId), value: null });
    } else if (group.groupEpoch !== group.persistedEpoch) {
      records.push({ key: metadataKey(group.groupId), value: versionedRecord(0, (w) => ConsumerGroupMetadataValueCodec.write(w, { epoch: group.groupEpoch }, 0)) });
      group.persistedEpoch = group.groupEpoch;
    }
    if (records.length === 0) return Promise.resolve();
    return this.store.log.append(group.groupId, records);
  }

  /**
   * Takes over the consumer groups of a __consumer_offsets partition: members come back with
   * their epochs and assignments and fresh session timers, so members that keep heartbeating
   * carry on; the target assignment is computed again (the assignors are sticky and
   * deterministic, so it is the one they were reconciling toward).
   */
  loadPartition(partition: Partition): void {
    const epochs = new Map<string, number | null>();
    const metas = new Map<string, Map<string, ConsumerGroupMemberMetadataValue | null>>();
    const assignments = new Map<string, Map<string, ConsumerGroupCurrentMemberAssignmentValue | null>>();
    this.store.log.replayRecords(partition, readConsumerGroupRecord, (r) => {
      if (r.kind === 'metadata') epochs.set(r.groupId, r.epoch);
      else if (r.kind === 'member') innerMap(metas, r.groupId).set(r.memberId, r.value);
      else innerMap(assignments, r.groupId).set(r.memberId, r.value);
    });
    let loaded = 0;
    for (const [groupId, epoch] of epochs) {
      if (epoch === null) continue;
      const group = new ConsumerGroup(groupId);
      group.groupEpoch = epoch;
      group.persistedEpoch = epoch;
      group.assignorName = this.assignors[0].name;
      for (const [memberId, meta] of metas.get(groupId) ?? []) {
        if (meta === null) continue;
        const m = new ConsumerMember(memberId);
        Object.assign(m, {
          instanceId: meta.instanceId,
          rackId: meta.rackId,
          clientId: meta.clientId,
          clientHost: meta.clientHost,
          subscribedTopicNames: meta.subscribedTopicNames,
          subscribedTopicRegex: meta.subscribedTopicRegex,
          regex: meta.subscribedTopicRegex === null ? null : compileRegex(meta.subscribedTopicRegex),
          rebalanceTimeoutMs: meta.rebalanceTimeoutMs,
          serverAssignor: meta.serverAssignor,
          classic: meta.classicMemberMetadata && { sessionTimeoutMs: meta.classicMemberMetadata.sessionTimeoutMs, protocols: meta.classicMemberMetadata.supportedProtocols },
          persistedMetadata: JSON.stringify(meta),
        });
        const a = assignments.get(groupId)?.get(memberId);
        if (a) {
          m.memberEpoch = a.memberEpoch;
          m.previousMemberEpoch = a.previousMemberEpoch;
          m.state = a.state as MemberStateId;
          m.assigned = fromList(a.assignedPartitions);
          m.pendingRevocation = fromList(a.partitionsPendingRevocation);
          m.persistedAssignment = JSON.stringify(a);
          m.lastSent = fingerprint(m.assigned);
        }
        group.members.set(memberId, m);
        if (m.instanceId !== null) group.staticMembers.set(m.instanceId, memberId);
        this.scheduleSessionExpiry(group, m);
      }
      // The target: computed again for the stored epoch, from what members own now.
      group.assignmentEpoch = group.groupEpoch - 1;
      this.maybeRecomputeTarget(group);
      for (const m of group.members.values()) if (m.state === MemberState.UNREVOKED_PARTITIONS) this.scheduleRevocationTimeout(group, m);
      this.groups.set(groupId, group);
      loaded++;
    }
    if (loaded > 0) log.info({ partition: partition.key, groups: loaded }, 'consumer groups (KIP-848) loaded');
  }

  unloadPartition(index: number): void {
    for (const g of [...this.groups.values()]) {
      if (this.store.partitionOf(g.groupId) !== index) continue;
      for (const m of g.members.values()) this.stopTimers(m);
      this.groups.delete(g.groupId);
    }
  }

  listed(): { groupId: string; state: ConsumerGroupStateName }[] {
    return this.allGroups().map((g) => ({ groupId: g.groupId, state: g.state }));
  }

  describedAsClassic(groupId: string): ClassicView | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    const named = (tps: TopicPartitions) => toList(tps).map((t) => ({ topic: this.topicName(t.topicId), partitions: t.partitions }));
    return {
      state: g.state,
      protocolType: 'consumer',
      protocolData: g.assignorName,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: versionedRecord(3, (w) =>
          ConsumerProtocolSubscriptionCodec.write(
            w,
            { topics: [...this.subscribedTopics(g).values()].filter((t) => m.subscribes(t.name)).map((t) => t.name), userData: null, ownedPartitions: named(m.assigned), generationId: m.memberEpoch, rackId: m.rackId },
            3,
          ),
        ),
        memberAssignment: versionedRecord(3, (w) => ConsumerProtocolAssignmentCodec.write(w, { assignedPartitions: named(m.assigned), userData: null }, 3)),
      })),
    };
  }

  /** Topic names for ids, for ConsumerGroupDescribe. */
  topicName(id: string): string {
    return this.topics.topicById(id)?.name ?? '';
  }
}

function metadataKey(groupId: string): Buffer {
  return versionedRecord(KEY.METADATA, (w) => ConsumerGroupMetadataKeyCodec.write(w, { groupId }, KEY.METADATA));
}

function memberMetadataKey(groupId: string, memberId: string): Buffer {
  return versionedRecord(KEY.MEMBER_METADATA, (w) => ConsumerGroupMemberMetadataKeyCodec.write(w, { groupId, memberId }, KEY.MEMBER_METADATA));
}

function currentAssignmentKey(groupId: string, memberId: string): Buffer {
  return versionedRecord(KEY.CURRENT_ASSIGNMENT, (w) => ConsumerGroupCurrentMemberAssignmentKeyCodec.write(w, { groupId, memberId }, KEY.CURRENT_ASSIGNMENT));
}

type ConsumerGroupRecord =
  | { kind: 'metadata'; groupId: string; epoch: number | null }
  | { kind: 'member'; groupId: string; memberId: string; value: ConsumerGroupMemberMetadataValue | null }
  | { kind: 'assignment'; groupId: string; memberId: string; value: ConsumerGroupCurrentMemberAssignmentValue | null };

/** One __consumer_offsets record, when it is a consumer group record this coordinator keeps; a null value is a tombstone. */
function readConsumerGroupRecord(key: Buffer, value: Buffer | null): ConsumerGroupRecord | null {
  const kr = new Reader(key);
  const type = kr.int16();
  const vr = value === null ? null : new Reader(value);
  const vv = vr?.int16() ?? 0;
  if (type === KEY.METADATA) {
    return { kind: 'metadata', groupId: ConsumerGroupMetadataKeyCodec.read(kr, type).groupId, epoch: vr && ConsumerGroupMetadataValueCodec.read(vr, vv).epoch };
  }
  if (type === KEY.MEMBER_METADATA) {
    const k = ConsumerGroupMemberMetadataKeyCodec.read(kr, type);
    return { kind: 'member', groupId: k.groupId, memberId: k.memberId, value: vr && ConsumerGroupMemberMetadataValueCodec.read(vr, vv) };
  }
  if (type === KEY.CURRENT_ASSIGNMENT) {
    const k = ConsumerGroupCurrentMemberAssignmentKeyCodec.read(kr, type);
    return { kind: 'assignment', groupId: k.groupId, memberId: k.memberId, value: vr && ConsumerGroupCurrentMemberAssignmentValueCodec.read(vr, vv) };
  }
  return null;
}
