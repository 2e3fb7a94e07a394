import { log } from '../../log.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { ShareGroupMemberMetadataValue } from '../../protocol/generated/group-coordinator/share-group-member-metadata-value.js';
import type { ShareGroupCurrentMemberAssignmentValue } from '../../protocol/generated/group-coordinator/share-group-current-member-assignment-value.js';
import type { Partition } from '../../replication/partition.js';
import { shareSimpleAssignor, type AssignableTopic, type AssignorMember } from '../assignors.js';
import { coordinatorWriteError, innerMap, type CoordinatorRecord } from '../coordinator-log.js';
import { fingerprint, fromList, MemberState, newMemberId, toList, type TopicPartitions, type TopicsView } from '../consumer-group.js';
import type { GroupLog } from '../group-log.js';
import type { ShareGroupTimeouts } from './share-group-configs.js';
import { groupEpochRecord, memberAssignmentRecord, memberMetadataRecord, readShareGroupRecord } from './share-group-records.js';
import type { ShareStates } from './share-states.js';

/** The epoch a member leaves with. */
const LEAVE_EPOCH = -1;

export type ShareGroupStateName = 'Empty' | 'Stable';

export class ShareMember {
  rackId: string | null = null;
  clientId = '';
  clientHost = '';
  subscribedTopicNames: string[] = [];
  memberEpoch = 0;
  previousMemberEpoch = -1;
  assigned: TopicPartitions = new Map();
  sessionTimer: NodeJS.Timeout | null = null;
  /** The assignment last sent to the member, to send it again only when it changes. */
  lastSent: string | null = null;
  /** What was last written to __consumer_offsets, to write only changes. */
  persistedMetadata: string | null = null;
  persistedAssignment: string | null = null;

  constructor(readonly memberId: string) {}
}

export class ShareGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ShareMember>();
  target = new Map<string, TopicPartitions>();
  /** The subscribed topics' ids and partition counts the target was computed for. */
  subscriptionFingerprint = '';
  persistedEpoch = -1;
  /** Members removed since the last write, whose records get tombstones. */
  readonly removed = new Set<string>();

  constructor(readonly groupId: string) {}

  /** Share groups have no rebalance: members take a new assignment as they heartbeat. */
  get state(): ShareGroupStateName {
    return this.members.size === 0 ? 'Empty' : 'Stable';
  }
}

export interface ShareHeartbeatRequest {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  rackId: string | null;
  subscribedTopicNames: string[] | null;
}

export interface ShareHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null;
}

