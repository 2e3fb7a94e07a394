import { reassignmentTarget, startReassignment } from '../../metadata/elections.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { AlterPartitionReassignmentsRequest } from '../../protocol/generated/messages/alter-partition-reassignments-request.js';
import { createAlterPartitionReassignmentsResponse } from '../../protocol/generated/messages/alter-partition-reassignments-response.js';
import type { ListPartitionReassignmentsRequest } from '../../protocol/generated/messages/list-partition-reassignments-request.js';
import {
  createListPartitionReassignmentsResponse,
  type ListPartitionReassignmentsResponseOngoingPartitionReassignment,
} from '../../protocol/generated/messages/list-partition-reassignments-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { failed, rolledBack, succeeded, type Outcome } from './admin-outcome.js';
import { replicaListProblem } from './replica-assignment.js';

async function reassign(ctx: BrokerContext, topic: string, index: number, target: number[] | null): Promise<Outcome> {
  const state = ctx.metadata.partition(topic, index);
  if (!state) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.');
  if (target === null && reassignmentTarget(state) === null) return failed(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `No reassignment of ${topic}-${index} is in progress.`);
  if (target !== null) {
    const problem = replicaListProblem(target, new Set(ctx.metadata.brokers.keys()));
    if (problem) return problem;
  }
  try {
    const moved = await ctx.store.alterPartition(topic, index, state.partitionEpoch, startReassignment(state, target));
    return moved ? succeeded() : failed(ErrorCode.NOT_CONTROLLER, 'The partition changed meanwhile; try again.');
  } catch (e) {
    return rolledBack(`${topic}-${index} not reassigned`, e);
  }
}

/**
 * AlterPartitionReassignments: moves partitions to new replicas (null cancels a move). The new
 * replicas join and fetch until they are in sync; then the controller makes them the replicas
 * and the leaving ones go, leadership included.
 */
export function alterPartitionReassignmentsHandler(ctx: BrokerContext) {
  return handler(apis.AlterPartitionReassignments, 0, 0, async (req: AlterPartitionReassignmentsRequest) => {
    const res = createAlterPartitionReassignmentsResponse();
    for (const t of req.topics) {
      const partitions = [];
      for (const p of t.partitions) partitions.push({ partitionIndex: p.partitionIndex, ...(await reassign(ctx, t.name, p.partitionIndex, p.replicas)) });
      res.responses.push({ name: t.name, partitions });
    }
    return res;
  });
}

/** ListPartitionReassignments: the moves under way, of the partitions asked (null: all). */
export function listPartitionReassignmentsHandler(ctx: BrokerContext) {
  return handler(apis.ListPartitionReassignments, 0, 0, (req: ListPartitionReassignmentsRequest) => {
    const res = createListPartitionReassignmentsResponse();
    const wanted = req.topics ?? ctx.metadata.allTopics().map((t) => ({ name: t.name, partitionIndexes: t.partitions.map((_, i) => i) }));
    for (const t of wanted) {
      const partitions: ListPartitionReassignmentsResponseOngoingPartitionReassignment[] = [];
      for (const index of t.partitionIndexes) {
        const state = ctx.metadata.partition(t.name, index);
        if (state && reassignmentTarget(state)) partitions.push({ partitionIndex: index, replicas: state.replicas, addingReplicas: state.adding, removingReplicas: state.removing });
      }
      if (partitions.length > 0) res.topics.push({ name: t.name, partitions });
    }
    return res;
  });
}
