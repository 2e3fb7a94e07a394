import type { BrokerContext } from '../broker/broker-context.js';
import { inTopicCodec, topicCodec, topicCodecLevel } from '../broker/recompress.js';
import { log } from '../log.js';
import { RecordBatchHeader } from '../protocol/records/batch-header.js';
import { producerStateOf } from '../replication/producers/producer-state.js';
import { StorageError } from '../storage/storage-error.js';
import type { PartitionWriter, WriteOutcome } from './deliverer.js';

const header = new RecordBatchHeader();

/**
 * Appends the deliverer's batches as the produce path appends a producer's, on the partitions
 * this broker leads: the same sequence check (a retried batch that is already in is a
 * duplicate, and counts as appended), the topic's codec, the same producer state bookkeeping.
 */
export function partitionWriter(ctx: BrokerContext): PartitionWriter {
  return {
    async write(topic: string, index: number, batch: Buffer): Promise<WriteOutcome> {
      if (index >= ctx.partitions.partitionCount(topic)) return 'gone';
      const partition = ctx.partitions.lookupLeader(topic, index);
      if (typeof partition === 'number' || !ctx.store.session().valid) return 'not-here';
      const producers = producerStateOf(partition.log);
      const verdict = producers.check(header.reset(batch));
      if (verdict.kind === 'duplicate') return 'appended';
      if (verdict.kind === 'rejected') return 'out-of-sequence';
      const config = ctx.topicConfig(topic);
      const stored = inTopicCodec(batch, topicCodec(config['compression.type']), topicCodecLevel(config));
      const now = Date.now();
      let durable: Promise<void>;
      try {
        const appended = partition.appendAsLeader(stored, now);
        producers.apply(header.reset(stored), now);
        ctx.metrics.recordProduce(topic, appended.recordCount, stored.length);
        durable = appended.durable;
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        log.warn({ err: e.message, topic, partition: index }, 'delayed records could not be appended; retrying');
        return 'not-here';
      }
      try {
        await durable;
      } catch {
        // In the log but perhaps not on disk: the retry of the same batch finds out which.
        return 'not-here';
      }
      return 'appended';
    },
  };
}
