import { OFFSETS_TOPIC } from '../../coordinator/offsets-topic-records.js';
import { log } from '../../log.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { BrokerContext } from '../broker-context.js';
import { createTopic } from '../topic-creation.js';

/** The topics Kafka keeps its own state in (Kafka's Topic.isInternal). */
const INTERNAL_TOPICS: ReadonlySet<string> = new Set([OFFSETS_TOPIC, '__transaction_state']);

/**
 * Clients may read these but neither delete them nor delete their records: that would drop
 * committed offsets under the group coordinator.
 */
export const isInternalTopic = (name: string): boolean => INTERNAL_TOPICS.has(name);

/** Kafka's offsets.topic.segment.bytes default. */
const OFFSETS_TOPIC_SEGMENT_BYTES = 100 * 1024 * 1024;

const creating = new WeakMap<BrokerContext, Promise<void>>();

/**
 * Creates __consumer_offsets on first use, as Kafka does: offsets.topic.num.partitions
 * partitions, compacted, each with offsets.topic.replication.factor replicas, or as many as
 * there are brokers to hold them (said in a warning). Concurrent callers share one creation.
 */
export function ensureOffsetsTopic(ctx: BrokerContext): Promise<void> {
  let pending = creating.get(ctx);
  if (!pending) {
    pending = (async () => {
      const wanted = ctx.config.offsetsTopicReplicationFactor;
      const rf = Math.max(1, Math.min(wanted, ctx.metadata.availableBrokers().length));
      if (rf < wanted) log.warn({ replicationFactor: rf, wanted }, `${OFFSETS_TOPIC} is created with fewer replicas than offsets.topic.replication.factor: fewer brokers serve`);
      const outcome = await createTopic(ctx, {
        name: OFFSETS_TOPIC,
        numPartitions: ctx.config.offsetsTopicNumPartitions,
        replicationFactor: rf,
        configs: new Map([
          ['cleanup.policy', 'compact'],
          ['segment.bytes', String(OFFSETS_TOPIC_SEGMENT_BYTES)],
        ]),
      });
      if (outcome.errorCode !== ErrorCode.NONE && outcome.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
        log.warn({ errorCode: outcome.errorCode, err: outcome.errorMessage }, `${OFFSETS_TOPIC} could not be created`);
      }
    })().finally(() => creating.delete(ctx));
    creating.set(ctx, pending);
  }
  return pending;
}
