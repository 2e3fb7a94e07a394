import type { ConsoleBroker } from './console-broker.js';

/** A share-partition served here: where its group stands on one topic partition. */
export interface SharePartitionView {
  topic: string;
  partition: number;
  /** Every record before it is acknowledged or archived. */
  startOffset: number;
  /** Records from the start offset on, by state: waiting to be (re)delivered, locked by a consumer, done. */
  available: number;
  acquired: number;
  acknowledged: number;
  archived: number;
  /** Null when this broker holds no replica of the partition. */
  highWatermark: number | null;
  /** High watermark minus start offset: records not yet done (some beyond the start may be). */
  lag: number | null;
}

export interface DeadLetterTopicView {
  topic: string;
  /** High watermark minus log start, over the partitions this broker holds; null when the topic does not exist. */
  records: number | null;
}

export interface ShareGroupQueue {
  groupId: string;
  /** Null when another broker coordinates the group (its share-partitions may still be served here). */
  members: number | null;
  deadLetters: DeadLetterTopicView | null;
  partitions: SharePartitionView[];
}

export interface QueuesView {
  shareGroups: ShareGroupQueue[];
  delayed: {
    /** Records held for delayed delivery on this broker. */
    pending: number;
    /** Held records by due minute (epoch ms of its start), earliest first. */
    byMinute: { dueMinute: number; records: number }[];
  };
}

function deadLetterTopic(broker: ConsoleBroker, topic: string): DeadLetterTopicView {
  const image = broker.metadata.topic(topic);
  if (!image) return { topic, records: null };
  let records = 0;
  for (let i = 0; i < image.partitions.length; i++) {
    const p = broker.partitions.get(topic, i);
    if (p) records += p.highWatermark - p.log.logStartOffset;
  }
  return { topic, records };
}

/**
 * Queues as this broker sees them: the share groups it coordinates, with the share-partitions
 * it serves (those of partitions it leads, whichever broker coordinates their group), and the
 * records it holds for delayed delivery.
 */
export function queuesView(broker: ConsoleBroker): QueuesView {
  const partitionsOf = new Map<string, SharePartitionView[]>(broker.shareGroups.listed().map((g) => [g.groupId, []]));
  const coordinated = new Set(partitionsOf.keys());
  for (const { key, sp } of broker.shareStates.livePartitions()) {
    const topic = broker.metadata.topicById(key.topicId)?.name ?? key.topicId;
    const highWatermark = broker.partitions.get(topic, key.partition)?.highWatermark ?? null;
    const row = { topic, partition: key.partition, startOffset: sp.startOffset, ...sp.counts(), highWatermark, lag: highWatermark === null ? null : Math.max(0, highWatermark - sp.startOffset) };
    partitionsOf.set(key.groupId, [...(partitionsOf.get(key.groupId) ?? []), row]);
  }
  const shareGroups = [...partitionsOf]
    .map(([groupId, partitions]) => {
      const dlq = broker.shareGroupConfigs.source(groupId).deadLetterTopic;
      return {
        groupId,
        members: coordinated.has(groupId) ? (broker.shareGroups.group(groupId)?.members.size ?? 0) : null,
        deadLetters: dlq === null ? null : deadLetterTopic(broker, dlq),
        partitions: partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
      };
    })
    .sort((a, b) => a.groupId.localeCompare(b.groupId));
  const byMinute = broker.delayed.heldByMinute().map(([dueMinute, records]) => ({ dueMinute, records }));
  return { shareGroups, delayed: { pending: byMinute.reduce((n, m) => n + m.records, 0), byMinute } };
}
