import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { CreatePartitionsRequest, CreatePartitionsRequestCreatePartitionsTopic } from '../../protocol/generated/messages/create-partitions-request.js';
import { createCreatePartitionsResponse } from '../../protocol/generated/messages/create-partitions-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { failed, repeated, rolledBack, succeeded, type Outcome } from './admin-outcome.js';
import { replicaListProblem } from './replica-assignment.js';

/** Kafka's checks, in Kafka's order: the topic, an increase, then the assignments of the new partitions. */
function increaseProblem(ctx: BrokerContext, t: CreatePartitionsRequestCreatePartitionsTopic): Outcome | null {
  const topic = ctx.metadata.topic(t.name);
  if (!topic) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const current = topic.partitions;
  if (t.count === current) return failed(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`);
  if (t.count < current) {
    return failed(ErrorCode.INVALID_PARTITIONS, `The topic ${t.name} currently has ${current} partition(s); ${t.count} would not be an increase.`);
  }
  if (t.assignments === null) return null;
  const added = t.count - current;
  if (t.assignments.length !== added) {
    return failed(
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `Attempted to add ${added} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`,
    );
  }
  for (const a of t.assignments) {
    const problem = replicaListProblem(a.brokerIds, ctx.config.nodeId);
    if (problem) return problem;
  }
  return null;
}

function increase(ctx: BrokerContext, name: string, count: number): Outcome {
  try {
    ctx.partitions.addPartitions(name, count);
  } catch (e) {
    return rolledBack(`Partitions of '${name}' were not added`, e);
  }
  return succeeded();
}

/** CreatePartitions: partition counts only grow; the new partitions start empty on this node. */
export function createPartitionsHandler(ctx: BrokerContext) {
  return handler(apis.CreatePartitions, 0, 3, (req: CreatePartitionsRequest) => {
    const res = createCreatePartitionsResponse();
    const duplicates = repeated(req.topics.map((t) => t.name));
    for (const t of req.topics) {
      if (duplicates.has(t.name)) continue;
      const problem = increaseProblem(ctx, t);
      res.results.push({ name: t.name, ...(problem ?? (req.validateOnly ? succeeded() : increase(ctx, t.name, t.count))) });
    }
    for (const name of duplicates) res.results.push({ name, ...failed(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.') });
    return res;
  });
}
