import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { createHeartbeatResponse } from '../../protocol/generated/messages/heartbeat-response.js';
import { createLeaveGroupResponse } from '../../protocol/generated/messages/leave-group-response.js';
import { createDescribeGroupsResponse, type DescribeGroupsResponseDescribedGroup } from '../../protocol/generated/messages/describe-groups-response.js';
import { createListGroupsResponse } from '../../protocol/generated/messages/list-groups-response.js';
import { createDeleteGroupsResponse } from '../../protocol/generated/messages/delete-groups-response.js';
import type { GroupCoordinator } from '../../coordinator/group-coordinator.js';
import { handler } from '../router.js';
import { authorizedOperations } from './authorized-operations.js';

/** The classic group type; KIP-848's `consumer` groups are in coordinator/consumer-group.ts. */
const CLASSIC = 'classic';
const SHARE = 'share';

export function joinGroupHandler(groups: GroupCoordinator) {
  return handler(apis.JoinGroup, 0, 9, async (req, { version, header, connection }) => {
    const res = await groups.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      requireKnownMemberId: version >= 4,
      clientId: header.clientId ?? '',
      clientHost: `/${connection.remoteAddress}`,
      sessionTimeoutMs: req.sessionTimeoutMs,
      // Before v1 there was one timeout for both.
      rebalanceTimeoutMs: version >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
    });
    // The protocol type travels in the response from v7 only.
    if (version < 7) res.protocolType = null;
    if (version < 7 && res.protocolName === null) res.protocolName = '';
    return res;
  });
}

export function syncGroupHandler(groups: GroupCoordinator) {
  return handler(apis.SyncGroup, 0, 5, async (req, { version }) => {
    const res = await groups.sync({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      protocolType: req.protocolType,
      protocolName: req.protocolName,
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
    });
    if (version < 5) {
      res.protocolType = null;
      res.protocolName = null;
    }
    return res;
  });
}

export function heartbeatHandler(groups: GroupCoordinator) {
  return handler(apis.Heartbeat, 0, 4, (req) => {
    const res = createHeartbeatResponse();
    res.errorCode = groups.heartbeat(req);
    return res;
  });
}

export function leaveGroupHandler(groups: GroupCoordinator) {
  return handler(apis.LeaveGroup, 0, 5, (req, { version }) => {
    const res = createLeaveGroupResponse();
    const members = version >= 3 ? req.members : [{ memberId: req.memberId, groupInstanceId: null, reason: null }];
    const { topError, results } = groups.leave(req.groupId, members);
    if (version >= 3) {
      res.errorCode = topError;
      res.members = members.map((m, i) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: results[i] }));
    } else res.errorCode = results[0];
    return res;
  });
}

export function describeGroupsHandler(groups: GroupCoordinator) {
  return handler(apis.DescribeGroups, 0, 5, (req, { version }) => {
    const res = createDescribeGroupsResponse();
    res.groups = req.groups.map((groupId): DescribeGroupsResponseDescribedGroup => {
      const g = groups.group(groupId);
      const base = { errorCode: groups.coordinatorError(groupId), groupId, authorizedOperations: authorizedOperations('group', req.includeAuthorizedOperations) };
      // A KIP-848 consumer group (consumer-group.ts), unless a classic group with members has the id.
      const consumer = base.errorCode === ErrorCode.NONE && (g?.isEmpty ?? true) ? groups.consumerGroups?.describedAsClassic(groupId) : undefined;
      // Kafka describes share groups with ShareGroupDescribe only.
      if (base.errorCode === ErrorCode.NONE && !g && groups.shareGroups?.has(groupId)) return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, groupState: '', protocolType: '', protocolData: '', members: [] };
      if (consumer) {
        return { ...base, groupState: consumer.state, protocolType: consumer.protocolType, protocolData: consumer.protocolData, members: consumer.members.map((m) => ({ ...m, groupInstanceId: version >= 4 ? m.groupInstanceId : null })) };
      }
      if (!g || base.errorCode !== ErrorCode.NONE) return { ...base, groupState: base.errorCode === ErrorCode.NONE ? 'Dead' : '', protocolType: '', protocolData: '', members: [] };
      return {
        ...base,
        groupState: g.state,
        protocolType: g.protocolType ?? '',
        protocolData: g.protocolName ?? '',
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: version >= 4 ? m.groupInstanceId : null,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadataFor(g.protocolName),
          memberAssignment: m.assignment,
        })),
      };
    });
    return res;
  });
}

export function listGroupsHandler(groups: GroupCoordinator) {
  return handler(apis.ListGroups, 0, 5, (req, { version }) => {
    const res = createListGroupsResponse();
    const states = version >= 4 ? new Set(req.statesFilter.map((s) => s.toLowerCase())) : new Set<string>();
    const types = version >= 5 ? new Set(req.typesFilter.map((t) => t.toLowerCase())) : new Set<string>();
    const consumer = groups.consumerGroups?.listed() ?? [];
    const consumerIds = new Set(consumer.map((c) => c.groupId));
    // KIP-848 consumer groups (type `consumer`), unless a classic group with members has the id.
    const consumerListed = (types.size === 0 || types.has('consumer') ? consumer : [])
      .filter((c) => (groups.group(c.groupId)?.isEmpty ?? true) && (states.size === 0 || states.has(c.state.toLowerCase())))
      .map((c) => ({ groupId: c.groupId, protocolType: 'consumer', groupState: version >= 4 ? c.state : '', groupType: version >= 5 ? 'consumer' : '' }));
    // Share groups (KIP-932): type and protocol type `share`.
    const shareListed = (types.size === 0 || types.has(SHARE) ? (groups.shareGroups?.listed() ?? []) : [])
      .filter((s) => states.size === 0 || states.has(s.state.toLowerCase()))
      .map((s) => ({ groupId: s.groupId, protocolType: SHARE, groupState: version >= 4 ? s.state : '', groupType: version >= 5 ? SHARE : '' }));
    if (types.size > 0 && !types.has(CLASSIC)) {
      res.groups = [...consumerListed, ...shareListed];
      return res;
    }
    res.groups = groups
      .allGroups()
      .filter((g) => !(consumerIds.has(g.groupId) && g.isEmpty))
      .filter((g) => g.state !== 'Dead' && (states.size === 0 || states.has(g.state.toLowerCase())))
      .map((g) => ({
        groupId: g.groupId,
        protocolType: g.protocolType ?? '',
        groupState: version >= 4 ? g.state : '',
        groupType: version >= 5 ? CLASSIC : '',
      }))
      .concat(consumerListed, shareListed);
    return res;
  });
}

export function deleteGroupsHandler(groups: GroupCoordinator) {
  return handler(apis.DeleteGroups, 0, 2, async (req) => {
    const res = createDeleteGroupsResponse();
    for (const groupId of req.groupsNames) res.results.push({ groupId, errorCode: await groups.deleteGroup(groupId) });
    return res;
  });
}
