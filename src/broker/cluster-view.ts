import { NO_LEADER } from '../metadata/image.js';
import type { BrokerContext } from './broker-context.js';

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/**
 * A registered broker's address on the listener this broker answers on (brokers of one
 * cluster name their listeners alike), or its first one. Null when it is not registered.
 */
export function endpointOf(ctx: BrokerContext, nodeId: number): BrokerEndpoint | null {
  const b = ctx.metadata.brokers.get(nodeId);
  if (!b) return null;
  const e = b.endpoints.find((x) => x.name === ctx.advertised.name) ?? b.endpoints[0];
  return e ? { nodeId, host: e.host, port: e.port, rack: b.rack } : null;
}

/** Every registered broker, by id, as Metadata and DescribeCluster list them. */
export function liveBrokers(ctx: BrokerContext): BrokerEndpoint[] {
  return [...ctx.metadata.brokers.keys()]
    .sort((a, b) => a - b)
    .flatMap((id) => endpointOf(ctx, id) ?? []);
}

/** The leader of a partition and its epoch, as NOT_LEADER_OR_FOLLOWER answers hint them (KIP-951). */
export function currentLeader(ctx: BrokerContext, topic: string, index: number): { leaderId: number; leaderEpoch: number } {
  const p = ctx.metadata.partition(topic, index);
  return p && p.leader !== NO_LEADER ? { leaderId: p.leader, leaderEpoch: p.leaderEpoch } : { leaderId: -1, leaderEpoch: -1 };
}
