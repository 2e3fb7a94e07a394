import { describeTopicConfigs } from '../../config/describe-configs.js';
import { ZERO_UUID } from '../../protocol/codec-runtime.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { CreateTopicsRequest, CreateTopicsRequestCreatableTopic } from '../../protocol/generated/messages/create-topics-request.js';
import {
  createCreateTopicsResponse,
  createCreateTopicsResponseCreatableTopicResult,
  type CreateTopicsResponseCreatableTopicResult,
} from '../../protocol/generated/messages/create-topics-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { createTopic, type TopicOutcome } from '../topic-creation.js';
import { failed, isFailure, repeated, type Outcome } from './admin-outcome.js';
import { parsedOverrides } from './config-resources.js';
import { replicaListProblem } from './replica-assignment.js';

const refused = (o: Outcome): TopicOutcome => ({ ...o, topic: null });

/**
 * Kafka refuses a name that differs from an existing topic's only by '.' against '_', because
 * the two would share metric names.
 */
function collidingTopic(ctx: BrokerContext, name: string): string | undefined {
  if (!/[._]/.test(name)) return undefined;
  const unified = name.replaceAll('.', '_');
  return ctx.metadata.allTopics().find((t) => t.name !== name && t.name.replaceAll('.', '_') === unified)?.name;
}

/** The partition count a manual assignment asks for, after Kafka's checks of it. */
function assignedPartitionCount(ctx: BrokerContext, t: CreateTopicsRequestCreatableTopic): number | Outcome {
  if (t.replicationFactor !== -1) {
    return failed(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.');
  }
  if (t.numPartitions !== -1) {
    return failed(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.');
  }
  const indexes = new Set<number>();
  for (const a of t.assignments) {
    if (indexes.has(a.partitionIndex)) {
      return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Found multiple manual partition assignments for partition ${a.partitionIndex}`);
    }
    const problem = replicaListProblem(a.brokerIds, ctx.config.nodeId);
    if (problem) return problem;
    indexes.add(a.partitionIndex);
  }
  for (let i = 0; i < indexes.size; i++) {
    if (!indexes.has(i)) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence');
  }
  return indexes.size;
}

function createOne(ctx: BrokerContext, t: CreateTopicsRequestCreatableTopic, validateOnly: boolean): TopicOutcome {
  const configs = new Map(t.configs.map((c) => [c.name, c.value] as const));
  // Kafka checks the name, existence and configs before the partition layout: a dry run with a
  // layout that always passes does those checks in that order.
  const checked = createTopic(ctx, t.name, 1, 1, configs, true);
  if (isFailure(checked)) return checked;
  const colliding = collidingTopic(ctx, t.name);
  if (colliding) return refused(failed(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${t.name}' collides with existing topic: ${colliding}`));
  if (t.assignments.length === 0) return createTopic(ctx, t.name, t.numPartitions, t.replicationFactor, configs, validateOnly);
  const partitions = assignedPartitionCount(ctx, t);
  if (typeof partitions !== 'number') return refused(partitions);
  return createTopic(ctx, t.name, partitions, 1, configs, validateOnly);
}

function topicResult(ctx: BrokerContext, name: string, outcome: TopicOutcome, version: number): CreateTopicsResponseCreatableTopicResult {
  const r = createCreateTopicsResponseCreatableTopicResult();
  r.name = name;
  r.errorCode = outcome.errorCode;
  r.errorMessage = outcome.errorMessage;
  const topic = outcome.topic;
  if (!topic) return r;
  // A validate-only creation assigns no id.
  r.topicId = topic.id === '' ? ZERO_UUID : topic.id;
  r.numPartitions = topic.partitions;
  r.replicationFactor = 1;
  // Only v5+ carries configs; describing them for older clients would be wasted.
  if (version >= 5) {
    r.configs = describeTopicConfigs(ctx.config, parsedOverrides(topic.configs), { includeSynonyms: false, includeDocumentation: false }).map((c) => ({
      name: c.name,
      value: c.value,
      readOnly: c.readOnly,
      configSource: c.configSource,
      isSensitive: c.isSensitive,
    }));
  }
  return r;
}

/**
 * CreateTopics: each topic through createTopic, with manual assignments accepted when they put
 * every partition on this node alone. Creation is synchronous, so the timeout never expires.
 */
export function createTopicsHandler(ctx: BrokerContext) {
  return handler(apis.CreateTopics, 0, 7, (req: CreateTopicsRequest, { version }) => {
    const res = createCreateTopicsResponse();
    const duplicates = repeated(req.topics.map((t) => t.name));
    for (const t of req.topics) {
      if (duplicates.has(t.name)) continue;
      res.topics.push(topicResult(ctx, t.name, createOne(ctx, t, req.validateOnly), version));
    }
    for (const name of duplicates) {
      res.topics.push(topicResult(ctx, name, refused(failed(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.')), version));
    }
    return res;
  });
}
