import { isInternalTopic } from '../broker/handlers/internal-topics.js';
import { formatHostPort } from '../config/listeners.js';
import type { ConsoleBroker } from './console-broker.js';
import { clusterPlacement, countPlacements } from './placement.js';
import type { ThroughputSample, ThroughputSampler, Totals } from './throughput.js';

export interface Overview {
  brokerId: number;
  clusterId: string;
  listeners: string[];
  /** What clients are told to connect to. */
  advertised: string;
  metadataStore: 'embedded' | 'etcd';
  /** Registered brokers. */
  brokers: number;
  /** -1 while there is none. */
  controllerId: number;
  topics: number;
  internalTopics: number;
  /** Partitions in the cluster, internal topics' included. */
  partitions: number;
  offlinePartitions: number;
  underReplicatedPartitions: number;
  /** Replicas on this broker, and how many of them lead. */
  replicas: number;
  leaders: number;
  /** Bytes on this broker's disks. */
  totalLogBytes: number;
  /** Groups this broker coordinates (in a cluster, the others coordinate the rest). */
  groups: number;
  /** Running totals since start, as of the last sample. */
  totals: Totals | null;
  throughput: ThroughputSample[];
}

const listenerUrl = (l: { name: string; host: string; port: number }): string => `${l.name}://${formatHostPort(l)}`;

export function overview(broker: ConsoleBroker, sampler: ThroughputSampler): Overview {
  const placed = clusterPlacement(broker);
  const internal = placed.filter((t) => isInternalTopic(t.topic)).length;
  const counts = countPlacements(placed.flatMap((t) => t.placement));
  const replicas = broker.partitions.all();
  return {
    brokerId: broker.config.nodeId,
    clusterId: broker.metadata.clusterId,
    listeners: broker.listeners.map(listenerUrl),
    advertised: listenerUrl(broker.advertised),
    metadataStore: broker.store.kind,
    brokers: broker.metadata.brokers.size,
    controllerId: broker.metadata.controllerId,
    topics: placed.length - internal,
    internalTopics: internal,
    partitions: counts.partitions,
    offlinePartitions: counts.offline,
    underReplicatedPartitions: counts.underReplicated,
    replicas: replicas.length,
    leaders: replicas.filter((p) => p.isLeader).length,
    totalLogBytes: replicas.reduce((n, p) => n + p.log.size, 0),
    groups: broker.groups.allGroups().filter((g) => g.state !== 'Dead').length,
    totals: sampler.latestTotals(),
    throughput: sampler.series(),
  };
}
