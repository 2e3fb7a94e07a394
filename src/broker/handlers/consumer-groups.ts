import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { createConsumerGroupHeartbeatResponse } from '../../protocol/generated/messages/consumer-group-heartbeat-response.js';
import {
  createConsumerGroupDescribeResponse,
  type ConsumerGroupDescribeResponseAssignment,
  type ConsumerGroupDescribeResponseDescribedGroup,
} from '../../protocol/generated/messages/consumer-group-describe-response.js';
import type { ConsumerGroupCoordinator, TopicPartitions } from '../../coordinator/consumer-group.js';
import type { GroupCoordinator } from '../../coordinator/group-coordinator.js';
import { handler } from '../router.js';
import { authorizedOperations } from './authorized-operations.js';

/** ConsumerGroupHeartbeat (KIP-848): v0 (the coordinator names new members), v1 (Kafka 4: members name themselves, regex subscriptions). */
export function consumerGroupHeartbeatHandler(consumers: ConsumerGroupCoordinator, isShareGroup: (groupId: string) => boolean) {
  return handler(apis.ConsumerGroupHeartbeat, 0, 1, async (req, { header, connection }) => {
    if (isShareGroup(req.groupId)) return { ...createConsumerGroupHeartbeatResponse(), errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${req.groupId} is not a consumer group.` };
    const result = await consumers.heartbeat(
      {
        groupId: req.groupId,
        memberId: req.memberId,
        memberEpoch: req.memberEpoch,
        instanceId: req.instanceId,
        rackId: req.rackId,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        subscribedTopicNames: req.subscribedTopicNames,
        subscribedTopicRegex: req.subscribedTopicRegex,
        serverAssignor: req.serverAssignor,
        topicPartitions: req.topicPartitions,
      },
      header.clientId ?? '',
      `/${connection.remoteAddress}`,
    );
    const res = createConsumerGroupHeartbeatResponse();
    res.errorCode = result.errorCode;
    res.errorMessage = result.errorMessage;
    res.memberId = result.memberId;
    res.memberEpoch = result.memberEpoch;
    res.heartbeatIntervalMs = result.heartbeatIntervalMs;
    res.assignment = result.assignment;
    return res;
  });
}

export function consumerGroupDescribeHandler(consumers: ConsumerGroupCoordinator, classic: GroupCoordinator) {
  return handler(apis.ConsumerGroupDescribe, 0, 0, (req) => {
    const res = createConsumerGroupDescribeResponse();
    const describe = (tps: TopicPartitions): ConsumerGroupDescribeResponseAssignment => ({
      topicPartitions: [...tps]
        .filter(([, ps]) => ps.size > 0)
        .map(([topicId, ps]) => ({ topicId, topicName: consumers.topicName(topicId), partitions: [...ps].sort((a, b) => a - b) })),
    });
    res.groups = req.groupIds.map((groupId): ConsumerGroupDescribeResponseDescribedGroup => {
      const base = {
        errorCode: classic.coordinatorError(groupId),
        errorMessage: null,
        groupId,
        groupState: '',
        groupEpoch: -1,
        assignmentEpoch: -1,
        assignorName: '',
        members: [],
        authorizedOperations: authorizedOperations('group', req.includeAuthorizedOperations),
      };
      if (base.errorCode !== ErrorCode.NONE) return base;
      const g = consumers.group(groupId);
      if (!g) {
        const isClassic = classic.group(groupId) !== undefined && !classic.group(groupId)!.isEmpty;
        return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: isClassic ? `Group ${groupId} is not a consumer group.` : `Group ${groupId} not found.` };
      }
      return {
        ...base,
        groupState: g.state,
        groupEpoch: g.groupEpoch,
        assignmentEpoch: g.assignmentEpoch,
        assignorName: g.assignorName,
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: m.subscribedTopicNames,
          subscribedTopicRegex: m.subscribedTopicRegex,
          assignment: describe(m.assigned),
          targetAssignment: describe(g.target.get(m.memberId) ?? new Map()),
        })),
      };
    });
    return res;
  });
}
