import { randomUUID } from 'node:crypto';
import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { createJoinGroupResponse, type JoinGroupResponse } from '../protocol/generated/messages/join-group-response.js';
import { createSyncGroupResponse, type SyncGroupResponse } from '../protocol/generated/messages/sync-group-response.js';
import type { GroupMetadataValue } from '../protocol/generated/group-coordinator/group-metadata-value.js';
import { Group, Member, type CommittedOffset, type Protocol } from './group.js';
import { coordinatorWriteError } from './coordinator-log.js';
import type { GroupLog, GroupLogRecord } from './group-log.js';
import { ControlType } from '../protocol/records/control-record.js';
import type { Partition } from '../replication/partition.js';
import type { ClassicGroups, ConsumerGroupsHook } from './consumer-group.js';

export interface CoordinatorSettings {
  /** group.initial.rebalance.delay.ms: how long a new group waits for more members. */
  initialRebalanceDelayMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** offsets.retention.minutes in ms: offsets of a group empty this long expire. */
  offsetsRetentionMs: number;
}

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+: a new member must first be given an id (MEMBER_ID_REQUIRED) and rejoin with it. */
  requireKnownMemberId: boolean;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface MemberRef {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

export function joinError(errorCode: number, memberId = ''): JoinGroupResponse {
  const res = createJoinGroupResponse();
  res.errorCode = errorCode;
  res.memberId = memberId;
  return res;
}

export function syncError(errorCode: number): SyncGroupResponse {
  const res = createSyncGroupResponse();
  res.errorCode = errorCode;
  return res;
}

/**
 * Kafka's classic group coordinator: JoinGroup/SyncGroup rebalances with session and rebalance
 * timeouts, static membership, and committed offsets, with every change that must survive a
 * restart written to __consumer_offsets first. Incremental cooperative rebalancing needs no
 * support here: clients drive its rounds with ordinary rebalances.
 */
/** What this coordinator asks of the share group coordinator beside it (see GroupCoordinator.shareGroups). */
export interface ShareGroupsHook {
  loadPartition(partition: Partition): void;
  unloadPartition(index: number): void;
  close(): void;
  /** Whether a share group has the id: classic members cannot join it. */
  has(groupId: string): boolean;
  /** undefined: no such share group. */
  deleteGroup(groupId: string): Promise<number | undefined>;
  /** ListGroups: the share groups, type `share`. */
  listed(): { groupId: string; state: string }[];
}

export class GroupCoordinator implements ClassicGroups {
  private readonly groups = new Map<string, Group>();
  /** The __consumer_offsets partitions this broker leads and has loaded. */
  private readonly loaded = new Set<number>();
  private expiryTimer: NodeJS.Timeout | null = null;
  /** Groups in their initial delay: they complete on the timer, not when everyone has joined. */
  private readonly initialDelay = new WeakMap<Group, boolean>();
  /** KIP-848 consumer groups (consumer-group.ts): they share this coordinator's offsets and partitions. */
  consumerGroups: ConsumerGroupsHook | null = null;
  /** Share groups (KIP-932, share/share-group.ts): their membership is on these partitions too. */
  shareGroups: ShareGroupsHook | null = null;

  constructor(
    private readonly settings: CoordinatorSettings,
    /** The __consumer_offsets records; consumer groups (KIP-848) write theirs here too. */
    readonly store: GroupLog,
  ) {}

  /** Starts offset expiry; groups come as this broker takes over partitions of __consumer_offsets. */
  start(expiryCheckMs: number): void {
    this.expiryTimer = setInterval(() => void this.expireOffsets(Date.now()), expiryCheckMs);
    this.expiryTimer.unref();
  }

  /**
   * Takes over the groups of one __consumer_offsets partition this broker now leads: replays
   * its records, so groups, members and offsets are as the last coordinator left them.
   */
  loadPartition(partition: Partition): void {
    const metadata = new Map<string, GroupMetadataValue | null>();
    this.store.replay(partition, (entry) => {
      if (entry.kind === 'marker') {
        this.endTransaction(entry.producerId, [...this.groups.values()].filter((g) => this.store.partitionOf(g.groupId) === partition.index), entry.type === ControlType.COMMIT);
        return;
      }
      const r = entry.record;
      if (r.kind === 'group') {
        metadata.set(r.group, r.value);
        return;
      }
      const group = this.getOrCreate(r.group);
      const key = group.offsetKey(r.topic, r.partition);
      const target = entry.producerId === null ? group.offsets : this.pendingOf(group, entry.producerId);
      if (r.value === null) target.delete(key);
      else {
        target.set(key, {
          topic: r.topic,
          partition: r.partition,
          offset: Number(r.value.offset),
          leaderEpoch: r.value.leaderEpoch,
          metadata: r.value.metadata,
          commitTimestamp: Number(r.value.commitTimestamp),
          expireTimestamp: Number(r.value.expireTimestamp),
        });
      }
    });
    for (const [groupId, value] of metadata) {
      if (value === null) {
        const g = this.groups.get(groupId);
        if (g && g.offsets.size === 0) this.groups.delete(groupId);
        continue;
      }
      this.restore(this.getOrCreate(groupId), value);
    }
    this.consumerGroups?.loadPartition(partition);
    this.shareGroups?.loadPartition(partition);
    this.loaded.add(partition.index);
    log.info({ partition: partition.key, groups: this.groupsOf(partition.index).length }, 'coordinator of a __consumer_offsets partition: groups loaded');
  }

  /** Gives up the groups of a partition this broker no longer leads: their next coordinator has them. */
  unloadPartition(index: number): void {
    if (!this.loaded.delete(index)) return;
    this.consumerGroups?.unloadPartition(index);
    this.shareGroups?.unloadPartition(index);
    for (const g of this.groupsOf(index)) {
      this.stopTimers(g);
      for (const m of g.members.values()) {
        m.awaitingJoin?.(joinError(ErrorCode.NOT_COORDINATOR, m.memberId));
        m.awaitingSync?.(syncError(ErrorCode.NOT_COORDINATOR));
      }
      this.groups.delete(g.groupId);
    }
    log.info({ partition: index }, 'no longer the coordinator of a __consumer_offsets partition');
  }

  private groupsOf(index: number): Group[] {
    return [...this.groups.values()].filter((g) => this.store.partitionOf(g.groupId) === index);
  }

  /**
   * NONE when this broker coordinates the group now; else the error that sends a client to look
   * for its coordinator again (NOT_COORDINATOR), or to wait (COORDINATOR_NOT_AVAILABLE while
   * __consumer_offsets does not exist yet).
   */
  coordinatorError(groupId: string): number {
    const index = this.store.partitionOf(groupId);
    if (index < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return this.loaded.has(index) ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR;
  }

  /**
   * A group as last written: members come back with fresh session timers, so consumers that
   * keep heartbeating carry on with their assignment across a broker restart.
   */
  private restore(group: Group, value: GroupMetadataValue): void {
    group.generationId = value.generation;
    group.protocolType = value.protocolType;
    group.protocolName = value.protocol;
    group.leaderId = value.leader;
    for (const m of value.members) {
      const member = new Member(m.memberId, m.groupInstanceId, m.clientId, m.clientHost, m.sessionTimeout, m.rebalanceTimeout, value.protocolType, [
        { name: value.protocol ?? '', metadata: Buffer.from(m.subscription) },
      ]);
      member.assignment = Buffer.from(m.assignment);
      group.members.set(m.memberId, member);
      if (m.groupInstanceId) group.staticMembers.set(m.groupInstanceId, m.memberId);
      this.scheduleSessionExpiry(group, member);
    }
    group.transition(group.isEmpty ? 'Empty' : 'Stable');
    if (value.currentStateTimestamp > 0n) group.stateTimestamp = Number(value.currentStateTimestamp);
  }

  close(): void {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.consumerGroups?.close();
    this.shareGroups?.close();
    for (const g of this.groups.values()) this.stopTimers(g);
  }

  private stopTimers(g: Group): void {
    if (g.rebalanceTimer) clearTimeout(g.rebalanceTimer);
    for (const t of g.pendingMembers.values()) clearTimeout(t);
    for (const m of g.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
  }

  private getOrCreate(groupId: string): Group {
    let g = this.groups.get(groupId);
    if (!g) {
      g = new Group(groupId);
      this.groups.set(groupId, g);
    }
    return g;
  }

  group(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  allGroups(): Group[] {
    return [...this.groups.values()];
  }

  // ---- membership ------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinGroupResponse> {
    if (req.groupId === '') return Promise.resolve(joinError(ErrorCode.INVALID_GROUP_ID));
    const elsewhere = this.coordinatorError(req.groupId);
    if (elsewhere !== ErrorCode.NONE) return Promise.resolve(joinError(elsewhere, req.memberId));
    if (req.sessionTimeoutMs < this.settings.minSessionTimeoutMs || req.sessionTimeoutMs > this.settings.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    if (this.shareGroups?.has(req.groupId)) return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    // A consumer group (KIP-848) with members takes classic members in (online migration).
    const inConsumerGroup = this.consumerGroups?.classicJoin(req);
    if (inConsumerGroup) return inConsumerGroup;
    const existing = this.groups.get(req.groupId);
    if (!existing && req.memberId !== '') return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    const group = existing ?? this.getOrCreate(req.groupId);
    if (group.state === 'Dead') return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (!group.supportsProtocols(req.protocolType, req.protocols)) {
      return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    return req.memberId === '' ? this.joinUnknownMember(group, req) : this.joinKnownMember(group, req);
  }

  private joinUnknownMember(group: Group, req: JoinRequest): Promise<JoinGroupResponse> {
    const memberId = `${req.clientId}-${randomUUID()}`;
    if (req.groupInstanceId !== null) {
      const previous = group.staticMembers.get(req.groupInstanceId);
      if (previous !== undefined && group.members.has(previous)) return this.replaceStaticMember(group, previous, memberId, req);
    } else if (req.requireKnownMemberId) {
      // The member gets its id first and must come back with it within its session timeout.
      group.pendingMembers.set(
        memberId,
        setTimeout(() => {
          group.pendingMembers.delete(memberId);
          this.maybeCompleteJoin(group);
        }, req.sessionTimeoutMs).unref(),
      );
      return Promise.resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId));
    }
    return this.addMemberAndRebalance(group, memberId, req);
  }

  private joinKnownMember(group: Group, req: JoinRequest): Promise<JoinGroupResponse> {
    const pending = group.pendingMembers.get(req.memberId);
    if (pending !== undefined) {
      clearTimeout(pending);
      group.pendingMembers.delete(req.memberId);
      return this.addMemberAndRebalance(group, req.memberId, req);
    }
    const member = group.members.get(req.memberId);
    if (!member) return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    if (req.groupInstanceId !== null && group.staticMembers.get(req.groupInstanceId) !== req.memberId) {
      return Promise.resolve(joinError(ErrorCode.FENCED_INSTANCE_ID, req.memberId));
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, req);
      case 'CompletingRebalance':
        // The member missed its join response: give it again unless its protocols changed.
        if (member.sameProtocols(req.protocols)) return Promise.resolve(this.joinResponse(group, member));
        return this.updateMemberAndRebalance(group, member, req);
      case 'Stable':
        if (member.memberId === group.leaderId || !member.sameProtocols(req.protocols)) return this.updateMemberAndRebalance(group, member, req);
        return Promise.resolve(this.joinResponse(group, member));
      default:
        return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    }
  }

  /** A static member restarted with a new member id: it takes over the old one's place and assignment. */
  private replaceStaticMember(group: Group, oldId: string, newId: string, req: JoinRequest): Promise<JoinGroupResponse> {
    const old = group.members.get(oldId)!;
    if (old.sessionTimer) clearTimeout(old.sessionTimer);
    old.awaitingJoin?.(joinError(ErrorCode.FENCED_INSTANCE_ID, oldId));
    old.awaitingSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    group.members.delete(oldId);
    const member = this.newMember(newId, req);
    member.assignment = old.assignment;
    group.members.set(newId, member);
    group.staticMembers.set(req.groupInstanceId!, newId);
    if (group.leaderId === oldId) group.leaderId = newId;
    if (group.state === 'Stable' && old.sameProtocols(req.protocols)) {
      this.scheduleSessionExpiry(group, member);
      this.persistInBackground(group);
      return Promise.resolve(this.joinResponse(group, member));
    }
    return this.updateMemberAndRebalance(group, member, req);
  }

  private newMember(memberId: string, req: JoinRequest): Member {
    return new Member(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.sessionTimeoutMs, req.rebalanceTimeoutMs, req.protocolType, req.protocols);
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest): Promise<JoinGroupResponse> {
    const member = this.newMember(memberId, req);
    if (group.isEmpty) group.protocolType = req.protocolType;
    group.members.set(memberId, member);
    if (req.groupInstanceId !== null) group.staticMembers.set(req.groupInstanceId, memberId);
    const response = new Promise<JoinGroupResponse>((resolve) => (member.awaitingJoin = resolve));
    this.prepareRebalance(group, `${memberId} joined`);
    this.maybeCompleteJoin(group);
    return response;
  }

  private updateMemberAndRebalance(group: Group, member: Member, req: JoinRequest): Promise<JoinGroupResponse> {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    const response = new Promise<JoinGroupResponse>((resolve) => (member.awaitingJoin = resolve));
    this.prepareRebalance(group, `${member.memberId} rejoined`);
    this.maybeCompleteJoin(group);
    return response;
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'PreparingRebalance') return;
    // Members waiting for an assignment of the old generation must rejoin.
    for (const m of group.members.values()) {
      if (m.awaitingSync) {
        m.awaitingSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        m.awaitingSync = null;
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.transition('PreparingRebalance');
    log.debug({ group: group.groupId, reason }, 'rebalance');
    // A new group waits a little for more members (group.initial.rebalance.delay.ms); a
    // running one gives its members up to their rebalance timeout to rejoin.
    const delay = wasEmpty ? Math.min(this.settings.initialRebalanceDelayMs, group.maxRebalanceTimeoutMs()) : group.maxRebalanceTimeoutMs();
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), delay);
    group.rebalanceTimer.unref();
    this.initialDelay.set(group, wasEmpty && delay > 0);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || this.initialDelay.get(group)) return;
    if (group.allMembersJoined()) this.completeJoin(group);
  }

  /** Ends the join phase: drops members that did not rejoin, starts a generation, answers everyone. */
  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    this.initialDelay.set(group, false);
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) this.removeMember(group, m);
    }
    group.generationId++;
    if (group.isEmpty) {
      group.protocolName = null;
      group.leaderId = null;
      group.transition('Empty');
      this.persistInBackground(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    if (group.leaderId === null || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.transition('CompletingRebalance');
    for (const m of group.members.values()) {
      const reply = m.awaitingJoin!;
      m.awaitingJoin = null;
      reply(this.joinResponse(group, m));
      this.scheduleSessionExpiry(group, m);
    }
  }

  private joinResponse(group: Group, member: Member): JoinGroupResponse {
    const res = createJoinGroupResponse();
    res.generationId = group.generationId;
    res.protocolType = group.protocolType;
    res.protocolName = group.protocolName;
    res.leader = group.leaderId ?? '';
    res.memberId = member.memberId;
    if (member.memberId === group.leaderId) {
      res.members = [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        metadata: m.metadataFor(group.protocolName),
      }));
    }
    return res;
  }

  private scheduleSessionExpiry(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      log.info({ group: group.groupId, member: member.memberId }, 'member session expired');
      this.removeMember(group, member);
      this.afterMemberLeft(group, 'session expired');
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private removeMember(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    if (member.groupInstanceId && group.staticMembers.get(member.groupInstanceId) === member.memberId) {
      group.staticMembers.delete(member.groupInstanceId);
    }
    member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    member.awaitingSync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    member.awaitingJoin = null;
    member.awaitingSync = null;
  }

  private afterMemberLeft(group: Group, reason: string): void {
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.prepareRebalance(group, reason);
    else if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
  }

  /** The common checks of SyncGroup, Heartbeat and OffsetCommit: a known member of this generation. */
  private memberCheck(group: Group | undefined, ref: MemberRef): { error: number; member: Member | null } {
    if (!group || group.state === 'Dead') return { error: ErrorCode.UNKNOWN_MEMBER_ID, member: null };
    if (ref.groupInstanceId !== null) {
      const owner = group.staticMembers.get(ref.groupInstanceId);
      if (owner !== undefined && owner !== ref.memberId) return { error: ErrorCode.FENCED_INSTANCE_ID, member: null };
    }
    const member = group.members.get(ref.memberId);
    if (!member) return { error: ErrorCode.UNKNOWN_MEMBER_ID, member: null };
    if (ref.generationId !== group.generationId) return { error: ErrorCode.ILLEGAL_GENERATION, member };
    return { error: ErrorCode.NONE, member };
  }

  sync(req: SyncRequest): Promise<SyncGroupResponse> {
    const elsewhere = this.coordinatorError(req.groupId);
    if (elsewhere !== ErrorCode.NONE) return Promise.resolve(syncError(elsewhere));
    const inConsumerGroup = this.consumerGroups?.classicSync(req);
    if (inConsumerGroup) return Promise.resolve(inConsumerGroup);
    const group = this.groups.get(req.groupId);
    const { error, member } = this.memberCheck(group, req);
    if (error !== ErrorCode.NONE) return Promise.resolve(syncError(error));
    const g = group!;
    if ((req.protocolType !== null && req.protocolType !== g.protocolType) || (req.protocolName !== null && req.protocolName !== g.protocolName)) {
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    this.scheduleSessionExpiry(g, member!);
    if (g.state === 'PreparingRebalance') return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    if (g.state === 'Stable') return Promise.resolve(this.syncResponse(g, member!));
    if (g.state !== 'CompletingRebalance') return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    const response = new Promise<SyncGroupResponse>((resolve) => (member!.awaitingSync = resolve));
    if (member!.memberId === g.leaderId) void this.completeSync(g, req);
    return response;
  }

  /** The leader's assignment arrived: store it durably, then answer every member. */
  private async completeSync(group: Group, req: SyncRequest): Promise<void> {
    const generation = group.generationId;
    const byMember = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
    for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? Buffer.alloc(0);
    let error: number = ErrorCode.NONE;
    try {
      await this.persistGroup(group);
    } catch (e) {
      log.error({ err: e, group: group.groupId }, 'could not store the group assignment');
      error = coordinatorWriteError(e);
    }
    // A rebalance that started meanwhile has already answered these members.
    if (group.state !== 'CompletingRebalance' || group.generationId !== generation) return;
    if (error === ErrorCode.NONE) group.transition('Stable');
    else this.prepareRebalance(group, 'assignment not stored');
    for (const m of group.members.values()) {
      const reply = m.awaitingSync;
      m.awaitingSync = null;
      reply?.(error === ErrorCode.NONE ? this.syncResponse(group, m) : syncError(error));
    }
  }

  private syncResponse(group: Group, member: Member): SyncGroupResponse {
    const res = createSyncGroupResponse();
    res.protocolType = group.protocolType;
    res.protocolName = group.protocolName;
    res.assignment = member.assignment;
    return res;
  }

  heartbeat(ref: MemberRef): number {
    const elsewhere = this.coordinatorError(ref.groupId);
    if (elsewhere !== ErrorCode.NONE) return elsewhere;
    const inConsumerGroup = this.consumerGroups?.classicHeartbeat(ref);
    if (inConsumerGroup !== undefined) return inConsumerGroup;
    const group = this.groups.get(ref.groupId);
    const { error, member } = this.memberCheck(group, ref);
    if (error !== ErrorCode.NONE) return error;
    this.scheduleSessionExpiry(group!, member!);
    return group!.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Removes members (LeaveGroup); each gets its own error code. */
  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]): { topError: number; results: number[] } {
    const elsewhere = this.coordinatorError(groupId);
    if (elsewhere !== ErrorCode.NONE) return { topError: elsewhere, results: members.map(() => elsewhere) };
    const inConsumerGroup = this.consumerGroups?.classicLeave(groupId, members);
    if (inConsumerGroup) return inConsumerGroup;
    const group = this.groups.get(groupId);
    if (!group) return { topError: ErrorCode.UNKNOWN_MEMBER_ID, results: members.map(() => ErrorCode.UNKNOWN_MEMBER_ID) };
    const results = members.map(({ memberId, groupInstanceId }) => {
      const id = groupInstanceId !== null ? group.staticMembers.get(groupInstanceId) : memberId;
      if (id === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (groupInstanceId !== null && memberId !== '' && memberId !== id) return ErrorCode.FENCED_INSTANCE_ID;
      const member = group.members.get(id);
      if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
      this.removeMember(group, member);
      return ErrorCode.NONE;
    });
    if (results.some((r) => r === ErrorCode.NONE)) this.afterMemberLeft(group, 'members left');
    return { topError: ErrorCode.NONE, results };
  }

  // ---- online migration (KIP-848): members moving to and from a consumer group ----------

  isActive(groupId: string): boolean {
    return !(this.groups.get(groupId)?.isEmpty ?? true);
  }

  stableMembers(groupId: string): { generationId: number; protocolName: string | null; members: Member[] } | string {
    const group = this.groups.get(groupId);
    if (!group || group.isEmpty) return `Group ${groupId} has no classic members.`;
    if (group.protocolType !== 'consumer') return `Group ${groupId} is a classic group of protocol type ${group.protocolType}, not consumer.`;
    if (group.state !== 'Stable') return `Group ${groupId} is a classic group in the middle of a rebalance (${group.state}); try again.`;
    return { generationId: group.generationId, protocolName: group.protocolName, members: [...group.members.values()] };
  }

  release(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group) return;
    this.stopTimers(group);
    group.members.clear();
    group.staticMembers.clear();
    group.leaderId = null;
    group.protocolName = null;
    group.transition('Empty');
    this.persistInBackground(group);
  }

  adopt(groupId: string, generationId: number, members: Member[]): void {
    const group = this.getOrCreate(groupId);
    group.generationId = generationId;
    group.protocolType = 'consumer';
    for (const m of members) {
      group.members.set(m.memberId, m);
      if (m.groupInstanceId !== null) group.staticMembers.set(m.groupInstanceId, m.memberId);
      this.scheduleSessionExpiry(group, m);
    }
    group.protocolName = group.selectProtocol();
    group.leaderId = members[0].memberId;
    group.transition('Stable');
    // The members learn of it from their next heartbeat and rejoin: a classic rebalance gives them a classic assignment.
    this.prepareRebalance(group, 'downgraded from a consumer group');
    this.persistInBackground(group);
  }

  /**
   * For a change no request waits on. Its failure (the group's __consumer_offsets partition
   * offline, a disk error) is logged: left unhandled, it would end the process.
   */
  private persistInBackground(group: Group): void {
    this.persistGroup(group).catch((e: unknown) => log.error({ err: e, group: group.groupId }, 'could not store the group state'));
  }

  /** Writes the group's generation, members and assignments (Kafka's GroupMetadata record). */
  private persistGroup(group: Group): Promise<void> {
    const value: GroupMetadataValue = {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: BigInt(group.stateTimestamp),
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: m.metadataFor(group.protocolName),
        assignment: m.assignment,
      })),
    };
    return this.store.append(group.groupId, [{ kind: 'group', value }]);
  }

  // ---- offsets ---------------------------------------------------------------------------

  /**
   * The error for a commit, before any offset is looked at: commits from outside the group
   * (generation -1, no member id) are allowed while it is empty; members must be of the
   * current generation and not in the middle of a rebalance's sync phase.
   */
  commitCheck(ref: MemberRef, apiVersion: number): number {
    const group = this.groups.get(ref.groupId);
    if (ref.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const elsewhere = this.coordinatorError(ref.groupId);
    if (elsewhere !== ErrorCode.NONE) return elsewhere;
    const consumerCheck = this.consumerGroups?.commitCheck(ref, apiVersion);
    if (consumerCheck !== undefined) return consumerCheck;
    if (!group || group.state === 'Empty') {
      return ref.generationId < 0 ? ErrorCode.NONE : group ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.ILLEGAL_GENERATION;
    }
    if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    const { error } = this.memberCheck(group, ref);
    return error;
  }

  /**
   * TxnOffsetCommit's check, Kafka's for transactional commits: a producer may commit for a
   * group without being one of its members (generation -1, no member id); a member id or a
   * generation it does name must be current.
   */
  transactionalCommitCheck(ref: MemberRef): number {
    if (ref.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const elsewhere = this.coordinatorError(ref.groupId);
    if (elsewhere !== ErrorCode.NONE) return elsewhere;
    const group = this.groups.get(ref.groupId);
    if (!group || group.state === 'Empty') return ErrorCode.NONE;
    if (ref.groupInstanceId !== null) {
      const owner = group.staticMembers.get(ref.groupInstanceId);
      if (owner !== undefined && owner !== ref.memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    if (ref.memberId !== '' && !group.members.has(ref.memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (ref.generationId >= 0 && ref.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  /**
   * Writes offsets for a group. With `producer` (TxnOffsetCommit) they go in the producer's
   * transactional batch and count only once its commit marker is written there.
   */
  async commit(groupId: string, offsets: OffsetToCommit[], producer?: { id: bigint; epoch: number }, retentionMs = -1): Promise<void> {
    const group = this.getOrCreate(groupId);
    const now = Date.now();
    const expireTimestamp = retentionMs >= 0 ? now + retentionMs : -1;
    const records: GroupLogRecord[] = offsets.map((o) => ({
      kind: 'offset',
      topic: o.topic,
      partition: o.partition,
      value: { offset: BigInt(o.offset), leaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', commitTimestamp: BigInt(now), expireTimestamp: BigInt(expireTimestamp) },
    }));
    await this.store.append(groupId, records, producer);
    const target = producer ? this.pendingOf(group, producer.id) : group.offsets;
    for (const o of offsets) {
      target.set(group.offsetKey(o.topic, o.partition), { topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', commitTimestamp: now, expireTimestamp });
    }
  }

  private pendingOf(group: Group, producerId: bigint): Map<string, CommittedOffset & { topic: string; partition: number }> {
    let pending = group.pendingTxnOffsets.get(producerId);
    if (!pending) group.pendingTxnOffsets.set(producerId, (pending = new Map()));
    return pending;
  }

  /**
   * A transaction marker of `producerId` now in a __consumer_offsets partition this broker
   * coordinates: its offsets in the partition's groups become committed, or (abort) go.
   */
  completeTransaction(partitionIndex: number, producerId: bigint, committed: boolean): void {
    this.endTransaction(producerId, this.groupsOf(partitionIndex), committed);
  }

  private endTransaction(producerId: bigint, groups: Group[], committed: boolean): void {
    for (const g of groups) {
      const pending = g.pendingTxnOffsets.get(producerId);
      if (!pending) continue;
      g.pendingTxnOffsets.delete(producerId);
      if (committed) for (const [key, o] of pending) g.offsets.set(key, o);
    }
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    const g = this.groups.get(groupId);
    return g?.offsets.get(g.offsetKey(topic, partition));
  }

  /** Every committed offset of a group, for OffsetFetch with all topics. */
  allCommitted(groupId: string): (CommittedOffset & { topic: string; partition: number })[] {
    return [...(this.groups.get(groupId)?.offsets.values() ?? [])];
  }

  /** Deletes a group's offsets for the given partitions (OffsetDelete). */
  async deleteOffsets(groupId: string, partitions: { topic: string; partition: number }[]): Promise<void> {
    const group = this.groups.get(groupId);
    if (!group) return;
    await this.store.append(groupId, partitions.map((p) => ({ kind: 'offset', topic: p.topic, partition: p.partition, value: null })));
    for (const p of partitions) group.offsets.delete(group.offsetKey(p.topic, p.partition));
  }

  /** DeleteGroups: only an empty group goes, with tombstones for its metadata and offsets. */
  async deleteGroup(groupId: string): Promise<number> {
    const elsewhere = this.coordinatorError(groupId);
    if (elsewhere !== ErrorCode.NONE) return elsewhere;
    const share = await this.shareGroups?.deleteGroup(groupId);
    if (share !== undefined) return share;
    const group = this.groups.get(groupId);
    const consumer = await this.consumerGroups?.deleteGroup(groupId);
    if (consumer !== undefined && (consumer !== ErrorCode.NONE || !group)) return consumer;
    if (!group || group.state === 'Dead') return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP;
    group.transition('Dead');
    const tombstones: GroupLogRecord[] = [...group.offsets.values()].map((o) => ({ kind: 'offset', topic: o.topic, partition: o.partition, value: null }));
    tombstones.push({ kind: 'group', value: null });
    try {
      await this.store.append(groupId, tombstones);
    } catch (e) {
      log.error({ err: e, group: groupId }, 'the group deletion could not be stored');
      group.transition('Empty');
      return coordinatorWriteError(e);
    }
    this.groups.delete(groupId);
    return ErrorCode.NONE;
  }

  /**
   * Expires the offsets of empty groups: offsets.retention.minutes after the group emptied (or
   * the commit, if later), or at the expire time a v2-4 commit's retention time set.
   */
  async expireOffsets(now: number): Promise<void> {
    for (const group of [...this.groups.values()]) {
      if (group.state !== 'Empty') continue;
      if (this.consumerGroups?.isActive(group.groupId)) continue;
      const expired = [...group.offsets.values()].filter((o) =>
        o.expireTimestamp >= 0 ? now >= o.expireTimestamp : now - Math.max(o.commitTimestamp, group.stateTimestamp) >= this.settings.offsetsRetentionMs,
      );
      if (expired.length === 0) continue;
      try {
        await this.deleteOffsets(group.groupId, expired);
        if (group.offsets.size === 0) await this.deleteGroup(group.groupId);
        log.info({ group: group.groupId, offsets: expired.length }, 'expired the offsets of an empty group');
      } catch (e) {
        log.error({ err: e, group: group.groupId }, 'offset expiry failed');
      }
    }
  }
}
