import { formatHostPort } from '../config/listeners.js';
import type { EndpointImage, MetadataImage } from '../metadata/image.js';
import type { ConsoleBroker } from './console-broker.js';
import { clusterPlacement, countPlacements, type PartitionPlacement, type PlacementCounts } from './placement.js';
import type { ThroughputSampler } from './throughput.js';
import { followerViews } from './topics-view.js';

export interface BrokerView {
  id: number;
  /** False for a broker that holds replicas but has no live registration: its partitions are the ones in trouble. */
  registered: boolean;
  /** host:port on the listener this broker serves clients on (brokers of a cluster name theirs alike), else its first. */
  address: string | null;
  endpoints: EndpointImage[];
  rack: string | null;
  shuttingDown: boolean;
  controller: boolean;
  /** The broker whose console this is. */
  self: boolean;
  /** Partitions it leads. */
  leaders: number;
  /** Replicas assigned to it. */
  replicas: number;
}

export interface UnhealthyPartition extends PartitionPlacement {
  topic: string;
}

/** One replica behind in replication, as this broker knows it: its own as a follower, or a follower's while it leads. */
export interface ReplicaLag {
  topic: string;
  partition: number;
  broker: number;
  /** Records behind; null for a follower that has not fetched from this leader yet. */
  lag: number | null;
  inSync: boolean;
}

export interface ClusterView {
  clusterId: string;
  /** The broker answering. */
  brokerId: number;
  /** -1 while there is none. */
  controllerId: number;
  metadataStore: {
    kind: 'embedded' | 'etcd';
    connected: boolean;
    /** This broker's registration is provably alive, so it may serve writes. */
    writable: boolean;
    reason: string | null;
  };
  brokers: BrokerView[];
  topics: number;
  partitions: PlacementCounts;
  /** Offline and under-replicated partitions, the first few of them by topic and partition. */
  unhealthy: UnhealthyPartition[];
  /** This broker's own part in replication. */
  replication: {
    replicas: number;
    leaders: number;
    followers: number;
    /** Replicas assigned here that it cannot serve: no log, or a failed log directory. */
    offline: number;
    /** ISR changes it made as a leader since it started, and per minute over the console's sample history. */
    isrShrinks: number;
    isrExpands: number;
    isrShrinksPerMinute: number | null;
    isrExpandsPerMinute: number | null;
    /** The replicas behind, most behind first, the first few of them. */
    lagging: ReplicaLag[];
  };
}

/** Lists past this stop growing: the counts beside them say how many there are. */
const LIST_LIMIT = 100;

function addressOf(image: MetadataImage, id: number, listenerName: string): { address: string | null; endpoints: EndpointImage[] } {
  const endpoints = image.brokers.get(id)?.endpoints ?? [];
  const e = endpoints.find((x) => x.name === listenerName) ?? endpoints[0];
  return { address: e ? formatHostPort(e) : null, endpoints };
}

function brokerViews(broker: ConsoleBroker, placements: Iterable<PartitionPlacement>): BrokerView[] {
  const image = broker.metadata;
  const load = new Map<number, { leaders: number; replicas: number }>([...image.brokers.keys()].map((id) => [id, { leaders: 0, replicas: 0 }]));
  const of = (id: number) => load.get(id) ?? load.set(id, { leaders: 0, replicas: 0 }).get(id)!;
  for (const p of placements) {
    if (!p.offline) of(p.leader).leaders++;
    for (const id of p.replicas) of(id).replicas++;
  }
  return [...load]
    .sort(([a], [b]) => a - b)
    .map(([id, counts]) => {
      const registration = image.brokers.get(id);
      return {
        id,
        registered: registration !== undefined,
        ...addressOf(image, id, broker.advertised.name),
        rack: registration?.rack ?? null,
        shuttingDown: registration?.shuttingDown ?? false,
        controller: id === image.controllerId,
        self: id === broker.config.nodeId,
        ...counts,
      };
    });
}

function laggingReplicas(broker: ConsoleBroker): ReplicaLag[] {
  const self = broker.config.nodeId;
  const rows: ReplicaLag[] = [];
  for (const p of broker.partitions.all()) {
    const at = { topic: p.topic, partition: p.index };
    const inSync = p.isr.includes(self);
    if (p.role === 'follower' && (p.lag > 0 || !inSync)) rows.push({ ...at, broker: self, lag: p.lag, inSync });
    for (const f of followerViews(p)) if (f.lag !== 0 || !f.inSync) rows.push({ ...at, broker: f.id, lag: f.lag, inSync: f.inSync });
  }
  // Out of sync first, as they keep their partitions under-replicated; then the furthest behind, a follower not yet heard from furthest of all.
  const behind = (r: ReplicaLag): number => r.lag ?? Number.MAX_SAFE_INTEGER;
  return rows
    .sort((a, b) => Number(a.inSync) - Number(b.inSync) || behind(b) - behind(a) || a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .slice(0, LIST_LIMIT);
}

/** The cluster as this broker's metadata image has it, and this broker's part in it. */
export function clusterView(broker: ConsoleBroker, sampler: ThroughputSampler): ClusterView {
  const image = broker.metadata;
  const placed = clusterPlacement(broker);
  const all = placed.flatMap((t) => t.placement);
  const unhealthy = placed
    .flatMap(({ topic, placement }) => placement.filter((p) => p.offline || p.underReplicated).map((p) => ({ topic, ...p })))
    .slice(0, LIST_LIMIT);
  const session = broker.store.session();
  const replicas = broker.partitions.all();
  const totals = sampler.latestTotals();
  const mean = sampler.meanRates();
  return {
    clusterId: image.clusterId,
    brokerId: broker.config.nodeId,
    controllerId: image.controllerId,
    metadataStore: { kind: broker.store.kind, connected: session.connected, writable: session.valid, reason: session.reason },
    brokers: brokerViews(broker, all),
    topics: placed.length,
    partitions: countPlacements(all),
    unhealthy,
    replication: {
      replicas: replicas.length,
      leaders: replicas.filter((p) => p.isLeader).length,
      followers: replicas.filter((p) => p.role === 'follower').length,
      offline: broker.partitions.offlineCount(),
      isrShrinks: totals?.isrShrinks ?? 0,
      isrExpands: totals?.isrExpands ?? 0,
      isrShrinksPerMinute: mean ? mean.isrShrinks * 60 : null,
      isrExpandsPerMinute: mean ? mean.isrExpands * 60 : null,
      lagging: laggingReplicas(broker),
    },
  };
}
