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
import { replicaListProblem, replicationFactorProblem } from './replica-assignment.js';

const refused = (o: Outcome): TopicOutcome => ({ ...o, topic: null });

/**
 * Kafka refuses a name that differs from an existing topic's only by '.' against '_', because
 * the two would share metric names. Each name is also checked against the ones before it in
 * the request, whether or not the metadata has them yet (in a cluster, not until etcd answers).
 */
class Collisions {
  private readonly byUnified = new Map<string, string>();

  constructor(ctx: BrokerContext) {
    for (const t of ctx.metadata.allTopics()) if (/[._]/.test(t.name)) this.byUnified.set(unified(t.name), t.name);
  }

  /** The topic `name` collides with, if any; otherwise `name` is taken. */
  claim(name: string): string | undefined {
    if (!/[._]/.test(name)) return undefined;
    const key = unified(name);
    const other = this.byUnified.get(key);
    if (other !== undefined && other !== name) return other;
    this.byUnified.set(key, name);
    return undefined;
  }
}

const unified = (name: string): string => name.replaceAll('.', '_');

/** The replica lists a manual assignment asks for, in partition order, after Kafka's checks of it. */
function manualAssignment(ctx: BrokerContext, t: CreateTopicsRequestCreatableTopic): number[][] | Outcome {
  if (t.replicationFactor !== -1) {
    return failed(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.');
  }
  if (t.numPartitions !== -1) {
    return failed(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.');
  }
  const byIndex = new Map<number, number[]>();
  const registered = new Set(ctx.metadata.brokers.keys());
  for (const a of t.assignments) {
    if (byIndex.has(a.partitionIndex)) {
      return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Found multiple manual partition assignments for partition ${a.partitionIndex}`);
    }
    const problem = replicaListProblem(a.brokerIds, registered);
    if (problem) return problem;
    byIndex.set(a.partitionIndex, a.brokerIds);
  }
  const lists: number[][] = [];
  for (let i = 0; i < byIndex.size; i++) {
    const l = byIndex.get(i);
    if (!l) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence');
    lists.push(l);
  }
  return replicationFactorProblem(lists) ?? lists;
}

async function createOne(ctx: BrokerContext, t: CreateTopicsRequestCreatableTopic, validateOnly: boolean, collisions: Collisions): Promise<TopicOutcome> {
  const configs = new Map(t.configs.map((c) => [c.name, c.value] as const));
  // Kafka checks the name, existence and configs before the partition layout: a dry run with a
  // layout that always passes does those checks in that order.
  const checked = await createTopic(ctx, { name: t.name, numPartitions: 1, replicationFactor: 1, configs, assignment: [[ctx.config.nodeId]] }, true);
  if (isFailure(checked)) return checked;
  const colliding = collisions.claim(t.name);
  if (colliding) return refused(failed(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${t.name}' collides with existing topic: ${colliding}`));
  if (t.assignments.length === 0) return createTopic(ctx, { name: t.name, numPartitions: t.numPartitions, replicationFactor: t.replicationFactor, configs }, validateOnly);
  const assignment = manualAssignment(ctx, t);
  if (!Array.isArray(assignment)) return refused(assignment);
  return createTopic(ctx, { name: t.name, numPartitions: -1, replicationFactor: -1, configs, assignment }, validateOnly);
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
  r.numPartitions = topic.partitions.length;
  r.replicationFactor = topic.partitions[0]?.replicas.length ?? 1;
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
 * CreateTopics: each topic through createTopic, placed over the brokers or as a manual
 * assignment says. The answer comes once the metadata has the topic.
 */
export function createTopicsHandler(ctx: BrokerContext) {
  return handler(apis.CreateTopics, 0, 7, async (req: CreateTopicsRequest, { version }) => {
    const res = createCreateTopicsResponse();
    const duplicates = repeated(req.topics.map((t) => t.name));
    const collisions = new Collisions(ctx);
    for (const t of req.topics) {
      if (duplicates.has(t.name)) continue;
      res.topics.push(topicResult(ctx, t.name, await createOne(ctx, t, req.validateOnly, collisions), version));
    }
    for (const name of duplicates) {
      res.topics.push(topicResult(ctx, name, refused(failed(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.')), version));
    }
    return res;
  });
}
