import { validateTopicConfigs } from '../config/topic-config.js';
import { topicNameProblem, type TopicMetadata } from '../metadata/metadata-store.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { BrokerContext } from './broker-context.js';
import { rolledBack } from './handlers/admin-outcome.js';

export interface TopicOutcome {
  errorCode: number;
  errorMessage: string | null;
  topic: TopicMetadata | null;
}

const fail = (errorCode: number, errorMessage: string): TopicOutcome => ({ errorCode, errorMessage, topic: null });

/**
 * Creates a topic after Kafka's checks, for CreateTopics and for auto-creation by Metadata.
 * -1 partitions or replication factor means the broker default. With validateOnly nothing is
 * created, but every check runs.
 */
export function createTopic(
  ctx: BrokerContext,
  name: string,
  numPartitions: number,
  replicationFactor: number,
  configs: Map<string, string | null>,
  validateOnly = false,
): TopicOutcome {
  const nameProblem = topicNameProblem(name);
  if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  if (ctx.metadata.topic(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
  const partitions = numPartitions === -1 ? ctx.config.numPartitions : numPartitions;
  if (partitions < 1) return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0, got ${partitions}.`);
  const rf = replicationFactor === -1 ? ctx.config.defaultReplicationFactor : replicationFactor;
  if (rf < 1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor must be larger than 0, got ${rf}.`);
  if (rf > 1) {
    return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${rf} larger than available brokers: 1.`);
  }
  const { errors } = validateTopicConfigs(configs);
  if (errors.length > 0) return fail(ErrorCode.INVALID_CONFIG, errors.map((e) => e.message).join('; '));
  const overrides: Record<string, string> = {};
  for (const [k, v] of configs) if (v !== null) overrides[k] = v;
  if (validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, topic: { name, id: '', partitions, configs: overrides } };
  try {
    return { errorCode: ErrorCode.NONE, errorMessage: null, topic: ctx.partitions.createTopic(name, partitions, overrides) };
  } catch (e) {
    // The configs its logs were made with belong to no topic now.
    ctx.topicConfigChanged(name);
    return { ...rolledBack(`Topic '${name}' was not created`, e), topic: null };
  }
}
