import { CompressionType } from '../protocol/compression/index.js';
import { Attribute, HeaderField } from '../protocol/records/batch-layout.js';
import { decodeRecordBatch, encodeRecordBatch } from '../protocol/records/record-batch.js';
import type { TopicConfigValues } from '../config/broker-config.js';

/** compression.type values that name a codec; "producer" is the only other one. */
const TOPIC_CODECS = new Map<string, CompressionType>([
  ['uncompressed', CompressionType.None],
  ['gzip', CompressionType.Gzip],
  ['snappy', CompressionType.Snappy],
  ['lz4', CompressionType.Lz4],
  ['zstd', CompressionType.Zstd],
]);

/** The level a topic's config sets for the codec it stores batches with (Kafka's compression.<codec>.level). */
export function topicCodecLevel(config: TopicConfigValues): number | undefined {
  if (config['compression.type'] === 'gzip') return config['compression.gzip.level'];
  if (config['compression.type'] === 'zstd') return config['compression.zstd.level'];
  return undefined;
}

/** The codec a topic stores batches with, or null for "producer": whatever the producer used. */
export function topicCodec(compressionType: string): CompressionType | null {
  if (compressionType === 'producer') return null;
  const codec = TOPIC_CODECS.get(compressionType);
  if (codec === undefined) throw new Error(`unknown compression.type ${compressionType}`);
  return codec;
}

/**
 * The batch as a topic with `codec` stores it. When the topic keeps the producer's codec or the
 * batch already has the topic's, this is the very buffer: the common path copies nothing.
 * Otherwise, as Kafka does, the records are decoded and encoded again with the topic's codec,
 * keeping all else: offset and timestamp deltas, timestamps and their type, producer id, epoch
 * and sequence, the transactional flag, keys, values and headers. The batch must be valid.
 */
export function inTopicCodec(batch: Buffer, codec: CompressionType | null, level?: number): Buffer {
  if (codec === null || (batch.readInt16BE(HeaderField.attributes) & Attribute.compressionMask) === codec) return batch;
  const decoded = decodeRecordBatch(batch);
  return encodeRecordBatch({
    baseOffset: decoded.baseOffset,
    partitionLeaderEpoch: decoded.partitionLeaderEpoch,
    compression: codec,
    compressionLevel: level,
    timestampType: decoded.timestampType,
    transactional: decoded.transactional,
    control: decoded.control,
    producerId: decoded.producerId,
    producerEpoch: decoded.producerEpoch,
    baseSequence: decoded.baseSequence,
    baseTimestamp: decoded.baseTimestamp,
    maxTimestamp: decoded.maxTimestamp,
    records: decoded.records,
  });
}
