import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { createShareGroupHeartbeatResponse } from '../../protocol/generated/messages/share-group-heartbeat-response.js';
import { createShareGroupDescribeResponse, type ShareGroupDescribeResponseDescribedGroup } from '../../protocol/generated/messages/share-group-describe-response.js';
import {
  createDescribeShareGroupOffsetsResponse,
  type DescribeShareGroupOffsetsResponseGroup,
  type DescribeShareGroupOffsetsResponseTopic,
} from '../../protocol/generated/messages/describe-share-group-offsets-response.js';
import { createAlterShareGroupOffsetsResponse, type AlterShareGroupOffsetsResponseTopic } from '../../protocol/generated/messages/alter-share-group-offsets-response.js';
import { createDeleteShareGroupOffsetsResponse, type DeleteShareGroupOffsetsResponseTopic } from '../../protocol/generated/messages/delete-share-group-offsets-response.js';
import { toList } from '../../coordinator/consumer-group.js';
import { shareSimpleAssignor } from '../../coordinator/assignors.js';
import type { GroupCoordinator } from '../../coordinator/group-coordinator.js';
import type { ShareGroupCoordinator } from '../../coordinator/share/share-group.js';
import type { MetadataImage } from '../../metadata/image.js';
import { ZERO_UUID } from '../../protocol/primitives/uuid.js';
import { handler, type ApiHandler } from '../router.js';
import { authorizedOperations } from './authorized-operations.js';

/** ShareGroupHeartbeat: v0 (Kafka 4.0's early access) and v1 (4.1), the same fields. */
function shareGroupHeartbeatHandler(shares: ShareGroupCoordinator) {
  return handler(apis.ShareGroupHeartbeat, 0, 1, async (req, { header, connection }) => {
    const result = await shares.heartbeat(
      { groupId: req.groupId, memberId: req.memberId, memberEpoch: req.memberEpoch, rackId: req.rackId, subscribedTopicNames: req.subscribedTopicNames },
      header.clientId ?? '',
      `/${connection.remoteAddress}`,
    );
    return { ...createShareGroupHeartbeatResponse(), ...result };
  });
}

/**
 * Why the share group admin APIs cannot act on a group here: another broker coordinates it, or
 * the id is a classic or consumer group's; null when they can (the group may not exist yet).
 */
function groupProblem(groups: GroupCoordinator, shares: ShareGroupCoordinator, groupId: string): { code: number; message: string | null } | null {
  const elsewhere = groups.coordinatorError(groupId);
  if (elsewhere !== ErrorCode.NONE) return { code: elsewhere, message: null };
  if (!shares.has(groupId) && isOtherGroup(groups, groupId)) return { code: ErrorCode.GROUP_ID_NOT_FOUND, message: `Group ${groupId} is not a share group.` };
  return null;
}

/** Whether a classic or consumer group has the id. */
export function isOtherGroup(groups: GroupCoordinator, groupId: string): boolean {
  const classic = groups.group(groupId);
  return (classic !== undefined && classic.state !== 'Dead') || groups.consumerGroups?.describedAsClassic(groupId) !== undefined;
}

function shareGroupDescribeHandler(shares: ShareGroupCoordinator, groups: GroupCoordinator) {
  return handler(apis.ShareGroupDescribe, 0, 0, (req) => {
    const res = createShareGroupDescribeResponse();
    res.groups = req.groupIds.map((groupId): ShareGroupDescribeResponseDescribedGroup => {
      const base = {
        errorCode: ErrorCode.NONE,
        errorMessage: null as string | null,
        groupId,
        groupState: '',
        groupEpoch: -1,
        assignmentEpoch: -1,
        assignorName: '',
        members: [],
        authorizedOperations: authorizedOperations('group', req.includeAuthorizedOperations),
      };
      const problem = groupProblem(groups, shares, groupId);
      if (problem) return { ...base, errorCode: problem.code, errorMessage: problem.message };
      if (!shares.has(groupId)) return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.` };
      const g = shares.group(groupId);
      return {
        ...base,
        groupState: g?.state ?? 'Empty',
        groupEpoch: g?.groupEpoch ?? 0,
        assignmentEpoch: g?.assignmentEpoch ?? 0,
        assignorName: shareSimpleAssignor.name,
        members: [...(g?.members.values() ?? [])].map((m) => ({
          memberId: m.memberId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: m.subscribedTopicNames,
          assignment: { topicPartitions: toList(m.assigned).map((t) => ({ ...t, topicName: shares.topicName(t.topicId) })) },
        })),
      };
    });
    return res;
  });
}

/** Kafka's start offset of a share-partition that has no state yet. */
const UNINITIALIZED = -1n;

function describeShareGroupOffsetsHandler(shares: ShareGroupCoordinator, groups: GroupCoordinator, metadata: () => MetadataImage) {
  return handler(apis.DescribeShareGroupOffsets, 0, 0, (req) => {
    const res = createDescribeShareGroupOffsetsResponse();
    res.groups = req.groups.map((g): DescribeShareGroupOffsetsResponseGroup => {
      const problem = groupProblem(groups, shares, g.groupId);
      if (problem) return { groupId: g.groupId, topics: [], errorCode: problem.code, errorMessage: problem.message };
      const offsets = shares.states.offsets(g.groupId);
      const image = metadata();
      const partition = (topicId: string, p: number) => {
        const o = offsets.find((x) => x.topicId === topicId && x.partition === p);
        return { partitionIndex: p, startOffset: o ? BigInt(o.startOffset) : UNINITIALIZED, leaderEpoch: o?.leaderEpoch ?? -1, errorCode: ErrorCode.NONE, errorMessage: null };
      };
      let topics: DescribeShareGroupOffsetsResponseTopic[];
      if (g.topics === null) {
        // Every share-partition with state, by topic.
        const byTopic = new Map<string, number[]>();
        for (const o of offsets) byTopic.set(o.topicId, [...(byTopic.get(o.topicId) ?? []), o.partition]);
        topics = [...byTopic]
          .filter(([topicId]) => image.topicById(topicId) !== undefined)
          .map(([topicId, ps]) => ({ topicName: image.topicById(topicId)!.name, topicId, partitions: ps.sort((a, b) => a - b).map((p) => partition(topicId, p)) }));
      } else {
        topics = g.topics.map((t) => {
          const topic = image.topic(t.topicName);
          if (!topic) {
            const unknown = { startOffset: UNINITIALIZED, leaderEpoch: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${t.topicName} does not exist.` };
            return { topicName: t.topicName, topicId: ZERO_UUID, partitions: t.partitions.map((p) => ({ partitionIndex: p, ...unknown })) };
          }
          return { topicName: t.topicName, topicId: topic.id, partitions: t.partitions.map((p) => partition(topic.id, p)) };
        });
      }
      return { groupId: g.groupId, topics, errorCode: ErrorCode.NONE, errorMessage: null };
    });
    return res;
  });
}

