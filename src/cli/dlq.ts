import { Option, type Command } from 'commander';
import { DLQ_HEADER_PREFIX, DLQ_HEADERS } from '../broker/dead-letter-headers.js';
import { TopicFetcher, type FetchedRecord } from '../client/fetcher.js';
import { groupConfig } from '../client/group-configs.js';
import { commitOffsets, committedOffsets, type PartitionOffset } from '../client/group-offsets.js';
import { listGroups } from '../client/groups.js';
import { check, KafkaError, type KafkaClient } from '../client/kafka-client.js';
import { EARLIEST, LATEST, listOffsets } from '../client/offsets.js';
import { TopicProducer } from '../client/producer.js';
import { describeTopic, type TopicInfo } from '../client/topics.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { intParser, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { CliError } from './errors.js';
import { formatTable, plural } from './output.js';

/** The share group config naming its dead-letter topic (KIP-1191). */
const DLQ_CONFIG = 'errors.deadletterqueue.topic.name';

const header = (r: FetchedRecord, name: keyof typeof DLQ_HEADERS): string | null => {
  const h = r.headers.find((x) => x.key === DLQ_HEADERS[name]);
  return h?.value ? Buffer.from(h.value).toString() : null;
};

/** Records between each partition's log start and high watermark: what `topic describe` calls messages. */
async function recordCount(client: KafkaClient, topic: TopicInfo): Promise<bigint> {
  const [low, high] = await Promise.all([listOffsets(client, topic, null, EARLIEST), listOffsets(client, topic, null, LATEST)]);
  return topic.partitions.reduce((n, p) => n + (high.get(p.partition) ?? 0n) - (low.get(p.partition) ?? 0n), 0n);
}

