/**
 * What a share group's records do, from the broker's group.share.* settings and the group's own
 * configs (IncrementalAlterConfigs on a GROUP resource, as Kafka's `share.*` group configs).
 */
export interface ShareGroupConfig {
  /** share.auto.offset.reset: where a share-partition with no state starts. */
  autoOffsetReset: 'earliest' | 'latest';
  /** share.record.lock.duration.ms (group.share.record.lock.duration.ms): how long acquired records stay locked. */
  lockDurationMs: number;
  /** share.isolation.level: read_committed stops at the last stable offset. */
  readCommitted: boolean;
  /** share.delivery.count.limit (group.share.delivery.count.limit): deliveries before a record is archived (or dead-lettered). */
  deliveryCountLimit: number;
  /**
   * sluice.share.retry.backoff.ms: how long a released or lock-expired record waits before it
   * is delivered again, by delivery count (the last entry repeats); empty: at once, as Kafka.
   */
  retryBackoffMs: number[];
  /** errors.deadletterqueue.topic.name: where rejected records and those past the limit go; null: archived only. */
  deadLetterTopic: string | null;
}

export type ShareGroupConfigSource = (groupId: string) => ShareGroupConfig;

