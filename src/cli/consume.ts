import { Option, type Command } from 'commander';
import { TopicFetcher, type PartitionFetch } from '../client/fetcher.js';
import { GroupMember } from '../client/group-consumer.js';
import type { KafkaClient } from '../client/kafka-client.js';
import { EARLIEST, LATEST, listOffsets } from '../client/offsets.js';
import { describeTopic, partitionOf, type TopicInfo } from '../client/topics.js';
import { intParser, offsetParser, timestampParser, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { CliError, UsageError } from './errors.js';
import { formatRecord, RECORD_FORMATS, type RecordFormat } from './record-format.js';
import { OutputClosed, writeOut } from './stdout.js';

interface ConsumeOptions extends BrokerOptions {
  partition?: number;
  group?: string;
  fromBeginning?: boolean;
  offset?: bigint;
  timestamp?: bigint;
  format: RecordFormat;
  follow?: boolean;
  maxMessages?: number;
}

/** How often a group member commits what it has written out. */
const COMMIT_INTERVAL_MS = 5000;

/**
 * Where reading starts for partitions without a committed offset: an explicit offset, the first
 * offset at a time, the beginning, or (Kafka's default) the end.
 */
async function startOffsets(client: KafkaClient, topic: TopicInfo, partitions: number[], opts: ConsumeOptions): Promise<Map<number, bigint>> {
  if (partitions.length === 0) return new Map();
  if (opts.offset !== undefined) {
    const [earliest, latest] = await Promise.all([listOffsets(client, topic, partitions, EARLIEST), listOffsets(client, topic, partitions, LATEST)]);
    for (const p of partitions) {
      const [first, end] = [earliest.get(p)!, latest.get(p)!];
      // The end itself is fine: reading waits there for the next message.
      if (opts.offset < first || opts.offset > end) {
        const holds = end > first ? `it holds offsets ${first} to ${end - 1n}` : `it is empty, its next offset is ${end}`;
        throw new CliError(`offset ${opts.offset} is out of range for ${topic.name}-${p}: ${holds}`);
      }
    }
    return new Map(partitions.map((p) => [p, opts.offset!]));
  }
  if (opts.timestamp !== undefined) {
    const [atTime, latest] = await Promise.all([listOffsets(client, topic, partitions, opts.timestamp), listOffsets(client, topic, partitions, LATEST)]);
    // No message at or after that time: start at the end.
    return new Map(partitions.map((p) => [p, atTime.get(p)! >= 0n ? atTime.get(p)! : latest.get(p)!]));
  }
  return listOffsets(client, topic, partitions, opts.fromBeginning ? EARLIEST : LATEST);
}

/**
 * Reads a topic and writes its records to stdout: either fixed partitions, or as a member of a
 * consumer group, which decides the partitions and remembers the positions between runs.
 */
class Consumer {
  private readonly positions = new Map<number, bigint>();
  private readonly fetcher: TopicFetcher;
  private remaining: number;
  private stopping = false;
  private lastCommit = Date.now();
  written = 0;

  constructor(
    private readonly client: KafkaClient,
    private readonly topic: TopicInfo,
    private readonly opts: ConsumeOptions,
    private readonly member: GroupMember | null,
    /** Without --follow: the end offsets seen at the start, where reading stops. */
    private readonly stopAt: Map<number, bigint> | null,
  ) {
    this.fetcher = new TopicFetcher(client, topic);
    this.remaining = opts.maxMessages ?? Infinity;
  }

  stop(): void {
    this.stopping = true;
  }

  async run(): Promise<void> {
    try {
      await this.assign();
      while (!this.stopping && this.remaining > 0) {
        if (this.member?.needsRejoin) {
          await this.commit();
          await this.assign();
          continue;
        }
        const active = new Map([...this.positions].filter(([p, offset]) => this.stopAt === null || offset < this.stopAt.get(p)!));
        if (active.size === 0) {
          if (this.stopAt !== null) break;
          // A group member with no partitions waits for a rebalance to bring some.
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
        const fetched = await this.fetcher.fetch(active);
        const out: Buffer[] = [];
        for (const f of fetched) await this.take(f, out);
        if (out.length > 0) await writeOut(Buffer.concat(out));
        if (this.member && Date.now() - this.lastCommit >= COMMIT_INTERVAL_MS) await this.commit();
      }
    } catch (e) {
      // A closed stdout (`| head`) is a normal end: what was written stays committed.
      if (!(e instanceof OutputClosed)) throw e;
    } finally {
      await this.finish();
    }
  }

  /** The partitions to read and where to start: fixed ones, or what the group assigns. */
  private async assign(): Promise<void> {
    this.positions.clear();
    if (!this.member) {
      const partitions = this.opts.partition !== undefined ? [this.opts.partition] : this.topic.partitions.map((p) => p.partition);
      for (const [p, offset] of await startOffsets(this.client, this.topic, partitions, this.opts)) this.positions.set(p, offset);
      return;
    }
    const assigned = (await this.member.join()).find((t) => t.topic === this.topic.name)?.partitions ?? [];
    const committed = await this.member.committed([{ topic: this.topic.name, partitions: assigned }]);
    const uncommitted: number[] = [];
    for (const p of assigned) {
      const c = committed.find((o) => o.partition === p)?.offset ?? -1n;
      if (c >= 0n) this.positions.set(p, c);
      else uncommitted.push(p);
    }
    for (const [p, offset] of await startOffsets(this.client, this.topic, uncommitted, this.opts)) this.positions.set(p, offset);
  }

  /** Formats one partition's records into `out`, up to --max-messages and the stop offset. */
  private async take(f: PartitionFetch, out: Buffer[]): Promise<void> {
    if (!this.positions.has(f.partition)) return;
    if (f.outOfRange) {
      // The position left the log (retention removed it, or the log was truncated): go to the
      // nearest end, as Kafka's auto.offset.reset would.
      const [earliest, latest] = await Promise.all([EARLIEST, LATEST].map(async (at) => (await listOffsets(this.client, this.topic, [f.partition], at)).get(f.partition)!));
      this.positions.set(f.partition, this.positions.get(f.partition)! < earliest ? earliest : latest);
      return;
    }
    const end = this.stopAt?.get(f.partition);
    let next = f.nextOffset;
    for (const r of f.records) {
      if (this.remaining <= 0 || (end !== undefined && r.offset >= end)) {
        next = r.offset;
        break;
      }
      out.push(formatRecord(r, this.opts.format));
      this.remaining--;
      this.written++;
    }
    this.positions.set(f.partition, next);
  }

  private async commit(): Promise<void> {
    if (!this.member) return;
    this.lastCommit = Date.now();
    const ok = await this.member.commit([...this.positions].map(([partition, offset]) => ({ topic: this.topic.name, partition, offset })));
    if (!ok) process.stderr.write(`sluice consume: group ${this.member.groupId} rebalanced before the commit; the last records may be read again\n`);
  }

  private async finish(): Promise<void> {
    if (!this.member) return;
    try {
      if (!this.member.needsRejoin) await this.commit();
    } finally {
      await this.member.leave();
    }
  }
}

function checkOptions(opts: ConsumeOptions): void {
  const starts = [opts.fromBeginning && '--from-beginning', opts.offset !== undefined && '--offset', opts.timestamp !== undefined && '--timestamp'].filter(Boolean);
  if (starts.length > 1) throw new UsageError(`${starts.join(' and ')} cannot be used together`);
  if (opts.offset !== undefined && opts.partition === undefined) throw new UsageError('--offset needs --partition');
  if (opts.group !== undefined && (opts.offset !== undefined || opts.timestamp !== undefined)) {
    throw new UsageError('--group starts at the committed offsets; move them with `sluice group reset-offsets`');
  }
}

async function consume(client: KafkaClient, topicName: string, opts: ConsumeOptions): Promise<void> {
  const topic = await describeTopic(client, topicName);
  if (opts.partition !== undefined) partitionOf(topic, opts.partition);
  const stopAt = opts.follow ? null : await listOffsets(client, topic, null, LATEST);
  const member = opts.group === undefined ? null : new GroupMember(client, { groupId: opts.group, topics: [topicName] });
  const consumer = new Consumer(client, topic, opts, member, stopAt);

  let interrupted = false;
  const onSignal = (): void => {
    // A second Ctrl-C does not wait for the commit and the leave.
    if (interrupted) process.exit(130);
    interrupted = true;
    consumer.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await consumer.run();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // Nothing at all may be surprising: say why, on stderr, which scripts do not parse.
  if (consumer.written > 0 || interrupted || stopAt === null) return;
  if (opts.group !== undefined) {
    process.stderr.write(`no new messages in ${topicName} for group ${opts.group}; to read again, move its offsets with \`sluice group reset-offsets\`\n`);
  } else if (!opts.fromBeginning && opts.offset === undefined && opts.timestamp === undefined) {
    process.stderr.write(`no new messages in ${topicName}; pass --from-beginning to read earlier ones, or --follow to wait\n`);
  }
}

/** `sluice consume`: a topic's records to stdout. */
export function registerConsume(program: Command): void {
  const cmd = program
    .command('consume')
    .description('Print the messages of a topic, by partition or as a member of a consumer group')
    .argument('<topic>', 'topic to read')
    .addOption(new Option('-p, --partition <n>', 'read this partition only (default: all)').argParser(intParser(0)).conflicts('group'))
    .option('-g, --group <group>', 'read as a member of this consumer group, from its committed offsets, committing as it goes')
    .option('--from-beginning', 'start at the oldest message (with --group: where the group has no committed offset)')
    .option('-o, --offset <n>', 'start at this offset (with --partition)', offsetParser)
    .option('-t, --timestamp <time>', 'start at the first message at or after this time (ms since the epoch, or ISO 8601)', timestampParser)
    .addOption(new Option('-F, --format <format>', 'raw: values; text: key<TAB>value; json: one object per message').choices(RECORD_FORMATS).default('text'))
    .option('-f, --follow', 'keep waiting for new messages (default: stop at the end offsets seen at the start)')
    .option('-n, --max-messages <n>', 'stop after this many messages', intParser(1))
    .addHelpText(
      'after',
      `
Without --from-beginning, --offset or --timestamp, reading starts at the end, as Kafka's
consumers do: add --follow to wait for new messages. A --group starts where it left off.

Examples:
  sluice consume orders --from-beginning
  sluice consume orders --partition 2 --offset 100 --max-messages 10 --format json
  sluice consume orders --group billing --follow`,
    );
  withBrokersOption(cmd).action(async (topic: string, opts: ConsumeOptions) => {
    checkOptions(opts);
    await withClient(opts, (client) => consume(client, topic, opts));
  });
}
