import { NO_LEADER, type PartitionImage } from '../metadata/image.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { BrokerContext } from './broker-context.js';

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/**
 * A registered broker's address on a listener (brokers of one cluster name their listeners
 * alike): a client is told the addresses of the listener it came in on, so a client of the SSL
 * listener stays on SSL. This broker's first listener by default; a broker without the listener
 * is given by its first one. Null when it is not registered.
 */
export function endpointOf(ctx: BrokerContext, nodeId: number, listenerName = ctx.advertised.name): BrokerEndpoint | null {
  const b = ctx.metadata.brokers.get(nodeId);
  if (!b) return null;
  const e = b.endpoints.find((x) => x.name === listenerName) ?? b.endpoints[0];
  return e ? { nodeId, host: e.host, port: e.port, rack: b.rack } : null;
}

/** Every registered broker, by id, as Metadata and DescribeCluster list them. */
export function liveBrokers(ctx: BrokerContext, listenerName?: string): BrokerEndpoint[] {
  return [...ctx.metadata.brokers.keys()]
    .sort((a, b) => a - b)
    .flatMap((id) => endpointOf(ctx, id, listenerName) ?? []);
}

/** What the availability of a partition's replicas is read from. */
export type ReplicaView = Pick<BrokerContext, 'config' | 'metadata' | 'partitions'>;

/** The offline replicas of every partition that has none: one frozen array, not one each per Metadata answer. */
const NONE_OFFLINE = Object.freeze([]) as unknown as number[];

/**
 * A partition's replicas that are offline: their broker is not registered, or (this broker) its
 * replica cannot be served (a failed log directory, a log that could not be opened). A leader
 * among them leaves the partition without one, as Metadata tells clients and the console shows.
 */
export function replicaAvailability(view: ReplicaView, topic: string, index: number, state: PartitionImage): { leader: number; offlineReplicas: number[]; brokenHere: boolean } {
  const self = view.config.nodeId;
  // Only a replica assigned here can be broken here: lookup answers the others NOT_LEADER_OR_FOLLOWER.
  const brokenHere = state.replicas.includes(self) && view.partitions.lookup(topic, index) === ErrorCode.KAFKA_STORAGE_ERROR;
  let offlineReplicas = NONE_OFFLINE;
  for (const id of state.replicas) {
    if (view.metadata.isAlive(id) && !(id === self && brokenHere)) continue;
    if (offlineReplicas === NONE_OFFLINE) offlineReplicas = [];
    offlineReplicas.push(id);
  }
  return { leader: offlineReplicas.includes(state.leader) ? NO_LEADER : state.leader, offlineReplicas, brokenHere };
}

/** The leader of a partition and its epoch, as NOT_LEADER_OR_FOLLOWER answers hint them (KIP-951). */
export function currentLeader(ctx: BrokerContext, topic: string, index: number): { leaderId: number; leaderEpoch: number } {
  const p = ctx.metadata.partition(topic, index);
  return p && p.leader !== NO_LEADER ? { leaderId: p.leader, leaderEpoch: p.leaderEpoch } : { leaderId: -1, leaderEpoch: -1 };
}
