import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import {
  createMetadataResponse,
  type MetadataResponse,
  type MetadataResponsePartition,
  type MetadataResponseTopic,
} from '../../protocol/generated/messages/metadata-response.js';
import { ZERO_UUID } from '../../protocol/codec-runtime.js';
import { NO_LEADER, type PartitionImage, type TopicImage } from '../../metadata/image.js';
import { liveBrokers, replicaAvailability } from '../cluster-view.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { authorizedOperations, OPERATIONS_OMITTED } from './authorized-operations.js';
import { createTopic } from '../topic-creation.js';

/**
 * A partition as the image has it: its leader (none while no in-sync replica serves), replicas,
 * ISR, and the replicas that are offline: their broker is not registered, or (this broker) their
 * log is in a failed directory or missing. Such a replica here that leads leaves the partition
 * without a leader, as Kafka says of it, and clients learn that of the one partition only.
 */
function partitionEntry(ctx: BrokerContext, topic: string, index: number, state: PartitionImage): MetadataResponsePartition {
  const self = ctx.config.nodeId;
  const { leader: leaderId, offlineReplicas: offline, brokenHere } = replicaAvailability(ctx, topic, index, state);
  return {
    errorCode: leaderId === NO_LEADER ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
    partitionIndex: index,
    leaderId,
    leaderEpoch: state.leaderEpoch,
    replicaNodes: state.replicas,
    isrNodes: leaderId === NO_LEADER && brokenHere ? state.isr.filter((id) => id !== self) : state.isr,
    offlineReplicas: offline,
  };
}

function topicEntry(ctx: BrokerContext, t: TopicImage): MetadataResponseTopic {
  const partitions = t.partitions.map((state, i) => partitionEntry(ctx, t.name, i, state));
  return { errorCode: ErrorCode.NONE, name: t.name, topicId: t.id, isInternal: t.name.startsWith('__'), partitions, topicAuthorizedOperations: OPERATIONS_OMITTED };
}

function errorEntry(name: string | null, topicId: string, errorCode: number): MetadataResponseTopic {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: OPERATIONS_OMITTED };
}

/**
 * Metadata: every registered broker, the controller, and each partition's leader, replicas and
 * ISR. Unknown topics are created when both the client and auto.create.topics.enable allow it.
 */
export function metadataHandler(ctx: BrokerContext) {
  return handler(apis.Metadata, 0, 12, async (req, { version, connection }) => {
    const res: MetadataResponse = createMetadataResponse();
    res.brokers = liveBrokers(ctx, connection.listenerName);
    res.clusterId = ctx.metadata.clusterId;
    res.controllerId = ctx.metadata.controllerId;
    // Authorized operations, when asked (v8+; the cluster's only in v8-10): everything, there being no authorizer.
    res.clusterAuthorizedOperations = authorizedOperations('cluster', req.includeClusterAuthorizedOperations);
    const withOperations = (r: MetadataResponse): MetadataResponse => {
      if (req.includeTopicAuthorizedOperations) for (const t of r.topics) t.topicAuthorizedOperations = authorizedOperations('topic', true);
      return r;
    };
    // v0 says "all topics" with an empty list; later versions with null.
    const all = req.topics === null || (version === 0 && req.topics.length === 0);
    if (all) {
      res.topics = ctx.metadata.allTopics().map((t) => topicEntry(ctx, t));
      return withOperations(res);
    }
    const autoCreate = req.allowAutoTopicCreation && ctx.config.autoCreateTopicsEnable;
    for (const wanted of req.topics!) {
      if (wanted.name === null) {
        const t = ctx.metadata.topicById(wanted.topicId);
        res.topics.push(t ? topicEntry(ctx, t) : errorEntry(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
        continue;
      }
      const existing = ctx.metadata.topic(wanted.name);
      if (existing) res.topics.push(topicEntry(ctx, existing));
      else if (!autoCreate) res.topics.push(errorEntry(wanted.name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
      else {
        const created = await createTopic(ctx, { name: wanted.name, numPartitions: -1, replicationFactor: -1, configs: new Map() });
        const t = created.topic && ctx.metadata.topic(wanted.name);
        res.topics.push(t ? topicEntry(ctx, t) : errorEntry(wanted.name, ZERO_UUID, created.errorCode));
      }
    }
    return withOperations(res);
  });
}
