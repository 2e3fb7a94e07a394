import { assignReplicas } from '../../metadata/placement.js';
import { MetadataWriteError } from '../../metadata/store.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { CreatePartitionsRequest, CreatePartitionsRequestCreatePartitionsTopic } from '../../protocol/generated/messages/create-partitions-request.js';
import { createCreatePartitionsResponse } from '../../protocol/generated/messages/create-partitions-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { failed, repeated, rolledBack, succeeded, type Outcome } from './admin-outcome.js';
import { replicaListProblem, replicationFactorProblem } from './replica-assignment.js';

/**
 * Kafka's checks, in Kafka's order: the topic, an increase, then the assignments of the new
 * partitions; the assignment to use, or why there is none.
 */
function newAssignment(ctx: BrokerContext, t: CreatePartitionsRequestCreatePartitionsTopic): number[][] | Outcome {
  const topic = ctx.metadata.topic(t.name);
  if (!topic) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const current = topic.partitions.length;
  if (t.count === current) return failed(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`);
  if (t.count < current) {
    return failed(ErrorCode.INVALID_PARTITIONS, `The topic ${t.name} currently has ${current} partition(s); ${t.count} would not be an increase.`);
  }
  const added = t.count - current;
  const rf = topic.partitions[0]?.replicas.length ?? 1;
  if (t.assignments === null) {
    try {
      return assignReplicas(ctx.metadata.availableBrokers(), added, rf, current);
    } catch (e) {
      if (e instanceof MetadataWriteError) return failed(e.errorCode, e.message);
      throw e;
    }
  }
  if (t.assignments.length !== added) {
    return failed(
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `Attempted to add ${added} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`,
    );
  }
  const registered = new Set(ctx.metadata.brokers.keys());
  for (const a of t.assignments) {
    const problem = replicaListProblem(a.brokerIds, registered);
    if (problem) return problem;
  }
  const lists = t.assignments.map((a) => a.brokerIds);
  if (lists.some((l) => l.length !== rf)) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Inconsistent replication factor between partitions, partition 0 has ${rf}.`);
  return replicationFactorProblem(lists) ?? lists;
}

const isOutcome = (x: number[][] | Outcome): x is Outcome => !Array.isArray(x);

/** CreatePartitions: partition counts only grow; the new partitions' replicas are placed like a new topic's. */
export function createPartitionsHandler(ctx: BrokerContext) {
  return handler(apis.CreatePartitions, 0, 3, async (req: CreatePartitionsRequest) => {
    const res = createCreatePartitionsResponse();
    const duplicates = repeated(req.topics.map((t) => t.name));
    for (const t of req.topics) {
      if (duplicates.has(t.name)) continue;
      const assignment = newAssignment(ctx, t);
      let outcome: Outcome;
      if (isOutcome(assignment)) outcome = assignment;
      else if (req.validateOnly) outcome = succeeded();
      else {
        try {
          await ctx.partitions.addPartitions(t.name, assignment);
          outcome = succeeded();
        } catch (e) {
          outcome = rolledBack(`Partitions of '${t.name}' were not added`, e);
        }
      }
      res.results.push({ name: t.name, ...outcome });
    }
    for (const name of duplicates) res.results.push({ name, ...failed(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.') });
    return res;
  });
}
