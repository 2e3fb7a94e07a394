import { parsedOverrides } from '../broker/handlers/config-resources.js';
import { isInternalTopic } from '../broker/handlers/internal-topics.js';
import { ConfigSource, describeTopicConfigs, type ConfigSourceId } from '../config/describe-configs.js';
import type { TopicImage } from '../metadata/image.js';
import { errorByCode } from '../protocol/generated/errors.js';
import type { ConsoleBroker } from './console-broker.js';

export interface TopicSummary {
  name: string;
  id: string;
  internal: boolean;
  partitions: number;
  /** Bytes on disk, all partitions. */
  size: number;
  /** Records a consumer from the start would read: high watermark minus log start, summed. */
  records: number;
  /** How many configs the topic overrides. */
  overrides: number;
  /** Partitions the broker cannot serve: their logs could not be opened, or their directory failed. */
  offline: number;
}

export interface PartitionDetail {
  partition: number;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  size: number;
  leaderEpoch: number;
  segments: number[];
}

/** A partition the metadata lists but the broker cannot serve: nothing of its log to show. */
export interface OfflinePartition {
  partition: number;
  /** The Kafka error clients get for it. */
  error: string;
}

export interface TopicConfigEntry {
  name: string;
  value: string | null;
  /** Set on the topic itself rather than inherited from the broker. */
  overridden: boolean;
  /** Kafka's ConfigSource name: TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG... */
  source: string;
  documentation: string | null;
}

export interface TopicDetail extends TopicSummary {
  partitionDetails: (PartitionDetail | OfflinePartition)[];
  configs: TopicConfigEntry[];
}

const SOURCE_NAMES = new Map<number, string>(Object.entries(ConfigSource).map(([name, id]) => [id, name]));

function summary(broker: ConsoleBroker, t: TopicImage): TopicSummary {
  const partitions = broker.partitions.ofTopic(t.name);
  return {
    name: t.name,
    id: t.id,
    internal: isInternalTopic(t.name),
    partitions: t.partitions.length,
    size: partitions.reduce((n, p) => n + p.log.size, 0),
    records: partitions.reduce((n, p) => n + (p.highWatermark - p.log.logStartOffset), 0),
    overrides: Object.keys(t.configs).length,
    offline: t.partitions.length - partitions.length,
  };
}

export function topicSummaries(broker: ConsoleBroker): TopicSummary[] {
  return broker.metadata
    .allTopics()
    .map((t) => summary(broker, t))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function partitionDetail(broker: ConsoleBroker, topic: string, index: number): PartitionDetail | OfflinePartition {
  const p = broker.partitions.lookup(topic, index);
  if (typeof p === 'number') return { partition: index, error: errorByCode(p)?.name ?? String(p) };
  return {
    partition: p.index,
    logStartOffset: p.log.logStartOffset,
    logEndOffset: p.log.logEndOffset,
    highWatermark: p.highWatermark,
    size: p.log.size,
    leaderEpoch: p.leaderEpoch,
    segments: p.log.segmentBaseOffsets(),
  };
}

/** A topic's partitions and its effective configs, as DescribeConfigs would describe them. */
export function topicDetail(broker: ConsoleBroker, name: string): TopicDetail | null {
  const t = broker.metadata.topic(name);
  if (!t) return null;
  const configs = describeTopicConfigs(broker.config, parsedOverrides(t.configs), { includeSynonyms: false }).map((c) => ({
    name: c.name,
    value: c.value,
    overridden: c.configSource === ConfigSource.TOPIC_CONFIG,
    source: SOURCE_NAMES.get(c.configSource as ConfigSourceId) ?? 'UNKNOWN',
    documentation: c.documentation,
  }));
  const partitionDetails = t.partitions.map((_, i) => partitionDetail(broker, name, i));
  return { ...summary(broker, t), partitionDetails, configs };
}