function error(errorCode: number, errorMessage: string | null = null): ShareHeartbeatResult {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

export interface ShareGroupSettings {
  /** group.share.max.size. */
  maxSize(): number;
  /** share.session.timeout.ms and share.heartbeat.interval.ms in force for a group. */
  timeouts(groupId: string): ShareGroupTimeouts;
}

/** What the share group coordinator asks of the classic and consumer group coordinators beside it. */
export interface OtherGroups {
  /** NONE when this broker coordinates the group. */
  coordinatorError(groupId: string): number;
  /** Whether a classic or consumer group has this id: a share group cannot take it. */
  exists(groupId: string): boolean;
}

/**
 * KIP-932's share groups: members heartbeat (ShareGroupHeartbeat) and the coordinator hands
 * each its share of the subscribed partitions with the `simple` assignor. Share-partitions take
 * several consumers at once, so there is no revocation: a member gets its new assignment and
 * epoch on its next heartbeat. Membership is written to __consumer_offsets in Kafka's
 * ShareGroup* record formats, beside the classic and consumer groups, and replayed when a
 * broker takes a partition over; the share-partition state itself is on __share_group_state
 * (ShareStates).
 */
export class ShareGroupCoordinator {
  private readonly groups = new Map<string, ShareGroup>();

  constructor(
    private readonly settings: ShareGroupSettings,
    private readonly store: GroupLog,
    private readonly topics: TopicsView,
    private readonly others: OtherGroups,
    /** The share-partition states; replaced where the broker wires the state side in. */
    public states: ShareStates,
  ) {}

  /** Told when a member leaves or expires: its share session here ends, and what it holds goes back. */
  onMemberRemoved: (groupId: string, memberId: string) => void = () => {};

  group(groupId: string): ShareGroup | undefined {
    return this.groups.get(groupId);
  }

  /** Whether the id is a share group's: one with members or stored membership, or only share-partition state. */
  has(groupId: string): boolean {
    return this.groups.has(groupId) || (this.others.coordinatorError(groupId) === ErrorCode.NONE && this.states.groupIds().includes(groupId));
  }

  /** The share groups this broker coordinates, with those that have share-partition state only. */
  listed(): { groupId: string; state: ShareGroupStateName }[] {
    const out = new Map<string, ShareGroupStateName>([...this.groups.values()].map((g) => [g.groupId, g.state]));
    for (const id of this.states.groupIds()) if (!out.has(id) && this.others.coordinatorError(id) === ErrorCode.NONE) out.set(id, 'Empty');
    return [...out].map(([groupId, state]) => ({ groupId, state }));
  }

  topicName(id: string): string {
    return this.topics.topicById(id)?.name ?? '';
  }

  close(): void {
    for (const g of this.groups.values()) for (const m of g.members.values()) this.stopTimer(m);
  }

  private stopTimer(m: ShareMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    m.sessionTimer = null;
  }

  // ---- heartbeat -------------------------------------------------------------------------

  async heartbeat(req: ShareHeartbeatRequest, clientId: string, clientHost: string): Promise<ShareHeartbeatResult> {
    if (req.groupId === '') return error(ErrorCode.INVALID_REQUEST, 'GroupId can not be empty.');
    if (req.rackId === '') return error(ErrorCode.INVALID_REQUEST, 'RackId can not be empty.');
    if (req.memberEpoch === 0 && (req.subscribedTopicNames === null || req.subscribedTopicNames.length === 0)) {
      return error(ErrorCode.INVALID_REQUEST, 'SubscribedTopicNames must be set in first request.');
    }
    if (req.memberEpoch < LEAVE_EPOCH) return error(ErrorCode.INVALID_REQUEST, 'MemberEpoch is invalid.');
    if (req.memberEpoch !== 0 && req.memberId === '') return error(ErrorCode.UNKNOWN_MEMBER_ID, 'MemberId can not be empty.');
    const elsewhere = this.others.coordinatorError(req.groupId);
    if (elsewhere !== ErrorCode.NONE) return error(elsewhere);
    let group = this.groups.get(req.groupId);
    if (!group && this.others.exists(req.groupId)) return error(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a share group.`);
    if (req.memberEpoch === LEAVE_EPOCH) return this.leave(group, req);

    const known = group?.members.get(req.memberId);
    if (req.memberEpoch !== 0) {
      if (!group || !known) return error(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${req.groupId}.`);
      // A member that missed the response moving it to its current epoch may carry on from the one before.
      if (req.memberEpoch > known.memberEpoch || (req.memberEpoch < known.memberEpoch && req.memberEpoch !== known.previousMemberEpoch)) {
        return error(ErrorCode.FENCED_MEMBER_EPOCH, `The member epoch ${req.memberEpoch} is not the member's ${known.memberEpoch}.`);
      }
    } else if (!known && (group?.members.size ?? 0) >= this.settings.maxSize()) {
      return error(ErrorCode.GROUP_MAX_SIZE_REACHED, `The share group has reached its maximum capacity of ${this.settings.maxSize()} members.`);
    }
    if (!group) {
      group = new ShareGroup(req.groupId);
      this.groups.set(req.groupId, group);
    }

    let bump = false;
    let member = known;
    if (!member) {
      member = new ShareMember(req.memberId !== '' ? req.memberId : newMemberId());
      group.members.set(member.memberId, member);
      group.removed.delete(member.memberId);
      bump = true;
      log.debug({ group: group.groupId, member: member.memberId }, 'share group member joined');
    } else if (req.memberEpoch === 0) {
      // Rejoining with epoch 0: whatever the member had is given again from the target.
      member.lastSent = null;
    }
    member.clientId = clientId;
    member.clientHost = clientHost;
    if (req.rackId !== null) member.rackId = req.rackId;
    if (req.subscribedTopicNames !== null) {
      const names = [...new Set(req.subscribedTopicNames)].sort();
      if (JSON.stringify(names) !== JSON.stringify(member.subscribedTopicNames)) bump = true;
      member.subscribedTopicNames = names;
    }
    const timeouts = this.settings.timeouts(group.groupId);
    this.scheduleSessionExpiry(group, member, timeouts.sessionTimeoutMs);
    if (bump) this.bumpEpoch(group);
    this.maybeRecomputeTarget(group);
    this.reconcile(group, member);

    const res: ShareHeartbeatResult = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: timeouts.heartbeatIntervalMs,
      assignment: null,
    };
    const assigned = fingerprint(member.assigned);
    if (member.lastSent !== assigned) {
      res.assignment = { topicPartitions: toList(member.assigned) };
      member.lastSent = assigned;
    }
    try {
      await this.persist(group);
    } catch (e) {
      log.error({ err: e, group: group.groupId }, 'could not store the share group state');
      return error(coordinatorWriteError(e));
    }
    return res;
  }

  private async leave(group: ShareGroup | undefined, req: ShareHeartbeatRequest): Promise<ShareHeartbeatResult> {
    const member = group?.members.get(req.memberId);
    if (!group || !member) return error(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${req.groupId}.`);
    this.removeMember(group, member, 'left the group');
    try {
      await this.persist(group);
    } catch (e) {
      return error(coordinatorWriteError(e));
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: member.memberId, memberEpoch: LEAVE_EPOCH, heartbeatIntervalMs: 0, assignment: null };
  }

  private removeMember(group: ShareGroup, member: ShareMember, reason: string): void {
    this.stopTimer(member);
    group.members.delete(member.memberId);
    group.target.delete(member.memberId);
    group.removed.add(member.memberId);
    log.info({ group: group.groupId, member: member.memberId, reason }, 'share group member removed');
    this.onMemberRemoved(group.groupId, member.memberId);
    this.bumpEpoch(group);
    this.maybeRecomputeTarget(group);
  }

  private scheduleSessionExpiry(group: ShareGroup, member: ShareMember, sessionTimeoutMs: number): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (group.members.get(member.memberId) !== member) return;
      this.removeMember(group, member, 'session expired');
      this.persist(group).catch((e: unknown) => log.error({ err: e, group: group.groupId }, 'could not store the share group state'));
    }, sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private bumpEpoch(group: ShareGroup): void {
    group.groupEpoch = Math.max(group.groupEpoch, group.assignmentEpoch) + 1;
  }

  // ---- assignment ------------------------------------------------------------------------

  private subscribedTopics(group: ShareGroup): Map<string, AssignableTopic> {
    const wanted = new Set<string>();
    for (const m of group.members.values()) for (const n of m.subscribedTopicNames) wanted.add(n);
    const out = new Map<string, AssignableTopic>();
    for (const name of wanted) {
      const t = this.topics.topic(name);
      if (t) out.set(t.id, { id: t.id, name: t.name, partitions: t.partitions.length });
    }
    return out;
  }

  /** A new target when the group epoch moved or the subscribed topics changed (created, deleted, grown). */
  private maybeRecomputeTarget(group: ShareGroup): void {
    const topics = this.subscribedTopics(group);
    const print = JSON.stringify([...topics.values()].map((t) => [t.id, t.partitions]).sort());
    if (print !== group.subscriptionFingerprint && group.assignmentEpoch >= group.groupEpoch) this.bumpEpoch(group);
    if (group.assignmentEpoch >= group.groupEpoch) return;
    group.subscriptionFingerprint = print;
    const members: AssignorMember[] = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: null,
      topics: new Set([...topics.values()].filter((t) => m.subscribedTopicNames.includes(t.name)).map((t) => t.id)),
      current: group.target.get(m.memberId) ?? m.assigned,
    }));
    group.target = shareSimpleAssignor.assign(members, topics);
    group.assignmentEpoch = group.groupEpoch;
  }

  /** No revocation phase: the member takes its target and the target's epoch at once. */
  private reconcile(group: ShareGroup, member: ShareMember): void {
    if (member.memberEpoch === group.assignmentEpoch) return;
    member.assigned = group.target.get(member.memberId) ?? new Map();
    member.previousMemberEpoch = member.memberEpoch;
    member.memberEpoch = group.assignmentEpoch;
  }

  // ---- admin -----------------------------------------------------------------------------

  /** DeleteGroups of a share group: only while it has no members; its share-partition state goes too. undefined: not a share group. */
  async deleteGroup(groupId: string): Promise<number | undefined> {
    if (!this.has(groupId)) return undefined;
    const group = this.groups.get(groupId);
    if (group && group.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    try {
      await this.states.delete(groupId, null);
      if (group) await this.store.log.append(groupId, [groupEpochRecord(groupId, null)]);
    } catch (e) {
      log.error({ err: e, group: groupId }, 'the share group deletion could not be stored');
      return coordinatorWriteError(e);
    }
    this.groups.delete(groupId);
    return ErrorCode.NONE;
  }

  // ---- persistence -----------------------------------------------------------------------

  /** Writes what changed since the last write: removed members' tombstones, members' metadata and assignments, the group epoch. */
  private persist(group: ShareGroup): Promise<void> {
    const records: CoordinatorRecord[] = [];
    for (const memberId of group.removed) {
      records.push(memberAssignmentRecord(group.groupId, memberId, null));
      records.push(memberMetadataRecord(group.groupId, memberId, null));
    }
    group.removed.clear();
    for (const m of group.members.values()) {
      const meta: ShareGroupMemberMetadataValue = { rackId: m.rackId, clientId: m.clientId, clientHost: m.clientHost, subscribedTopicNames: m.subscribedTopicNames };
      const metaPrint = JSON.stringify(meta);
      if (metaPrint !== m.persistedMetadata) {
        records.push(memberMetadataRecord(group.groupId, m.memberId, meta));
        m.persistedMetadata = metaPrint;
      }
      const assignment: ShareGroupCurrentMemberAssignmentValue = {
        memberEpoch: m.memberEpoch,
        previousMemberEpoch: m.previousMemberEpoch,
        state: MemberState.STABLE,
        assignedPartitions: toList(m.assigned),
      };
      const assignmentPrint = JSON.stringify(assignment);
      if (assignmentPrint !== m.persistedAssignment) {
        records.push(memberAssignmentRecord(group.groupId, m.memberId, assignment));
        m.persistedAssignment = assignmentPrint;
      }
    }
    if (group.groupEpoch !== group.persistedEpoch) {
      records.push(groupEpochRecord(group.groupId, group.groupEpoch));
      group.persistedEpoch = group.groupEpoch;
    }
    if (records.length === 0) return Promise.resolve();
    return this.store.log.append(group.groupId, records);
  }

  /**
   * Takes over the share groups of a __consumer_offsets partition: members come back with their
   * epochs and assignments and fresh session timers; the target is computed again (the
   * assignor is sticky and deterministic, so members keep what they had).
   */
  loadPartition(partition: Partition): void {
    const epochs = new Map<string, number | null>();
    const metas = new Map<string, Map<string, ShareGroupMemberMetadataValue | null>>();
    const assignments = new Map<string, Map<string, ShareGroupCurrentMemberAssignmentValue | null>>();
    this.store.log.replayRecords(partition, readShareGroupRecord, (record) => {
      if (record.kind === 'metadata') epochs.set(record.groupId, record.epoch);
      else if (record.kind === 'member') innerMap(metas, record.groupId).set(record.memberId, record.value);
      else innerMap(assignments, record.groupId).set(record.memberId, record.value);
    });
    for (const [groupId, epoch] of epochs) {
      if (epoch === null) continue;
      const group = new ShareGroup(groupId);
      group.groupEpoch = group.persistedEpoch = epoch;
      const timeouts = this.settings.timeouts(groupId);
      for (const [memberId, meta] of metas.get(groupId) ?? []) {
        if (meta === null) continue;
        const m = new ShareMember(memberId);
        Object.assign(m, { rackId: meta.rackId, clientId: meta.clientId, clientHost: meta.clientHost, subscribedTopicNames: meta.subscribedTopicNames, persistedMetadata: JSON.stringify(meta) });
        const a = assignments.get(groupId)?.get(memberId);
        if (a) {
          Object.assign(m, { memberEpoch: a.memberEpoch, previousMemberEpoch: a.previousMemberEpoch, assigned: fromList(a.assignedPartitions), persistedAssignment: JSON.stringify(a) });
          m.lastSent = fingerprint(m.assigned);
        }
        group.members.set(memberId, m);
        this.scheduleSessionExpiry(group, m, timeouts.sessionTimeoutMs);
      }
      group.assignmentEpoch = group.groupEpoch - 1;
      this.maybeRecomputeTarget(group);
      this.groups.set(groupId, group);
    }
    if (epochs.size > 0) log.info({ partition: partition.key, groups: this.groups.size }, 'share groups loaded');
  }

  unloadPartition(index: number): void {
    for (const g of [...this.groups.values()]) {
      if (this.store.partitionOf(g.groupId) !== index) continue;
      for (const m of g.members.values()) this.stopTimer(m);
      this.groups.delete(g.groupId);
    }
  }
}
