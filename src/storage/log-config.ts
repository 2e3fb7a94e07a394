import type { IndexMode } from './index-storage.js';
import type { TimestampType } from '../protocol/records/batch-layout.js';

export type AppendMode = 'write' | 'mmap';
export type FlushMode = 'async' | 'sync';

/** What one partition log obeys: Kafka's topic configs plus Sluice's own storage choices. */
export interface LogConfig {
  /** segment.bytes: roll when the active segment would grow past this. */
  segmentBytes: number;
  /** segment.ms: roll when the active segment's first batch is older than this. */
  segmentMs: number;
  /** segment.index.bytes: room for the offset index of one segment. */
  segmentIndexBytes: number;
  /** index.interval.bytes: log bytes between index entries. */
  indexIntervalBytes: number;
  /** retention.ms: delete segments whose newest record is older; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: delete old segments while the log is larger; -1 means no limit. */
  retentionBytes: number;
  /** cleanup.policy "delete" (retention applies). */
  cleanupDelete: boolean;
  /** cleanup.policy "compact" (the cleaner keeps the newest record per key). */
  cleanupCompact: boolean;
  /** delete.retention.ms: how long tombstones survive compaction. */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: compact when this share of the log is uncleaned. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: the cleaner leaves segments holding records younger than this. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: a dirty record this old calls for a pass whatever the dirty ratio, and rolls the segment holding it. */
  maxCompactionLagMs: number;
  /** segment.jitter.ms: each segment rolls up to this much (at random) before segment.ms. */
  segmentJitterMs: number;
  /** message.timestamp.type. */
  timestampType: TimestampType;
  /** flush.messages: fsync after this many messages (async mode). */
  flushMessages: number;
  /** flush.ms: fsync when the oldest unflushed append is this old (async mode). */
  flushMs: number;
  /** file.delete.delay.ms: deleted segments keep their descriptors this long for reads in flight. */
  fileDeleteDelayMs: number;
  /** sluice.log.append.mode: positional writes (Kafka) or a preallocated mapping (RocketMQ). */
  appendMode: AppendMode;
  /** sluice.log.flush.mode: OS write-behind, or a group-committed fdatasync before every ack. */
  flushMode: FlushMode;
  /** sluice.log.mmap.mlock: pin the active mapped segment in memory. */
  mlock: boolean;
  /** sluice.log.index.mode: indexes in heap buffers or in mappings. */
  indexMode: IndexMode;
  /** producer.id.expiration.ms: how long a silent producer's state is kept in a partition. */
  producerIdExpirationMs: number;
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupDelete: true,
  cleanupCompact: false,
  deleteRetentionMs: 24 * 3600 * 1000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.POSITIVE_INFINITY,
  segmentJitterMs: 0,
  timestampType: 'create',
  flushMessages: Number.POSITIVE_INFINITY,
  flushMs: Number.POSITIVE_INFINITY,
  fileDeleteDelayMs: 60_000,
  appendMode: 'write',
  flushMode: 'async',
  mlock: false,
  indexMode: 'heap',
  producerIdExpirationMs: 24 * 3600 * 1000,
};

/**
 * How long the active segment may span (Kafka's LogConfig.maxSegmentMs): segment.ms, or
 * max.compaction.lag.ms when that is shorter on a compacted log, since the cleaner only
 * reaches records once their segment has rolled.
 */
export function rollAfterMs(config: Pick<LogConfig, 'segmentMs' | 'cleanupCompact' | 'maxCompactionLagMs'>): number {
  return config.cleanupCompact ? Math.min(config.segmentMs, config.maxCompactionLagMs) : config.segmentMs;
}
