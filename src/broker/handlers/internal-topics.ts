import { OFFSETS_TOPIC } from '../../coordinator/offsets-topic-records.js';
import { TRANSACTION_STATE_TOPIC } from '../../coordinator/transactions/transaction-metadata.js';
import { SHARE_STATE_TOPIC } from '../../coordinator/share/share-state-log.js';
import { log } from '../../log.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { BrokerContext } from '../broker-context.js';
import { createTopic } from '../topic-creation.js';

/** The topics Kafka keeps its own state in (Kafka's Topic.isInternal). */
export type InternalTopic = typeof OFFSETS_TOPIC | typeof TRANSACTION_STATE_TOPIC | typeof SHARE_STATE_TOPIC;
const INTERNAL_TOPICS: ReadonlySet<string> = new Set<InternalTopic>([OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC, SHARE_STATE_TOPIC]);

/**
 * Clients may read these but neither delete them nor delete their records: that would drop
 * committed offsets and transaction states under their coordinators.
 */
export const isInternalTopic = (name: string): boolean => INTERNAL_TOPICS.has(name);

interface InternalTopicSpec {
  partitions: number;
  replicationFactor: number;
  configs: [string, string][];
}

/** Kafka's offsets.topic.*, transaction.state.log.* and share.coordinator.state.topic.* settings for each. */
function specOf(ctx: BrokerContext, name: InternalTopic): InternalTopicSpec {
  const c = ctx.config;
  if (name === OFFSETS_TOPIC) {
    return { partitions: c.offsetsTopicNumPartitions, replicationFactor: c.offsetsTopicReplicationFactor, configs: [['segment.bytes', String(c.offsetsTopicSegmentBytes)]] };
  }
  if (name === SHARE_STATE_TOPIC) {
    return {
      partitions: c.shareStateTopicNumPartitions,
      replicationFactor: c.shareStateTopicReplicationFactor,
      configs: [
        ['segment.bytes', String(c.shareStateTopicSegmentBytes)],
        ['min.insync.replicas', String(c.shareStateTopicMinIsr)],
        ['unclean.leader.election.enable', 'false'],
      ],
    };
  }
  return {
    partitions: c.transactionStateLogNumPartitions,
    replicationFactor: c.transactionStateLogReplicationFactor,
    configs: [
      ['segment.bytes', String(c.transactionStateLogSegmentBytes)],
      ['min.insync.replicas', String(c.transactionStateLogMinIsr)],
      ['unclean.leader.election.enable', 'false'],
    ],
  };
}

const creating = new WeakMap<BrokerContext, Map<string, Promise<void>>>();

/**
 * Creates an internal topic on first use, as Kafka does: compacted, with its configured
 * partitions and replicas, or as many replicas as there are brokers to hold them (said in a
 * warning; min.insync.replicas comes down with it, or no write could ever be replicated).
 * Concurrent callers share one creation.
 */
export function ensureInternalTopic(ctx: BrokerContext, name: InternalTopic): Promise<void> {
  let pending = creating.get(ctx);
  if (!pending) creating.set(ctx, (pending = new Map()));
  let p = pending.get(name);
  if (!p) {
    p = (async () => {
      const spec = specOf(ctx, name);
      const rf = Math.max(1, Math.min(spec.replicationFactor, ctx.metadata.availableBrokers().length));
      if (rf < spec.replicationFactor) log.warn({ replicationFactor: rf, wanted: spec.replicationFactor }, `${name} is created with fewer replicas than configured: fewer brokers serve`);
      const configs = new Map([['cleanup.policy', 'compact'], ...spec.configs]);
      const minIsr = configs.get('min.insync.replicas');
      if (minIsr !== undefined && Number(minIsr) > rf) configs.set('min.insync.replicas', String(rf));
      const outcome = await createTopic(ctx, { name, numPartitions: spec.partitions, replicationFactor: rf, configs });
      if (outcome.errorCode !== ErrorCode.NONE && outcome.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
        log.warn({ errorCode: outcome.errorCode, err: outcome.errorMessage }, `${name} could not be created`);
      }
    })().finally(() => pending.delete(name));
    pending.set(name, p);
  }
  return p;
}
