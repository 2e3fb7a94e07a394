import { errorByCode, ErrorCode } from '../protocol/generated/errors.js';
import { KafkaError, type KafkaClient } from './kafka-client.js';

export interface PartitionInfo {
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicInfo {
  name: string;
  topicId: string;
  internal: boolean;
  /** Sorted by partition. */
  partitions: PartitionInfo[];
}

/**
 * A topic's partitions and leaders, from Metadata without auto-creation. Transient errors
 * (no leader yet after a creation, a broker moving) are retried; an unknown topic fails at once,
 * although Kafka marks UNKNOWN_TOPIC_OR_PARTITION retriable: for a tool, a typo is not transient.
 */
export async function describeTopic(client: KafkaClient, name: string): Promise<TopicInfo> {
  const t = await client.retrying(async () => {
    const md = await client.metadata([name]);
    const topic = md.topics.find((x) => x.name === name);
    if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name}`);
    const transient = topic.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && errorByCode(topic.errorCode)?.retriable === true;
    if (transient || topic.partitions.some((p) => p.leaderId < 0)) throw new KafkaError(transient ? topic.errorCode : ErrorCode.LEADER_NOT_AVAILABLE, `topic ${name}`);
    return topic;
  });
  if (t.errorCode !== ErrorCode.NONE) throw new KafkaError(t.errorCode, `topic ${name}`);
  return {
    name,
    topicId: t.topicId,
    internal: t.isInternal,
    partitions: t.partitions
      .map((p) => ({ partition: p.partitionIndex, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicaNodes, isr: p.isrNodes }))
      .sort((a, b) => a.partition - b.partition),
  };
}

/** Partition numbers grouped by the node that leads them, for one request per leader. */
export function byLeader<P extends { leaderId: number }>(partitions: Iterable<P>): Map<number, P[]> {
  const out = new Map<number, P[]>();
  for (const p of partitions) {
    const list = out.get(p.leaderId);
    if (list) list.push(p);
    else out.set(p.leaderId, [p]);
  }
  return out;
}

/** The partition of a topic, or UNKNOWN_TOPIC_OR_PARTITION naming what exists. */
export function partitionOf(topic: TopicInfo, partition: number): PartitionInfo {
  const p = topic.partitions.find((x) => x.partition === partition);
  if (!p) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic.name}-${partition}`, `topic ${topic.name} has partitions 0-${topic.partitions.length - 1}`);
  return p;
}