/** The admin APIs that change a share group's offsets: its consumers must be stopped first. */
function emptyGroupProblem(groups: GroupCoordinator, shares: ShareGroupCoordinator, groupId: string): { code: number; message: string | null } | null {
  const problem = groupProblem(groups, shares, groupId);
  if (problem) return problem;
  const members = shares.group(groupId)?.members.size ?? 0;
  if (members > 0) return { code: ErrorCode.NON_EMPTY_GROUP, message: `The group has ${members} active members; stop them before changing its offsets.` };
  return null;
}

function failedWith(e: unknown): { code: number; message: string } {
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: (e as Error).message };
}

function alterShareGroupOffsetsHandler(shares: ShareGroupCoordinator, groups: GroupCoordinator, metadata: () => MetadataImage) {
  return handler(apis.AlterShareGroupOffsets, 0, 0, async (req) => {
    const res = createAlterShareGroupOffsetsResponse();
    const problem = emptyGroupProblem(groups, shares, req.groupId);
    const image = metadata();
    const changes: { topicId: string; partition: number; startOffset: number }[] = [];
    res.responses = req.topics.map((t): AlterShareGroupOffsetsResponseTopic => {
      const topic = image.topic(t.topicName);
      return {
        topicName: t.topicName,
        topicId: topic?.id ?? ZERO_UUID,
        partitions: t.partitions.map((p) => {
          const refuse = (errorCode: number, errorMessage: string | null) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage });
          if (problem) return refuse(problem.code, problem.message);
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions.length) return refuse(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${t.topicName}-${p.partitionIndex} does not exist.`);
          if (p.startOffset < 0n) return refuse(ErrorCode.INVALID_REQUEST, `The start offset ${p.startOffset} is negative.`);
          changes.push({ topicId: topic.id, partition: p.partitionIndex, startOffset: Number(p.startOffset) });
          return refuse(ErrorCode.NONE, null);
        }),
      };
    });
    if (problem) return { ...res, errorCode: problem.code, errorMessage: problem.message };
    try {
      if (changes.length > 0) await shares.states.alter(req.groupId, changes);
    } catch (e) {
      const failed = failedWith(e);
      return { ...res, errorCode: failed.code, errorMessage: failed.message };
    }
    return res;
  });
}

function deleteShareGroupOffsetsHandler(shares: ShareGroupCoordinator, groups: GroupCoordinator, metadata: () => MetadataImage) {
  return handler(apis.DeleteShareGroupOffsets, 0, 0, async (req) => {
    const res = createDeleteShareGroupOffsetsResponse();
    const problem = emptyGroupProblem(groups, shares, req.groupId) ?? (shares.has(req.groupId) ? null : { code: ErrorCode.GROUP_ID_NOT_FOUND, message: `Group ${req.groupId} not found.` });
    if (problem) return { ...res, errorCode: problem.code, errorMessage: problem.message };
    const image = metadata();
    const topicIds: string[] = [];
    res.responses = req.topics.map((t): DeleteShareGroupOffsetsResponseTopic => {
      const topic = image.topic(t.topicName);
      if (!topic) return { topicName: t.topicName, topicId: ZERO_UUID, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${t.topicName} does not exist.` };
      topicIds.push(topic.id);
      return { topicName: t.topicName, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null };
    });
    try {
      if (topicIds.length > 0) await shares.states.delete(req.groupId, topicIds);
    } catch (e) {
      const failed = failedWith(e);
      return { ...res, errorCode: failed.code, errorMessage: failed.message };
    }
    return res;
  });
}

/** The share group membership and admin APIs (KIP-932); served only while group.share.enable is true. */
export function shareGroupHandlers(shares: ShareGroupCoordinator, groups: GroupCoordinator, metadata: () => MetadataImage): ApiHandler[] {
  return [
    shareGroupHeartbeatHandler(shares),
    shareGroupDescribeHandler(shares, groups),
    describeShareGroupOffsetsHandler(shares, groups, metadata),
    alterShareGroupOffsetsHandler(shares, groups, metadata),
    deleteShareGroupOffsetsHandler(shares, groups, metadata),
  ];
}
