import { validateTopicConfigs } from '../config/topic-config.js';
import type { TopicImage } from '../metadata/image.js';
import { topicNameProblem } from '../metadata/names.js';
import { assignReplicas } from '../metadata/placement.js';
import { MetadataWriteError } from '../metadata/store.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { initialState } from '../replication/replica-manager.js';
import type { BrokerContext } from './broker-context.js';
import { rolledBack } from './handlers/admin-outcome.js';

export interface TopicOutcome {
  errorCode: number;
  errorMessage: string | null;
  topic: TopicImage | null;
}

const fail = (errorCode: number, errorMessage: string): TopicOutcome => ({ errorCode, errorMessage, topic: null });

export interface TopicRequest {
  name: string;
  /** -1: num.partitions. */
  numPartitions: number;
  /** -1: default.replication.factor. */
  replicationFactor: number;
  configs: Map<string, string | null>;
  /** A manual assignment (checked by the caller), one replica list per partition. */
  assignment?: number[][];
}

/**
 * Creates a topic after Kafka's checks, for CreateTopics, for auto-creation by Metadata and for
 * internal topics: replicas placed over the brokers that serve (rack-aware), the replicas here
 * made first, then the metadata. With validateOnly nothing is created, but every check runs.
 */
export async function createTopic(ctx: BrokerContext, req: TopicRequest, validateOnly = false): Promise<TopicOutcome> {
  const { name } = req;
  const nameProblem = topicNameProblem(name);
  if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  if (ctx.metadata.topic(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
  const partitions = req.assignment?.length ?? (req.numPartitions === -1 ? ctx.config.numPartitions : req.numPartitions);
  if (partitions < 1) return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0, got ${partitions}.`);
  const rf = req.replicationFactor === -1 ? ctx.config.defaultReplicationFactor : req.replicationFactor;
  if (!req.assignment && rf < 1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor must be larger than 0, got ${rf}.`);
  const { errors } = validateTopicConfigs(req.configs);
  if (errors.length > 0) return fail(ErrorCode.INVALID_CONFIG, errors.map((e) => e.message).join('; '));
  const overrides: Record<string, string> = {};
  for (const [k, v] of req.configs) if (v !== null) overrides[k] = v;
  let assignment: number[][];
  try {
    assignment = req.assignment ?? assignReplicas(ctx.metadata.availableBrokers(), partitions, rf);
  } catch (e) {
    if (e instanceof MetadataWriteError) return fail(e.errorCode, e.message);
    throw e;
  }
  if (validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, topic: { name, id: '', partitions: assignment.map(initialState), configs: overrides } };
  try {
    return { errorCode: ErrorCode.NONE, errorMessage: null, topic: await ctx.partitions.createTopic(name, assignment, overrides) };
  } catch (e) {
    return { ...rolledBack(`Topic '${name}' was not created`, e), topic: null };
  }
}
