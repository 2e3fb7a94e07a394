/** Headers a dead letter carries, saying where it came from and why (the names Kafka Connect's DLQ uses, under __dlq). */
export const DLQ_HEADERS = {
  topic: '__dlq.errors.topic',
  partition: '__dlq.errors.partition',
  offset: '__dlq.errors.offset',
  group: '__dlq.errors.group.id',
  deliveryCount: '__dlq.errors.delivery.count',
  reason: '__dlq.errors.reason',
  timestamp: '__dlq.errors.timestamp',
} as const;

/** What every one of DLQ_HEADERS starts with: a replayed record leaves them all behind. */
export const DLQ_HEADER_PREFIX = '__dlq.errors.';
