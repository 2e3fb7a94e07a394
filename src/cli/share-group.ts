import type { Command } from 'commander';
import { listGroups } from '../client/groups.js';
import type { PartitionOffset } from '../client/group-offsets.js';
import { KafkaError, type KafkaClient } from '../client/kafka-client.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { alterShareGroupOffsets, describeShareGroup, shareGroupOffsets } from '../client/share-groups.js';
import { withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { CliError } from './errors.js';
import { logEndOffsets, resetPartitions, targetOffsets, withResetOptions, type ResetOptions } from './group.js';
import { formatFields, formatTable, plural } from './output.js';

async function list(client: KafkaClient): Promise<void> {
  const rows = (await listGroups(client, ['share'])).map((g) => [g.groupId, g.state]);
  process.stdout.write(formatTable(['group', 'state'], rows));
}

async function describe(client: KafkaClient, groupId: string): Promise<void> {
  const [group, offsets] = await Promise.all([describeShareGroup(client, groupId), shareGroupOffsets(client, groupId)]);
  const consumers = new Map<string, number>();
  const members = group.members.map((m) => {
    const partitions = m.assignment.topicPartitions.flatMap((t) => t.partitions.map((p) => `${t.topicName}-${p}`));
    for (const tp of partitions) consumers.set(tp, (consumers.get(tp) ?? 0) + 1);
    return [m.memberId, m.clientId, m.clientHost, m.assignment.topicPartitions.map((t) => `${t.topicName}:${t.partitions.join(',')}`).join(' ') || '-'];
  });
  let out = formatFields([
    ['group', groupId],
    ['state', group.groupState],
    ['epoch', group.groupEpoch],
    ['assignor', group.assignorName],
    ['members', group.members.length],
  ]);
  if (members.length > 0) out += '\n' + formatTable(['member', 'client-id', 'host', 'partitions'], members);
  if (offsets.length > 0) {
    const ends = await logEndOffsets(client, new Set(offsets.map((o) => o.topic)));
    const sorted = [...offsets].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    out +=
      '\n' +
      formatTable(
        ['topic', 'partition', 'start-offset', 'log-end', 'lag', 'consumers'],
        sorted.map((o) => {
          const end = ends.get(`${o.topic}-${o.partition}`);
          // Records from the start offset on are not all done: some may be acknowledged already.
          const lag = end === undefined || o.offset < 0n ? '-' : end > o.offset ? end - o.offset : 0n;
          return [o.topic, o.partition, o.offset < 0n ? '-' : o.offset, end ?? '-', lag, consumers.get(`${o.topic}-${o.partition}`) ?? 0];
        }),
      );
  }
  process.stdout.write(out);
}

async function resetOffsets(client: KafkaClient, groupId: string, opts: ResetOptions): Promise<void> {
  const partitions = await resetPartitions(client, opts);
  // A group that does not exist yet starts where the reset puts it.
  const absent = (e: unknown) => {
    if (e instanceof KafkaError && e.code === ErrorCode.GROUP_ID_NOT_FOUND) return null;
    throw e;
  };
  const [group, current, target] = await Promise.all([describeShareGroup(client, groupId).catch(absent), shareGroupOffsets(client, groupId), targetOffsets(client, opts, partitions)]);
  if (group && group.members.length > 0) {
    throw new CliError(`share group ${groupId} has ${plural(group.members.length, 'active member')}: its offsets can only be reset while it is empty — stop its consumers first`);
  }
  const plan: PartitionOffset[] = partitions.map((p) => ({ topic: opts.topic, partition: p, offset: target.get(p)! }));
  const currentOf = (p: number): bigint => current.find((c) => c.topic === opts.topic && c.partition === p)?.offset ?? -1n;
  process.stdout.write(formatTable(['topic', 'partition', 'current', 'new'], plan.map((o) => [o.topic, o.partition, currentOf(o.partition) < 0n ? '-' : currentOf(o.partition), o.offset])));
  if (!opts.execute) {
    process.stderr.write('dry run: nothing was changed; add --execute to move these start offsets\n');
    return;
  }
  await alterShareGroupOffsets(client, groupId, plan);
  process.stderr.write(`moved ${plural(plan.length, 'start offset')} of share group ${groupId}\n`);
}

/** `sluice share-group ...`: share group (KIP-932) administration. */
export function registerShareGroup(program: Command): void {
  const group = program.command('share-group').description('List, describe and reset share groups (KIP-932 queues)');
  const sub = (name: string, description: string): Command => group.command(name).description(description);

  sub('list', 'List share groups with their state').action((opts: BrokerOptions) => withClient(opts, (c) => list(c)));

  sub('describe', "Show a share group's members, their partitions, and each share-partition's start offset")
    .argument('<group>', 'group id')
    .action((groupId: string, opts: BrokerOptions) => withClient(opts, (c) => describe(c, groupId)));

  withResetOptions(sub('reset-offsets', "Move an empty share group's start offsets, dropping what was in flight (a dry run unless --execute)"))
    .addHelpText('after', '\nExamples:\n  sluice share-group reset-offsets workers --topic jobs --to-earliest --execute')
    .action((groupId: string, opts: ResetOptions) => withClient(opts, (c) => resetOffsets(c, groupId, opts)));

  for (const cmd of group.commands) withBrokersOption(cmd);
}
