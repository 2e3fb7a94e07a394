import { ZERO_UUID } from '../protocol/primitives/uuid.js';
import type { Command } from 'commander';
import { check, type KafkaClient } from '../client/kafka-client.js';
import { EARLIEST, LATEST, listOffsets } from '../client/offsets.js';
import { describeTopic } from '../client/topics.js';
import { sendVersioned } from '../client/versioned.js';
import { collector, intParser, keyValueCollector, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { UsageError } from './errors.js';
import { formatFields, formatTable, plural } from './output.js';

const TOPIC_RESOURCE = 2;
const AdminOp = { set: 0, delete: 1 } as const;

/** DescribeConfigs' config sources, as the SOURCE column shows them. */
const SOURCES: Record<number, string> = { 1: 'override', 2: 'broker', 3: 'cluster', 4: 'broker', 5: 'default', 6: 'logger' };

/** Admin requests go to the controller, which every Kafka version accepts them on. */
function toController(client: KafkaClient) {
  return () => client.controller();
}

async function create(client: KafkaClient, name: string, opts: { partitions?: number; replicationFactor?: number; config?: [string, string][] }): Promise<void> {
  const res = await client.call(toController(client), 'CreateTopics', {
    topics: [
      {
        name,
        // -1: the broker's num.partitions / default.replication.factor.
        numPartitions: opts.partitions ?? -1,
        replicationFactor: opts.replicationFactor ?? -1,
        assignments: [],
        configs: (opts.config ?? []).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  const t = res.topics[0];
  check(t.errorCode, `create topic ${name}`, t.errorMessage);
  const detail = t.numPartitions > 0 ? ` with ${plural(t.numPartitions, 'partition')} (replication factor ${t.replicationFactor})` : '';
  console.log(`created topic ${name}${detail}`);
}

async function list(client: KafkaClient, opts: { long?: boolean; internal?: boolean }): Promise<void> {
  const md = await client.retrying(() => client.metadata(null));
  const topics = md.topics.filter((t) => t.name !== null && (opts.internal || !t.isInternal)).sort((a, b) => a.name!.localeCompare(b.name!));
  if (!opts.long) {
    process.stdout.write(topics.map((t) => `${t.name}\n`).join(''));
    return;
  }
  const rows = topics.map((t) => [t.name!, t.partitions.length, t.partitions[0]?.replicaNodes.length ?? 0, t.isInternal ? 'yes' : 'no']);
  process.stdout.write(formatTable(['topic', 'partitions', 'replication-factor', 'internal'], rows));
}

async function describe(client: KafkaClient, name: string): Promise<void> {
  const topic = await describeTopic(client, name);
  const [low, high, configs] = await Promise.all([
    listOffsets(client, topic, null, EARLIEST),
    listOffsets(client, topic, null, LATEST),
    client.call(() => client.any(), 'DescribeConfigs', { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false }),
  ]);
  const result = configs.results[0];
  check(result.errorCode, `configs of topic ${name}`, result.errorMessage);

  const replicationFactor = topic.partitions[0]?.replicas.length ?? 0;
  let out = formatFields([
    ['topic', name],
    ['id', topic.topicId],
    ['partitions', topic.partitions.length],
    ['replication factor', replicationFactor],
    // Offsets between each partition's start and end: the message count unless compacted.
    ['messages', topic.partitions.reduce((n, p) => n + (high.get(p.partition) ?? 0n) - (low.get(p.partition) ?? 0n), 0n)],
  ]);
  out += '\n';
  out += formatTable(
    ['partition', 'leader', 'replicas', 'isr', 'low', 'high'],
    topic.partitions.map((p) => [p.partition, p.leaderId, p.replicas.join(','), p.isr.join(','), low.get(p.partition) ?? '?', high.get(p.partition) ?? '?']),
  );
  out += '\n';
  const sorted = [...result.configs].sort((a, b) => a.name.localeCompare(b.name));
  out += formatTable(
    ['config', 'value', 'source'],
    sorted.map((c) => [c.name, c.isSensitive ? '(sensitive)' : (c.value ?? '(null)'), SOURCES[c.configSource] ?? (c.isDefault ? 'default' : 'override')]),
  );
  process.stdout.write(out);
}

async function alterConfig(client: KafkaClient, name: string, { set = [], delete: del = [] }: { set?: [string, string][]; delete?: string[] }): Promise<void> {
  if (set.length === 0 && del.length === 0) throw new UsageError('nothing to change: pass --set key=value and/or --delete key');
  const configs = [...set.map(([k, v]) => ({ name: k, configOperation: AdminOp.set, value: v })), ...del.map((k) => ({ name: k, configOperation: AdminOp.delete, value: null }))];
  const res = await client.call(toController(client), 'IncrementalAlterConfigs', { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configs }], validateOnly: false });
  const r = res.responses[0];
  check(r.errorCode, `alter configs of topic ${name}`, r.errorMessage);
  const changes = [...set.map(([k, v]) => `set ${k}=${v}`), ...del.map((k) => `deleted ${k}`)];
  console.log(`updated topic ${name}: ${changes.join(', ')}`);
}

async function remove(client: KafkaClient, name: string): Promise<void> {
  const res = await client.retrying(async () =>
    sendVersioned(await client.controller(), 'DeleteTopics', (v) => (v >= 6 ? { topics: [{ name, topicId: ZERO_UUID }], topicNames: [], timeoutMs: 30_000 } : { topics: [], topicNames: [name], timeoutMs: 30_000 })),
  );
  const r = res.responses[0];
  check(r.errorCode, `delete topic ${name}`, r.errorMessage);
  console.log(`deleted topic ${name}`);
}

async function addPartitions(client: KafkaClient, name: string, total: number): Promise<void> {
  const res = await client.call(toController(client), 'CreatePartitions', { topics: [{ name, count: total, assignments: null }], timeoutMs: 30_000, validateOnly: false });
  const r = res.results[0];
  check(r.errorCode, `add partitions to topic ${name}`, r.errorMessage);
  console.log(`topic ${name} now has ${plural(total, 'partition')}`);
}

/** AlterReplicaLogDirs to one broker (the one with the given node id, else any: a single node). */
async function moveLogDir(client: KafkaClient, name: string, partition: number, dir: string, node: number | undefined): Promise<void> {
  const res = await client.call(() => (node === undefined ? client.any() : client.node(node)), 'AlterReplicaLogDirs', {
    dirs: [{ path: dir, topics: [{ name, partitions: [partition] }] }],
  });
  for (const t of res.results) for (const p of t.partitions) check(p.errorCode, `move ${t.topicName}-${p.partitionIndex} to ${dir}`);
  console.log(`moving ${name}-${partition} to ${dir}: the broker logs "partition moved to another log directory" once it serves from there`);
}

/** `sluice topic ...`: topic administration. */
export function registerTopic(program: Command): void {
  const topic = program.command('topic').description('Create, list, describe, configure and delete topics');
  const sub = (name: string, description: string): Command => topic.command(name).description(description);

  sub('create', 'Create a topic')
    .argument('<name>', 'topic name')
    .option('-p, --partitions <n>', "number of partitions (default: the broker's num.partitions)", intParser(1))
    .option('-r, --replication-factor <n>', "copies of each partition (default: the broker's default.replication.factor)", intParser(1, 32767))
    .option('-c, --config <key=value>', 'a topic config, such as retention.ms=86400000 (repeatable)', keyValueCollector)
    .addHelpText('after', '\nExample:\n  sluice topic create orders --partitions 6 --config retention.ms=86400000 --config cleanup.policy=compact')
    .action((name: string, opts: BrokerOptions & { partitions?: number; replicationFactor?: number; config?: [string, string][] }) => withClient(opts, (c) => create(c, name, opts)));

  sub('list', 'List topic names')
    .option('-l, --long', 'with partition count, replication factor and whether it is internal')
    .option('--internal', 'include internal topics (__consumer_offsets)')
    .action((opts: BrokerOptions & { long?: boolean; internal?: boolean }) => withClient(opts, (c) => list(c, opts)));

  sub('describe', "Show a topic's partitions (leader, replicas, ISR, offsets) and configs")
    .argument('<name>', 'topic name')
    .action((name: string, opts: BrokerOptions) => withClient(opts, (c) => describe(c, name)));

  sub('alter-config', "Set or delete a topic's config overrides")
    .argument('<name>', 'topic name')
    .option('-s, --set <key=value>', 'set a config (repeatable)', keyValueCollector)
    .option('-d, --delete <key>', 'remove an override, back to the default (repeatable)', collector)
    .addHelpText('after', '\nExample:\n  sluice topic alter-config orders --set retention.ms=3600000 --delete cleanup.policy')
    .action((name: string, opts: BrokerOptions & { set?: [string, string][]; delete?: string[] }) => withClient(opts, (c) => alterConfig(c, name, opts)));

  sub('delete', 'Delete a topic and its data')
    .argument('<name>', 'topic name')
    .action((name: string, opts: BrokerOptions) => withClient(opts, (c) => remove(c, name)));

  sub('add-partitions', 'Grow a topic to <total> partitions (keyed messages may then map to other partitions)')
    .argument('<name>', 'topic name')
    .argument('<total>', 'the new partition count', intParser(1))
    .action((name: string, total: number, opts: BrokerOptions) => withClient(opts, (c) => addPartitions(c, name, total)));

  sub('move-log-dir', "Move a partition's replica on a broker to another of its log.dirs, online")
    .argument('<name>', 'topic name')
    .argument('<partition>', 'partition index', intParser(0))
    .argument('<dir>', 'the target log directory, as the broker names it in log.dirs (absolute path)')
    .option('-n, --node <id>', 'the broker holding the replica (default: any, for a single node)', intParser(0))
    .addHelpText('after', '\nExample:\n  sluice topic move-log-dir orders 0 /mnt/disk2/sluice')
    .action((name: string, partition: number, dir: string, opts: BrokerOptions & { node?: number }) => withClient(opts, (c) => moveLogDir(c, name, partition, dir, opts.node)));

  for (const cmd of topic.commands) withBrokersOption(cmd);
}
