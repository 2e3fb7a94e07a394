import { parsedOverrides } from '../broker/handlers/config-resources.js';
import { isInternalTopic } from '../broker/handlers/internal-topics.js';
import { ConfigSource, describeTopicConfigs, type ConfigSourceId } from '../config/describe-configs.js';
import type { TopicImage } from '../metadata/image.js';
import { ErrorCode, errorByCode } from '../protocol/generated/errors.js';
import type { Partition, ReplicaRole } from '../replication/partition.js';
import type { ConsoleBroker } from './console-broker.js';
import { countPlacements, topicPlacement, type PartitionPlacement } from './placement.js';

export interface TopicSummary {
  name: string;
  id: string;
  internal: boolean;
  partitions: number;
  /** Partitions with a replica on this broker that it serves: what size and records add up. */
  replicasHere: number;
  /** Bytes on this broker's disks. */
  size: number;
  /** Records a consumer from the start would read: high watermark minus log start, summed over the replicas here. */
  records: number;
  /** How many configs the topic overrides. */
  overrides: number;
  /** Partitions without a leader: none elected, or its replica cannot be served (its log could not be opened, or its directory failed). */
  offline: number;
  underReplicated: number;
}

/** A follower as this broker sees it while it leads the partition. */
export interface FollowerView {
  id: number;
  /** Records behind this leader's log end at its last fetch; null until it has fetched. */
  lag: number | null;
  inSync: boolean;
}

export interface PartitionDetail {
  partition: number;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  size: number;
  leaderEpoch: number;
  segments: number[];
  role: ReplicaRole;
  /** Records this replica is behind its leader's high watermark (0 while it leads). */
  lag: number;
  /** While it leads: its followers. */
  followers: FollowerView[];
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
  /** Every partition: its leader, replicas and ISR across the cluster. */
  placement: PartitionPlacement[];
  /** The partitions with a replica on this broker: its log and its part in replication. */
  partitionDetails: (PartitionDetail | OfflinePartition)[];
  configs: TopicConfigEntry[];
}

const SOURCE_NAMES = new Map<number, string>(Object.entries(ConfigSource).map(([name, id]) => [id, name]));

function summary(broker: ConsoleBroker, t: TopicImage, placement: PartitionPlacement[]): TopicSummary {
  const partitions = broker.partitions.ofTopic(t.name);
  const counts = countPlacements(placement);
  return {
    name: t.name,
    id: t.id,
    internal: isInternalTopic(t.name),
    partitions: t.partitions.length,
    replicasHere: partitions.length,
    size: partitions.reduce((n, p) => n + p.log.size, 0),
    records: partitions.reduce((n, p) => n + (p.highWatermark - p.log.logStartOffset), 0),
    overrides: Object.keys(t.configs).length,
    offline: counts.offline,
    underReplicated: counts.underReplicated,
  };
}

export function topicSummaries(broker: ConsoleBroker): TopicSummary[] {
  return broker.metadata
    .allTopics()
    .map((t) => summary(broker, t, topicPlacement(broker, t)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** While `p` leads: how far each follower is, as it knows from their fetches. */
export function followerViews(p: Partition): FollowerView[] {
  if (!p.isLeader) return [];
  return p.replicas
    .filter((id) => id !== p.leaderId)
    .map((id) => {
      const lag = p.followerLag(id);
      return { id, lag: lag < 0 ? null : lag, inSync: p.isr.includes(id) };
    });
}

/** The replica here, or null when the partition has none on this broker. */
function partitionDetail(broker: ConsoleBroker, topic: string, index: number): PartitionDetail | OfflinePartition | null {
  const p = broker.partitions.lookup(topic, index);
  if (p === ErrorCode.NOT_LEADER_OR_FOLLOWER) return null;
  if (typeof p === 'number') return { partition: index, error: errorByCode(p)?.name ?? String(p) };
  return {
    partition: p.index,
    logStartOffset: p.log.logStartOffset,
    logEndOffset: p.log.logEndOffset,
    highWatermark: p.highWatermark,
    size: p.log.size,
    leaderEpoch: p.leaderEpoch,
    segments: p.log.segmentBaseOffsets(),
    role: p.role,
    lag: p.lag,
    followers: followerViews(p),
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
  const placement = topicPlacement(broker, t);
  const partitionDetails = t.partitions.flatMap((_, i) => partitionDetail(broker, name, i) ?? []);
  return { ...summary(broker, t, placement), placement, partitionDetails, configs };
}
