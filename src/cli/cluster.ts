import type { Command } from 'commander';
import type { KafkaClient } from '../client/kafka-client.js';
import { withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { formatFields, formatTable } from './output.js';

async function info(client: KafkaClient): Promise<void> {
  const md = await client.retrying(() => client.metadata(null));
  const topics = md.topics.filter((t) => !t.isInternal);
  const internal = md.topics.length - topics.length;
  const partitions = topics.reduce((n, t) => n + t.partitions.length, 0);
  let out = formatFields([
    ['cluster id', md.clusterId ?? '-'],
    ['controller', md.controllerId >= 0 ? md.controllerId : '-'],
    ['brokers', md.brokers.length],
    ['topics', `${topics.length} (${partitions} partitions)${internal > 0 ? `, plus ${internal} internal` : ''}`],
  ]);
  const brokers = [...md.brokers].sort((a, b) => a.nodeId - b.nodeId);
  out += '\n' + formatTable(['node', 'address', 'rack', 'role'], brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`, b.rack ?? '-', b.nodeId === md.controllerId ? 'controller' : '-']));
  process.stdout.write(out);
}

/** `sluice cluster info`. */
export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('Show the cluster');
  withBrokersOption(cluster.command('info').description('Cluster id, controller, brokers, topic and partition counts')).action((opts: BrokerOptions) => withClient(opts, (c) => info(c)));
}