/** A dead-letter topic is made on the first dead letter, or never when topics are not auto-created. */
function notCreatedYet(e: unknown): string {
  if (e instanceof KafkaError && e.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return 'not created yet';
  throw e;
}

async function list(client: KafkaClient): Promise<void> {
  const groups = (await listGroups(client, ['share'])).map((g) => g.groupId);
  const dlqs = await groupConfig(client, groups, DLQ_CONFIG);
  const rows = await Promise.all(
    groups.flatMap((group) => {
      const topic = dlqs.get(group);
      if (!topic) return [];
      return [describeTopic(client, topic).then((info) => recordCount(client, info), notCreatedYet).then((records) => [group, topic, records])];
    }),
  );
  process.stdout.write(formatTable(['group', 'topic', 'records'], rows));
}

interface ReplayOptions extends BrokerOptions {
  group?: string;
  topic?: string;
  max?: number;
  execute?: boolean;
}

/** Where each partition's replay starts: the group's committed offset, else the log start. */
async function startOffsets(client: KafkaClient, dlq: TopicInfo, group: string | undefined): Promise<Map<number, bigint>> {
  const starts = await listOffsets(client, dlq, null, EARLIEST);
  if (group === undefined) return starts;
  const partitions = dlq.partitions.map((p) => p.partition);
  for (const c of await committedOffsets(client, group, [{ topic: dlq.name, partitions }])) if (c.offset > starts.get(c.partition)!) starts.set(c.partition, c.offset);
  return starts;
}

/** The dead letters to replay, oldest first in each partition, up to `max` in all, below today's high watermarks. */
async function readLetters(client: KafkaClient, dlq: TopicInfo, from: Map<number, bigint>, max: number): Promise<FetchedRecord[]> {
  const ends = await listOffsets(client, dlq, null, LATEST);
  const fetcher = new TopicFetcher(client, dlq, { maxWaitMs: 0 });
  const letters: FetchedRecord[] = [];
  for (const [partition, start] of from) {
    const end = ends.get(partition)!;
    let position = start;
    while (position < end && letters.length < max) {
      const [fetched] = await fetcher.fetch(new Map([[partition, position]]));
      if (fetched.outOfRange) throw new CliError(`${dlq.name}-${partition} no longer has offset ${position} (retention removed it): run again`);
      letters.push(...fetched.records.filter((r) => r.offset < end).slice(0, max - letters.length));
      position = fetched.nextOffset;
    }
  }
  return letters;
}

interface Replay {
  letter: FetchedRecord;
  topic: string;
  /** The record's original partition when it goes back to its original topic; else its key decides. */
  partition: number | undefined;
}

function planOf(letter: FetchedRecord, opts: ReplayOptions): Replay {
  if (opts.topic !== undefined) return { letter, topic: opts.topic, partition: undefined };
  const topic = header(letter, 'topic');
  if (topic === null) throw new CliError(`${letter.topic}-${letter.partition} offset ${letter.offset} has no ${DLQ_HEADERS.topic} header: give the topic to replay it to with --topic`);
  const partition = header(letter, 'partition');
  return { letter, topic, partition: partition === null ? undefined : Number(partition) };
}

/** Produces each record as it was before it was dead-lettered: its key, value and own headers. */
async function produce(client: KafkaClient, plan: Replay[]): Promise<void> {
  const producers = new Map<string, { producer: TopicProducer; partitions: number }>();
  for (const { letter, topic, partition } of plan) {
    let to = producers.get(topic);
    if (!to) {
      const info = await describeTopic(client, topic);
      to = { producer: await TopicProducer.create(client, info), partitions: info.partitions.length };
      producers.set(topic, to);
    }
    const headers = letter.headers.filter((h) => !h.key.startsWith(DLQ_HEADER_PREFIX));
    await to.producer.send({ key: letter.key, value: letter.value, headers, partition: partition !== undefined && partition < to.partitions ? partition : undefined });
  }
  await Promise.all([...producers.values()].map((p) => p.producer.flush()));
}

async function replay(client: KafkaClient, dlqName: string, opts: ReplayOptions): Promise<void> {
  const dlq = await describeTopic(client, dlqName);
  const letters = await readLetters(client, dlq, await startOffsets(client, dlq, opts.group), opts.max ?? Number.MAX_SAFE_INTEGER);
  const plan = letters.map((l) => planOf(l, opts));
  process.stdout.write(
    formatTable(
      ['partition', 'offset', 'to', 'origin', 'reason', 'deliveries'],
      plan.map(({ letter, topic }) => [letter.partition, letter.offset, topic, `${header(letter, 'topic') ?? '-'}-${header(letter, 'partition') ?? '-'}@${header(letter, 'offset') ?? '-'}`, header(letter, 'reason') ?? '-', header(letter, 'deliveryCount') ?? '-']),
    ),
  );
  if (!opts.execute) {
    process.stderr.write(`dry run: nothing was produced; add --execute to replay ${plural(plan.length, 'dead letter')}\n`);
    return;
  }
  await produce(client, plan);
  process.stderr.write(`replayed ${plural(plan.length, 'dead letter')} from ${dlqName}\n`);
  if (opts.group === undefined) return;
  const next = new Map<number, bigint>();
  for (const l of letters) next.set(l.partition, l.offset + 1n);
  const offsets: PartitionOffset[] = [...next].map(([partition, offset]) => ({ topic: dlqName, partition, offset }));
  check(await commitOffsets(client, opts.group, offsets), `commit the replayed position of group ${opts.group}`);
  process.stderr.write(`group ${opts.group} committed past them: the next replay with --group ${opts.group} starts after\n`);
}

/** `sluice dlq ...`: share groups' dead-letter topics, and moving dead letters back. */
export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description("Share groups' dead-letter topics (errors.deadletterqueue.topic.name), and replaying dead letters");

  dlq
    .command('list')
    .description('List the dead-letter topics of share groups, with the records each holds')
    .action((opts: BrokerOptions) => withClient(opts, (c) => list(c)));

  dlq
    .command('replay')
    .description("Produce dead letters back to their original topic, or another, without the __dlq.errors.* headers (a dry run unless --execute)")
    .argument('<dlq-topic>', 'the dead-letter topic')
    .option('-g, --group <group>', 'start at this consumer group\'s committed offsets on the dead-letter topic, and commit past what is replayed (so the next replay skips it)')
    .addOption(new Option('--to-original', 'to the topic (and partition) each came from, from its __dlq.errors.* headers (the default)').conflicts('topic'))
    .option('--topic <topic>', 'to this topic instead, partitioned by key')
    .addOption(new Option('--max <n>', 'replay at most this many').argParser(intParser(1)))
    .option('--execute', 'produce them (without it: only show what would be replayed)')
    .addHelpText(
      'after',
      `
Without --group, every dead letter from the start of the topic is replayed, each time.

Examples:
  sluice dlq replay dlq.jobs                                  # what would go back where
  sluice dlq replay dlq.jobs --group dlq-replayer --execute   # move them back, once
  sluice dlq replay dlq.jobs --topic jobs-retry --max 10 --execute`,
    )
    .action((dlqTopic: string, opts: ReplayOptions) => withClient(opts, (c) => replay(c, dlqTopic, opts)));

  for (const cmd of dlq.commands) withBrokersOption(cmd);
}
