import { NO_LEADER, type PartitionImage, type TopicImage } from '../metadata/image.js';
import { replicaAvailability } from '../broker/cluster-view.js';
import type { ConsoleBroker } from './console-broker.js';

/** Where a partition lives in the cluster and whether it is served, as the metadata image says. */
export interface PartitionPlacement {
  partition: number;
  /** -1 when there is none, or when its replica is offline (Metadata says the same to clients). */
  leader: number;
  leaderEpoch: number;
  /** The preferred leader first; during a reassignment, the joining and the leaving ones too. */
  replicas: number[];
  isr: number[];
  /** Replicas whose broker is not registered, or, on this broker, that it cannot serve. */
  offlineReplicas: number[];
  /** A reassignment under way: replicas joining, and replicas leaving once those have. */
  adding: number[];
  removing: number[];
  offline: boolean;
  /** A leader, but fewer in-sync replicas than replicas: an offline partition counts as offline only. */
  underReplicated: boolean;
}

export function placementOf(broker: ConsoleBroker, topic: string, index: number, state: PartitionImage): PartitionPlacement {
  const { leader, offlineReplicas } = replicaAvailability(broker, topic, index, state);
  const offline = leader === NO_LEADER;
  return {
    partition: index,
    leader,
    leaderEpoch: state.leaderEpoch,
    replicas: state.replicas,
    isr: state.isr,
    offlineReplicas,
    adding: state.adding,
    removing: state.removing,
    offline,
    underReplicated: !offline && state.isr.length < state.replicas.length,
  };
}

export function topicPlacement(broker: ConsoleBroker, t: TopicImage): PartitionPlacement[] {
  return t.partitions.map((state, i) => placementOf(broker, t.name, i, state));
}

/** Every topic's partitions, topics by name. */
export function clusterPlacement(broker: ConsoleBroker): { topic: string; placement: PartitionPlacement[] }[] {
  return broker.metadata
    .allTopics()
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((t) => ({ topic: t.name, placement: topicPlacement(broker, t) }));
}

/** Counts over a set of partitions: how many there are and how many need someone's attention. */
export interface PlacementCounts {
  partitions: number;
  offline: number;
  underReplicated: number;
  reassigning: number;
}

export function countPlacements(placements: readonly PartitionPlacement[]): PlacementCounts {
  const counts: PlacementCounts = { partitions: placements.length, offline: 0, underReplicated: 0, reassigning: 0 };
  for (const p of placements) {
    if (p.offline) counts.offline++;
    if (p.underReplicated) counts.underReplicated++;
    if (p.adding.length > 0 || p.removing.length > 0) counts.reassigning++;
  }
  return counts;
}
