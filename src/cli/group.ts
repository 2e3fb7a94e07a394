import { Option, type Command } from 'commander';
import { decodeAssignment } from '../protocol/consumer-protocol.js';
import { commitOffsets, committedOffsets, coordinatorRequest, type PartitionOffset, type TopicPartitions } from '../client/group-offsets.js';
import { check, type KafkaClient } from '../client/kafka-client.js';
import { listGroups } from '../client/groups.js';
import { EARLIEST, LATEST, listOffsets } from '../client/offsets.js';
import { describeTopic, partitionOf } from '../client/topics.js';
import type { DescribeGroupsResponseDescribedGroup } from '../protocol/generated/messages/describe-groups-response.js';
import { intParser, offsetParser, timestampParser, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { CliError, UsageError } from './errors.js';
import { formatFields, formatTable, plural } from './output.js';

async function describeGroup(client: KafkaClient, groupId: string): Promise<DescribeGroupsResponseDescribedGroup> {
  const res = await coordinatorRequest(client, groupId, 'DescribeGroups', () => ({ groups: [groupId], includeAuthorizedOperations: false }), (r) => r.groups[0]?.errorCode ?? 0);
  const group = res.groups[0];
  check(group.errorCode, `describe group ${groupId}`);
  return group;
}

/** A member's partitions, when it speaks the consumer protocol (other group types are opaque). */
function assignmentOf(group: DescribeGroupsResponseDescribedGroup, assignment: Buffer): TopicPartitions[] {
  if (group.protocolType !== 'consumer') return [];
  try {
    return decodeAssignment(assignment);
  } catch {
    return [];
  }
}

function formatAssignment(assigned: TopicPartitions[]): string {
  return assigned.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ') || '-';
}

async function list(client: KafkaClient): Promise<void> {
  const rows = (await listGroups(client)).map((g) => [g.groupId, g.state, g.protocolType]);
  process.stdout.write(formatTable(['group', 'state', 'protocol-type'], rows));
}

/** Log end offsets of every partition of these topics; topics that are gone are left out. */
export async function logEndOffsets(client: KafkaClient, topics: Iterable<string>): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  await Promise.all(
    [...topics].map(async (topic) => {
      try {
        for (const [p, offset] of await listOffsets(client, await describeTopic(client, topic), null, LATEST)) out.set(`${topic}-${p}`, offset);
      } catch {
        // Deleted since the commit: its lag is unknown, shown as "-".
      }
    }),
  );
  return out;
}

