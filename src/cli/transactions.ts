import { InvalidArgumentError, type Command } from 'commander';
import { coordinatorRequest } from '../client/group-offsets.js';
import { check, type KafkaClient } from '../client/kafka-client.js';
import { intParser, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { CliError } from './errors.js';
import { formatFields, formatTable, plural } from './output.js';

interface ListOptions extends BrokerOptions {
  state: string[];
  producerId: bigint[];
  minDurationMs?: number;
}

interface AbortOptions extends BrokerOptions {
  topic: string;
  partition: number;
  producerId?: bigint;
}

function producerIdParser(value: string, previous: bigint[] | undefined): bigint[] {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a producer id (a non-negative integer)');
  return [...(previous ?? []), BigInt(value)];
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Every broker lists the transactions it coordinates. */
async function list(client: KafkaClient, opts: ListOptions): Promise<void> {
  const md = await client.retrying(() => client.metadata([]));
  const body = { stateFilters: opts.state, producerIdFilters: opts.producerId, durationFilter: BigInt(opts.minDurationMs ?? -1) };
  const answers = await Promise.all(md.brokers.map(async (b) => ({ nodeId: b.nodeId, res: await client.call(() => client.node(b.nodeId), 'ListTransactions', body) })));
  const rows: (string | number | bigint)[][] = [];
  for (const { nodeId, res } of answers) {
    check(res.errorCode, `list transactions of broker ${nodeId}`);
    if (res.unknownStateFilters.length > 0) throw new CliError(`unknown transaction state ${res.unknownStateFilters.join(', ')}: states are Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, PrepareEpochFence`);
    for (const t of res.transactionStates) rows.push([t.transactionalId, t.producerId, t.transactionState, nodeId]);
  }
  rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  process.stdout.write(formatTable(['transactional-id', 'producer-id', 'state', 'coordinator'], rows));
}

async function describe(client: KafkaClient, transactionalId: string): Promise<void> {
  const res = await coordinatorRequest(client, transactionalId, 'DescribeTransactions', () => ({ transactionalIds: [transactionalId] }), (r) => r.transactionStates[0]?.errorCode ?? 0, 'transaction');
  const t = res.transactionStates[0];
  check(t.errorCode, `describe transactional id ${transactionalId}`);
  const started = Number(t.transactionStartTimeMs);
  let out = formatFields([
    ['transactional id', t.transactionalId],
    ['state', t.transactionState],
    ['producer id', t.producerId],
    ['producer epoch', t.producerEpoch],
    ['timeout ms', t.transactionTimeoutMs],
    ['started', started >= 0 ? new Date(started).toISOString() : '-'],
    ['open for', started >= 0 ? `${Date.now() - started} ms` : '-'],
  ]);
  const partitions = t.topics.flatMap((x) => x.partitions.map((p) => [x.topic, p]));
  if (partitions.length > 0) out += '\n' + formatTable(['topic', 'partition'], partitions);
  process.stdout.write(out);
}

/**
 * Ends a hanging transaction in one partition, as Kafka's `kafka-transactions.sh abort` does:
 * the partition's leader names the producers with a transaction open there (DescribeProducers),
 * and gets an ABORT marker for each (WriteTxnMarkers), which releases the last stable offset.
 */
async function abort(client: KafkaClient, opts: AbortOptions): Promise<void> {
  const where = `${opts.topic}-${opts.partition}`;
  const leader = () => client.leader(opts.topic, opts.partition);
  const described = await client.call(leader, 'DescribeProducers', { topics: [{ name: opts.topic, partitionIndexes: [opts.partition] }] });
  const p = described.topics[0]?.partitions[0];
  if (!p) throw new CliError(`the leader of ${where} did not describe it`);
  check(p.errorCode, `describe producers of ${where}`, p.errorMessage);
  const open = p.activeProducers.filter((x) => x.currentTxnStartOffset >= 0n && (opts.producerId === undefined || x.producerId === opts.producerId));
  if (open.length === 0) throw new CliError(`no transaction is open in ${where}${opts.producerId === undefined ? '' : ` for producer ${opts.producerId}`}`);
  for (const x of open) {
    const res = await client.call(leader, 'WriteTxnMarkers', {
      markers: [
        {
          producerId: x.producerId,
          producerEpoch: x.producerEpoch,
          transactionResult: false,
          coordinatorEpoch: x.coordinatorEpoch,
          topics: [{ name: opts.topic, partitionIndexes: [opts.partition] }],
        },
      ],
    });
    check(res.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? 0, `abort the transaction of producer ${x.producerId} in ${where}`);
    console.log(`aborted the transaction of producer ${x.producerId} (epoch ${x.producerEpoch}) in ${where}, open since offset ${x.currentTxnStartOffset}`);
  }
  process.stderr.write(`${plural(open.length, 'transaction')} aborted\n`);
}

/** `sluice transactions ...`: what transaction coordinators and partitions hold. */
export function registerTransactions(program: Command): void {
  const txn = program.command('transactions').description('List and describe transactions, and abort hanging ones');
  const sub = (name: string, description: string): Command => txn.command(name).description(description);

  sub('list', 'List transactional ids with their state and coordinator')
    .option('--state <state>', 'only this state (repeatable): Ongoing, PrepareCommit, CompleteAbort...', collect, [])
    .option('--producer-id <id>', 'only this producer id (repeatable)', producerIdParser, [])
    .option('--min-duration-ms <ms>', 'only transactions open longer than this', intParser(0))
    .action((opts: ListOptions) => withClient(opts, (c) => list(c, opts)));

  sub('describe', "Show a transactional id's state, producer, timeout and the partitions of its open transaction")
    .argument('<transactional-id>', 'transactional id')
    .action((id: string, opts: BrokerOptions) => withClient(opts, (c) => describe(c, id)));

  sub('abort', 'Abort the transactions left open in a partition (a hanging transaction holding back read_committed consumers)')
    .requiredOption('-t, --topic <topic>', 'the topic')
    .requiredOption('-p, --partition <n>', 'the partition', intParser(0))
    .option('--producer-id <id>', 'only the transaction of this producer', (v: string) => producerIdParser(v, [])[0])
    .addHelpText('after', '\nFind hanging transactions with `sluice transactions list --min-duration-ms 900000`.')
    .action((opts: AbortOptions) => withClient(opts, (c) => abort(c, opts)));

  for (const cmd of txn.commands) withBrokersOption(cmd);
}
