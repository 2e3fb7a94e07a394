import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import {
  createMetadataResponse,
  type MetadataResponse,
  type MetadataResponsePartition,
  type MetadataResponseTopic,
} from '../../protocol/generated/messages/metadata-response.js';
import { ZERO_UUID } from '../../protocol/codec-runtime.js';
import type { TopicMetadata } from '../../metadata/metadata-store.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { OPERATIONS_OMITTED } from './authorized-operations.js';
import { createTopic } from '../topic-creation.js';

/**
 * A partition the image lists but this broker cannot serve (its log is in a failed directory, or
 * missing) has no leader, as Kafka says of it: its only replica, this node, is offline for it.
 * Clients learn that about the one partition, rather than lose the whole answer.
 */
function partitionEntry(ctx: BrokerContext, topic: string, index: number): MetadataResponsePartition {
  const nodeId = ctx.config.nodeId;
  const p = ctx.partitions.lookup(topic, index);
  if (typeof p === 'number') {
    return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, partitionIndex: index, leaderId: -1, leaderEpoch: -1, replicaNodes: [nodeId], isrNodes: [], offlineReplicas: [nodeId] };
  }
  return { errorCode: ErrorCode.NONE, partitionIndex: index, leaderId: nodeId, leaderEpoch: p.leaderEpoch, replicaNodes: [nodeId], isrNodes: [nodeId], offlineReplicas: [] };
}

function topicEntry(ctx: BrokerContext, t: TopicMetadata): MetadataResponseTopic {
  const partitions = Array.from({ length: t.partitions }, (_, i) => partitionEntry(ctx, t.name, i));
  return { errorCode: ErrorCode.NONE, name: t.name, topicId: t.id, isInternal: t.name.startsWith('__'), partitions, topicAuthorizedOperations: OPERATIONS_OMITTED };
}

function errorEntry(name: string | null, topicId: string, errorCode: number): MetadataResponseTopic {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: OPERATIONS_OMITTED };
}

/**
 * Metadata: this broker as the only one, leader and sole in-sync replica of every partition it
 * can serve. Unknown topics are created when both the client and auto.create.topics.enable allow it.
 */
export function metadataHandler(ctx: BrokerContext) {
  return handler(apis.Metadata, 0, 12, (req, { version }) => {
    const res: MetadataResponse = createMetadataResponse();
    const { advertised, config } = ctx;
    res.brokers = [{ nodeId: config.nodeId, host: advertised.host, port: advertised.port, rack: null }];
    res.clusterId = ctx.metadata.clusterId;
    res.controllerId = config.nodeId;
    res.clusterAuthorizedOperations = OPERATIONS_OMITTED;
    // v0 says "all topics" with an empty list; later versions with null.
    const all = req.topics === null || (version === 0 && req.topics.length === 0);
    if (all) {
      res.topics = ctx.metadata.allTopics().map((t) => topicEntry(ctx, t));
      return res;
    }
    const autoCreate = req.allowAutoTopicCreation && config.autoCreateTopicsEnable;
    res.topics = req.topics!.map((wanted) => {
      if (wanted.name === null) {
        const t = ctx.metadata.topicById(wanted.topicId);
        return t ? topicEntry(ctx, t) : errorEntry(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID);
      }
      const existing = ctx.metadata.topic(wanted.name);
      if (existing) return topicEntry(ctx, existing);
      if (!autoCreate) return errorEntry(wanted.name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const created = createTopic(ctx, wanted.name, -1, -1, new Map());
      return created.topic ? topicEntry(ctx, created.topic) : errorEntry(wanted.name, ZERO_UUID, created.errorCode);
    });
    return res;
  });
}