async function describe(client: KafkaClient, groupId: string): Promise<void> {
  const [group, committed] = await Promise.all([describeGroup(client, groupId), committedOffsets(client, groupId, null)]);
  if (group.groupState === 'Dead' && committed.length === 0) throw new CliError(`group ${groupId} does not exist — check the name with \`sluice group list\``);
  const members = group.members.map((m) => ({ ...m, assigned: assignmentOf(group, m.memberAssignment) }));
  const owner = new Map<string, string>();
  for (const m of members) for (const a of m.assigned) for (const p of a.partitions) owner.set(`${a.topic}-${p}`, m.memberId);

  const rows = new Map<string, { topic: string; partition: number; committed: bigint }>();
  for (const c of committed) rows.set(`${c.topic}-${c.partition}`, { topic: c.topic, partition: c.partition, committed: c.offset });
  for (const m of members) for (const a of m.assigned) for (const p of a.partitions) if (!rows.has(`${a.topic}-${p}`)) rows.set(`${a.topic}-${p}`, { topic: a.topic, partition: p, committed: -1n });
  const ends = await logEndOffsets(client, new Set([...rows.values()].map((r) => r.topic)));

  let out = formatFields([
    ['group', groupId],
    ['state', group.groupState],
    ['protocol', group.protocolType ? `${group.protocolType}${group.protocolData ? `/${group.protocolData}` : ''}` : '-'],
    ['members', members.length],
  ]);
  if (members.length > 0) {
    out += '\n' + formatTable(['member', 'client-id', 'host', 'partitions'], members.map((m) => [m.memberId, m.clientId, m.clientHost, formatAssignment(m.assigned)]));
  }
  const sorted = [...rows.entries()].sort(([, a], [, b]) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  if (sorted.length > 0) {
    out += '\n';
    out += formatTable(
      ['topic', 'partition', 'committed', 'log-end', 'lag', 'member'],
      sorted.map(([key, r]) => {
        const end = ends.get(key);
        const lag = end === undefined || r.committed < 0n ? '-' : end - r.committed > 0n ? end - r.committed : 0n;
        return [r.topic, r.partition, r.committed < 0n ? '-' : r.committed, end ?? '-', lag, owner.get(key) ?? '-'];
      }),
    );
  }
  process.stdout.write(out);
}

export interface ResetOptions extends BrokerOptions {
  topic: string;
  partition?: number;
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: bigint;
  toOffset?: bigint;
  execute?: boolean;
}

/** The new offset of each partition, by the one --to-* option given. */
export async function targetOffsets(client: KafkaClient, opts: ResetOptions, partitions: number[]): Promise<Map<number, bigint>> {
  const topic = await describeTopic(client, opts.topic);
  if (opts.toEarliest) return listOffsets(client, topic, partitions, EARLIEST);
  const latest = await listOffsets(client, topic, partitions, LATEST);
  if (opts.toLatest) return latest;
  if (opts.toDatetime !== undefined) {
    const atTime = await listOffsets(client, topic, partitions, opts.toDatetime);
    return new Map(partitions.map((p) => [p, atTime.get(p)! >= 0n ? atTime.get(p)! : latest.get(p)!]));
  }
  // An offset outside the log is brought to its nearest end, as Kafka's tool does.
  const earliest = await listOffsets(client, topic, partitions, EARLIEST);
  const wanted = opts.toOffset!;
  return new Map(partitions.map((p) => [p, wanted < earliest.get(p)! ? earliest.get(p)! : wanted > latest.get(p)! ? latest.get(p)! : wanted]));
}

/** The partitions a reset moves, once the options are checked: exactly one --to-* option. */
export async function resetPartitions(client: KafkaClient, opts: ResetOptions): Promise<number[]> {
  const chosen = [opts.toEarliest, opts.toLatest, opts.toDatetime !== undefined, opts.toOffset !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset');
  const topic = await describeTopic(client, opts.topic);
  return opts.partition !== undefined ? [partitionOf(topic, opts.partition).partition] : topic.partitions.map((p) => p.partition);
}

/** The options of a reset-offsets command, consumer or share group. */
export function withResetOptions(cmd: Command): Command {
  return cmd
    .argument('<group>', 'group id')
    .requiredOption('-t, --topic <topic>', 'the topic whose offsets to move')
    .option('-p, --partition <n>', 'only this partition (default: all)', intParser(0))
    .option('--to-earliest', 'to the oldest offset')
    .option('--to-latest', 'to the end')
    .option('--to-datetime <time>', 'to the first offset at or after this time (ISO 8601, or ms since the epoch)', timestampParser)
    .option('--to-offset <n>', 'to this offset (kept within the log)', offsetParser)
    .addOption(new Option('--execute', 'commit the new offsets (default: only print them)'));
}

async function resetOffsets(client: KafkaClient, groupId: string, opts: ResetOptions): Promise<void> {
  const partitions = await resetPartitions(client, opts);

  const group = await describeGroup(client, groupId);
  if (group.members.length > 0) {
    throw new CliError(`group ${groupId} has ${plural(group.members.length, 'active member')} (state ${group.groupState}): offsets can only be reset while it is empty — stop its consumers first`);
  }
  const [current, target] = await Promise.all([committedOffsets(client, groupId, [{ topic: opts.topic, partitions }]), targetOffsets(client, opts, partitions)]);
  const plan: PartitionOffset[] = partitions.map((p) => ({ topic: opts.topic, partition: p, offset: target.get(p)! }));
  const currentOf = (p: number): bigint => current.find((c) => c.partition === p)?.offset ?? -1n;
  process.stdout.write(formatTable(['topic', 'partition', 'current', 'new'], plan.map((o) => [o.topic, o.partition, currentOf(o.partition) < 0n ? '-' : currentOf(o.partition), o.offset])));

  if (!opts.execute) {
    process.stderr.write('dry run: nothing was changed; add --execute to commit these offsets\n');
    return;
  }
  check(await commitOffsets(client, groupId, plan), `reset offsets of group ${groupId}`);
  process.stderr.write(`committed ${plural(plan.length, 'offset')} for group ${groupId}\n`);
}

async function remove(client: KafkaClient, groupId: string): Promise<void> {
  const res = await coordinatorRequest(client, groupId, 'DeleteGroups', () => ({ groupsNames: [groupId] }), (r) => r.results[0]?.errorCode ?? 0);
  check(res.results[0].errorCode, `delete group ${groupId}`);
  console.log(`deleted group ${groupId}`);
}

/** `sluice group ...`: consumer group administration. */
export function registerGroup(program: Command): void {
  const group = program.command('group').description('List, describe, reset and delete consumer groups');
  const sub = (name: string, description: string): Command => group.command(name).description(description);

  sub('list', 'List consumer groups with their state').action((opts: BrokerOptions) => withClient(opts, (c) => list(c)));

  sub('describe', "Show a group's state, members, and committed offsets with lag")
    .argument('<group>', 'group id')
    .action((groupId: string, opts: BrokerOptions) => withClient(opts, (c) => describe(c, groupId)));

  withResetOptions(sub('reset-offsets', "Move an inactive group's committed offsets (a dry run unless --execute)"))
    .addHelpText('after', '\nExamples:\n  sluice group reset-offsets billing --topic orders --to-datetime 2024-05-01T00:00:00Z\n  sluice group reset-offsets billing --topic orders --to-earliest --execute')
    .action((groupId: string, opts: ResetOptions) => withClient(opts, (c) => resetOffsets(c, groupId, opts)));

  sub('delete', 'Delete an inactive group and its committed offsets')
    .argument('<group>', 'group id')
    .action((groupId: string, opts: BrokerOptions) => withClient(opts, (c) => remove(c, groupId)));

  for (const cmd of group.commands) withBrokersOption(cmd);
}
