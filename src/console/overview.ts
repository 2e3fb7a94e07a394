import { isInternalTopic } from '../broker/handlers/internal-topics.js';
import type { ConsoleBroker } from './console-broker.js';
import type { ThroughputSample, ThroughputSampler, Totals } from './throughput.js';

export interface Overview {
  brokerId: number;
  clusterId: string;
  listeners: string[];
  /** What clients are told to connect to. */
  advertised: string;
  topics: number;
  internalTopics: number;
  partitions: number;
  totalLogBytes: number;
  groups: number;
  /** Running totals since start, as of the last sample. */
  totals: Totals | null;
  throughput: ThroughputSample[];
}

const listenerUrl = (l: { name: string; host: string; port: number }): string => `${l.name}://${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;

export function overview(broker: ConsoleBroker, sampler: ThroughputSampler): Overview {
  const topics = broker.metadata.allTopics();
  const internal = topics.filter((t) => isInternalTopic(t.name)).length;
  const partitions = broker.partitions.all();
  return {
    brokerId: broker.config.nodeId,
    clusterId: broker.metadata.clusterId,
    listeners: broker.listeners.map(listenerUrl),
    advertised: listenerUrl(broker.advertised),
    topics: topics.length - internal,
    internalTopics: internal,
    partitions: partitions.length,
    totalLogBytes: partitions.reduce((n, p) => n + p.log.size, 0),
    groups: broker.groups.allGroups().filter((g) => g.state !== 'Dead').length,
    totals: sampler.latestTotals(),
    throughput: sampler.series(),
  };
}
