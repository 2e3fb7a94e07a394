import { createReadStream, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { KafkaClient } from '../client/kafka-client.js';
import { TopicProducer, type Acks, type ProducerRecord } from '../client/producer.js';
import { describeTopic, partitionOf } from '../client/topics.js';
import { CompressionType } from '../protocol/compression/index.js';
import type { RecordHeaderInput } from '../protocol/records/index.js';
import { intParser, keyValueCollector, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { CliError } from './errors.js';
import { byteLines } from './lines.js';
import { plural } from './output.js';
import { startProgress } from './progress.js';

const COMPRESSIONS: Record<string, CompressionType> = {
  none: CompressionType.None,
  gzip: CompressionType.Gzip,
  snappy: CompressionType.Snappy,
  lz4: CompressionType.Lz4,
  zstd: CompressionType.Zstd,
};

const ACKS: Record<string, Acks> = { '0': 0, '1': 1, '-1': -1, all: -1 };

interface ProduceOptions extends BrokerOptions {
  file?: string;
  key?: string;
  keySeparator?: string;
  header?: [string, string][];
  partition?: number;
  acks: string;
  compression: string;
  progress?: boolean;
}

/** How each input line becomes a record. */
function recordMaker(opts: ProduceOptions): (line: Buffer) => ProducerRecord {
  const headers: RecordHeaderInput[] = (opts.header ?? []).map(([key, value]) => ({ key, value: Buffer.from(value) }));
  const base = { headers, partition: opts.partition };
  if (opts.keySeparator !== undefined) {
    const sep = Buffer.from(opts.keySeparator);
    return (line) => {
      const at = line.indexOf(sep);
      // A line without the separator is a message without a key.
      return at < 0 ? { ...base, key: null, value: line } : { ...base, key: line.subarray(0, at), value: line.subarray(at + sep.length) };
    };
  }
  const key = opts.key === undefined ? null : Buffer.from(opts.key);
  return (line) => ({ ...base, key, value: line });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

async function produce(client: KafkaClient, topicName: string, opts: ProduceOptions): Promise<void> {
  const topic = await describeTopic(client, topicName);
  if (opts.partition !== undefined) partitionOf(topic, opts.partition);
  const producer = await TopicProducer.create(client, topic, { acks: ACKS[opts.acks], compression: COMPRESSIONS[opts.compression] });
  const makeRecord = recordMaker(opts);

  let input: AsyncIterable<Buffer>;
  let totalBytes: number | null = null;
  if (opts.file !== undefined) {
    try {
      totalBytes = statSync(opts.file).size;
    } catch (e) {
      throw new CliError(`cannot read ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    input = createReadStream(opts.file);
  } else {
    if (process.stdin.isTTY) process.stderr.write(`type messages for ${topicName}, one per line; end with Ctrl-D\n`);
    input = process.stdin;
  }

  const counts = { messages: 0, bytes: 0, payload: 0 };
  const started = process.hrtime.bigint();
  const progress = startProgress(() => counts, totalBytes, opts.progress === true);
  try {
    for await (const lines of byteLines(input)) {
      for (const line of lines) {
        const record = makeRecord(line);
        await producer.send(record);
        counts.messages++;
        counts.bytes += line.length + 1;
        counts.payload += (record.key?.length ?? 0) + (record.value?.length ?? 0);
      }
    }
    await producer.flush();
  } finally {
    progress.stop();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = seconds > 0 ? Math.round(counts.messages / seconds) : counts.messages;
  process.stderr.write(`produced ${plural(counts.messages, 'message')} (${formatBytes(counts.payload)}) to ${topicName} in ${seconds.toFixed(2)} s (${rate} msg/s)\n`);
}

/** `sluice produce`: lines from stdin or a file, one message each. */
export function registerProduce(program: Command): void {
  const cmd = program
    .command('produce')
    .description('Send lines from stdin (or --file) to a topic, one message per line')
    .argument('<topic>', 'topic to write to')
    .option('-f, --file <path>', 'read lines from this file instead of stdin')
    .addOption(new Option('-k, --key <key>', 'the same key for every message').conflicts('keySeparator'))
    .option('-K, --key-separator <sep>', 'each line is <key><sep><value>; lines without <sep> have no key')
    .option('-H, --header <key=value>', 'a header on every message (repeatable)', keyValueCollector)
    .option('-p, --partition <n>', 'write to this partition (default: by key hash, like Kafka; unkeyed: sticky batches)', intParser(0))
    .addOption(new Option('-a, --acks <acks>', 'acknowledgement: 0 none, 1 leader, -1 (or all) in-sync replicas').choices(Object.keys(ACKS)).default('-1'))
    .addOption(new Option('-z, --compression <codec>', 'compress batches').choices(Object.keys(COMPRESSIONS)).default('none'))
    .option('--progress', 'show progress even when stderr is not a terminal')
    .addHelpText(
      'after',
      `
Examples:
  seq 1 1000 | sluice produce orders
  sluice produce orders --file orders.txt --key-separator : --compression zstd
  echo 'hello' | sluice produce orders --key greeting --header source=cli`,
    );
  withBrokersOption(cmd).action((topic: string, opts: ProduceOptions) => withClient(opts, (client) => produce(client, topic, opts)));
}
