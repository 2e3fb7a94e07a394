import type { Group, Member } from '../coordinator/group.js';
import { decodeAssignment } from '../protocol/consumer-protocol.js';
import type { ConsoleBroker } from './console-broker.js';

export interface GroupSummary {
  groupId: string;
  state: string;
  protocolType: string | null;
  protocol: string | null;
  members: number;
  /** Summed over the partitions with a committed offset. */
  totalLag: number;
}

export interface MemberView {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Partitions by topic, or null when the assignment is not the consumer protocol's. */
  assignment: { topic: string; partitions: number[] }[] | null;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Null for a partition assigned to a member that has not committed yet. */
  committed: number | null;
  /** Null when the partition no longer exists or is offline. */
  highWatermark: number | null;
  /** High watermark minus committed; null when either is unknown. */
  lag: number | null;
  /** The member the partition is assigned to, if any. */
  memberId: string | null;
  commitTimestamp: number | null;
  metadata: string | null;
}

export interface GroupDetail extends GroupSummary {
  generationId: number;
  leaderId: string | null;
  memberDetails: MemberView[];
  partitions: PartitionLag[];
}

function assignmentView(group: Group, member: Member): MemberView['assignment'] {
  if (group.protocolType !== 'consumer') return null;
  try {
    return decodeAssignment(member.assignment);
  } catch {
    return null;
  }
}

function lagOf(committed: number | null, highWatermark: number | null): number | null {
  return committed === null || highWatermark === null ? null : Math.max(0, highWatermark - committed);
}

function partitionLags(broker: ConsoleBroker, group: Group, members: MemberView[]): PartitionLag[] {
  const rows = new Map<string, PartitionLag>();
  const row = (topic: string, partition: number): PartitionLag => {
    const key = group.offsetKey(topic, partition);
    let r = rows.get(key);
    if (!r) {
      const hw = broker.partitions.get(topic, partition)?.highWatermark ?? null;
      r = { topic, partition, committed: null, highWatermark: hw, lag: null, memberId: null, commitTimestamp: null, metadata: null };
      rows.set(key, r);
    }
    return r;
  };
  for (const o of group.offsets.values()) {
    const r = row(o.topic, o.partition);
    r.committed = o.offset;
    r.lag = lagOf(o.offset, r.highWatermark);
    r.commitTimestamp = o.commitTimestamp;
    r.metadata = o.metadata;
  }
  for (const m of members) for (const a of m.assignment ?? []) for (const p of a.partitions) row(a.topic, p).memberId = m.memberId;
  return [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

function summaryOf(group: Group, partitions: PartitionLag[]): GroupSummary {
  return {
    groupId: group.groupId,
    state: group.state,
    protocolType: group.protocolType,
    protocol: group.protocolName,
    members: group.members.size,
    totalLag: partitions.reduce((n, p) => n + (p.lag ?? 0), 0),
  };
}

function memberViews(group: Group): MemberView[] {
  return [...group.members.values()].map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    assignment: assignmentView(group, m),
  }));
}

function detailOf(broker: ConsoleBroker, group: Group): GroupDetail {
  const memberDetails = memberViews(group);
  const partitions = partitionLags(broker, group, memberDetails);
  return { ...summaryOf(group, partitions), generationId: group.generationId, leaderId: group.leaderId, memberDetails, partitions };
}

export function groupSummaries(broker: ConsoleBroker): GroupSummary[] {
  return broker.groups
    .allGroups()
    .filter((g) => g.state !== 'Dead')
    .map((g) => summaryOf(g, partitionLags(broker, g, memberViews(g))))
    .sort((a, b) => a.groupId.localeCompare(b.groupId));
}

export function groupDetail(broker: ConsoleBroker, groupId: string): GroupDetail | null {
  const g = broker.groups.group(groupId);
  return g && g.state !== 'Dead' ? detailOf(broker, g) : null;
}
