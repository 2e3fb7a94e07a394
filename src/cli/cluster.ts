import type { Command } from 'commander';
import { check, type KafkaClient } from '../client/kafka-client.js';
import type { MetadataResponse, MetadataResponsePartition as MetadataPartition } from '../protocol/generated/messages/metadata-response.js';
import { withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { formatFields, formatTable } from './output.js';

const isOffline = (p: MetadataPartition): boolean => p.leaderId < 0;
/** A leader, but fewer in-sync replicas than replicas (an offline partition counts as offline only). */
const isUnderReplicated = (p: MetadataPartition): boolean => !isOffline(p) && p.isrNodes.length < p.replicaNodes.length;

/** Partitions each node leads and replicas it holds, over every topic internal ones included. */
function loadByNode(md: MetadataResponse): Map<number, { leaders: number; replicas: number }> {
  const load = new Map(md.brokers.map((b) => [b.nodeId, { leaders: 0, replicas: 0 }]));
  const of = (node: number) => load.get(node) ?? load.set(node, { leaders: 0, replicas: 0 }).get(node)!;
  for (const p of md.topics.flatMap((t) => t.partitions)) {
    if (!isOffline(p)) of(p.leaderId).leaders++;
    for (const r of p.replicaNodes) of(r).replicas++;
  }
  return load;
}

async function info(client: KafkaClient): Promise<void> {
  const md = await client.retrying(() => client.metadata(null));
  const topics = md.topics.filter((t) => !t.isInternal);
  const internal = md.topics.length - topics.length;
  const partitions = topics.reduce((n, t) => n + t.partitions.length, 0);
  const all = md.topics.flatMap((t) => t.partitions);
  let out = formatFields([
    ['cluster id', md.clusterId ?? '-'],
    ['controller', md.controllerId >= 0 ? md.controllerId : '-'],
    ['brokers', md.brokers.length],
    ['topics', `${topics.length} (${partitions} partitions)${internal > 0 ? `, plus ${internal} internal` : ''}`],
    ['offline partitions', all.filter(isOffline).length],
    ['under-replicated partitions', all.filter(isUnderReplicated).length],
  ]);
  const addresses = new Map(md.brokers.map((b) => [b.nodeId, b]));
  // Nodes that hold replicas but are not up are listed too: their partitions are the ones in trouble.
  const rows = [...loadByNode(md)]
    .sort(([a], [b]) => a - b)
    .map(([node, { leaders, replicas }]) => {
      const b = addresses.get(node);
      const role = !b ? 'offline' : node === md.controllerId ? 'controller' : '-';
      return [node, b ? `${b.host}:${b.port}` : '-', b?.rack ?? '-', role, leaders, replicas];
    });
  out += '\n' + formatTable(['node', 'address', 'rack', 'role', 'leaders', 'replicas'], rows);
  process.stdout.write(out);
}

interface PartitionsOptions extends BrokerOptions {
  topic?: string;
  offline?: boolean;
  underReplicated?: boolean;
}

async function partitions(client: KafkaClient, opts: PartitionsOptions): Promise<void> {
  const md = await client.retrying(() => client.metadata(opts.topic === undefined ? null : [opts.topic]));
  for (const t of md.topics) check(t.errorCode, `topic ${t.name}`);
  const wanted = (p: MetadataPartition): boolean => (!opts.offline && !opts.underReplicated) || (!!opts.offline && isOffline(p)) || (!!opts.underReplicated && isUnderReplicated(p));
  const rows = md.topics
    .filter((t) => t.name !== null)
    .sort((a, b) => a.name!.localeCompare(b.name!))
    .flatMap((t) =>
      t.partitions
        .filter(wanted)
        .sort((a, b) => a.partitionIndex - b.partitionIndex)
        .map((p) => [t.name!, p.partitionIndex, isOffline(p) ? 'none' : p.leaderId, p.replicaNodes.join(','), p.isrNodes.join(','), p.offlineReplicas.join(',')]),
    );
  process.stdout.write(formatTable(['topic', 'partition', 'leader', 'replicas', 'isr', 'offline-replicas'], rows));
}

/** `sluice cluster [info]` and `sluice cluster partitions`. */
export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('Show the cluster: brokers, controller, partitions per broker, offline partitions');
  withBrokersOption(
    cluster.command('info', { isDefault: true }).description('Cluster id, controller, brokers with the partitions each leads and holds, offline and under-replicated partition counts (the default)'),
  ).action((opts: BrokerOptions) => withClient(opts, (c) => info(c)));
  withBrokersOption(
    cluster
      .command('partitions')
      .description('Every partition (or one topic\'s) with its leader, replicas, in-sync replicas and offline replicas')
      .option('-t, --topic <name>', 'only this topic')
      .option('--offline', 'only partitions without a leader')
      .option('--under-replicated', 'only partitions with a leader but fewer in-sync replicas than replicas'),
  ).action((opts: PartitionsOptions) => withClient(opts, (c) => partitions(c, opts)));
}
