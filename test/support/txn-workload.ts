import { fileURLToPath } from 'node:url';
import type { ResponseOf } from '../../src/client/connection.js';
import { coordinatorRequest } from '../../src/client/group-offsets.js';
import { check, KafkaClient, KafkaError } from '../../src/client/kafka-client.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { TopicProducer } from '../../src/client/producer.js';
import { describeTopic } from '../../src/client/topics.js';
import { assertSucceeded, runCommand, startCommand, type CommandResult, type RunningCommand } from './commands.js';
import { eventually } from './librdkafka-groups.js';
import { PYTHON } from './tools.js';

/**
 * Transactional workloads through confluent-kafka (test/support/python/txn_workload.py) and an
 * exactly-once checker of what a read_committed consumer then reads.
 */

const SCRIPT = fileURLToPath(new URL('./python/txn_workload.py', import.meta.url));

export type TxnOutcome = 'committed' | 'aborted' | 'unknown';

/** One transaction as txn_workload.py reports it, once its outcome is known. */
export interface TxnReport {
  txn: number;
  outcome: TxnOutcome;
  records: number;
  /** Where each record of a committed transaction was acknowledged: [partition, offset], by record index. */
  acks?: ([number, number] | null)[];
  /** Wall clock: when it began and when its outcome was known. */
  ms: [number, number];
  commitMs?: number;
  error?: string;
}

export interface TxnProducerOptions {
  bootstrap: string;
  topic: string;
  partitions: number;
  transactionalId: string;
  /** What its values name it by (default the transactional id). */
  label?: string;
  /** Records per transaction (default 6). */
  records?: number;
  /** Transactions to run; without it, until finish(). */
  count?: number;
  /** The first transaction's number (default 0): a producer taking over from one killed goes on after it. */
  first?: number;
  /** Every N-th transaction is aborted. */
  abortEvery?: number;
  /** send_offsets_to_transaction for this group in each transaction. */
  offsetsGroup?: string;
  pauseMs?: number;
  transactionTimeoutMs?: number;
}

/** A running `txn_workload.py produce`: transactions one after another. */
export class TxnProducer {
  readonly txns: TxnReport[] = [];
  /** Why a new producer took over the transactional id, each time one did. */
  readonly reinits: string[] = [];
  summary: Record<string, number> | null = null;
  private readonly command: RunningCommand;

  constructor(
    readonly options: TxnProducerOptions,
    timeoutMs = 120_000,
  ) {
    const o = options;
    const args = ['-B', SCRIPT, 'produce', '--bootstrap', o.bootstrap, '--topic', o.topic, '--partitions', String(o.partitions), '--transactional-id', o.transactionalId];
    if (o.label !== undefined) args.push('--label', o.label);
    if (o.records !== undefined) args.push('--records', String(o.records));
    if (o.count !== undefined) args.push('--count', String(o.count));
    if (o.first !== undefined) args.push('--first', String(o.first));
    if (o.abortEvery !== undefined) args.push('--abort-every', String(o.abortEvery));
    if (o.offsetsGroup !== undefined) args.push('--offsets-group', o.offsetsGroup);
    if (o.pauseMs !== undefined) args.push('--pause-ms', String(o.pauseMs));
    if (o.transactionTimeoutMs !== undefined) args.push('--transaction-timeout-ms', String(o.transactionTimeoutMs));
    this.command = startCommand(PYTHON, args, {
      timeoutMs,
      ...(o.count !== undefined ? { input: '' } : {}),
      onLine: (line) => {
        const parsed = JSON.parse(line) as TxnReport & { reinit?: string; summary?: Record<string, number> };
        if (parsed.reinit !== undefined) this.reinits.push(parsed.reinit);
        else if (parsed.summary !== undefined) this.summary = parsed.summary;
        else this.txns.push(parsed);
      },
    });
  }

  get label(): string {
    return this.options.label ?? this.options.transactionalId;
  }

  get running(): boolean {
    return this.command.child.exitCode === null && this.command.child.signalCode === null;
  }

  committed(since = 0): TxnReport[] {
    return this.txns.filter((t) => t.outcome === 'committed' && t.ms[0] >= since);
  }

  /** Waits until `count` transactions that began at `since` or later have committed. */
  async untilCommitted(count: number, timeoutMs: number, since = 0): Promise<void> {
    await eventually(
      `${count} transactions of ${this.label} committed`,
      () => {
        if (!this.running) throw new Error(`txn_workload.py of ${this.label} exited\nstderr: ${this.command.stderr().slice(-3000)}`);
        return this.committed(since).length >= count;
      },
      timeoutMs,
      () => `${this.label}: ${this.txns.length} transactions reported (${this.committed().length} committed), reinits ${JSON.stringify(this.reinits)}\nstderr (end): ${this.command.stderr().slice(-2000)}`,
    );
  }

  /** Closes its stdin: it ends the transaction under way and stops; fails unless it exited cleanly. */
  async finish(): Promise<CommandResult> {
    this.command.child.stdin!.end();
    const result = await this.command.result;
    assertSucceeded(result, `txn_workload.py produce (${this.label})`);
    return result;
  }

  stderr(): string {
    return this.command.stderr();
  }

  kill(): Promise<void> {
    return this.command.kill();
  }
}

export interface ReadRecord {
  p: number;
  o: number;
  v: string | null;
}

/**
 * Every record of `topic` from the start, through confluent-kafka with `isolation`, until each
 * partition has yielded a record whose value is `until` (see writeSentinels).
 */
export async function readUntil(bootstrap: string, topic: string, isolation: 'read_committed' | 'read_uncommitted', until: string, timeoutS = 40): Promise<ReadRecord[]> {
  const args = ['-B', SCRIPT, 'read', '--bootstrap', bootstrap, '--topic', topic, '--isolation', isolation, '--until', until, '--timeout', String(timeoutS)];
  const r = await runCommand(PYTHON, args, { timeoutMs: (timeoutS + 30) * 1000 });
  assertSucceeded(r, `txn_workload.py read ${topic} (${isolation})`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{"p"'))
    .map((l) => JSON.parse(l) as ReadRecord);
}

/**
 * One plain (non-transactional, acks=all) record of value `value` in each of
 * `partitions` partitions: a read_committed consumer reaches it only once every transaction
 * before it in its partition has ended, so reading up to it proves the last stable offset moved
 * past them all.
 */
export async function writeSentinels(brokers: string[], topic: string, partitions: number, value: string): Promise<void> {
  // Sluice's own client: kafkajs refuses a whole Metadata answer in which any partition has no leader.
  const client = new KafkaClient({ brokers, clientId: 'sentinels', retries: 10 });
  try {
    // A retry after a failure may write a sentinel twice: the reader stops at the first.
    await client.retrying(async () => {
      const producer = await TopicProducer.create(client, await describeTopic(client, topic), { acks: -1, lingerMs: 0 });
      for (let partition = 0; partition < partitions; partition++) await producer.send({ partition, key: null, value: Buffer.from(value) });
      await producer.flush();
    });
  } finally {
    await client.close();
  }
}

/** "<label>:<txn>:<record>" (padded with dots) as [label, txn, record], or null for other values. */
function parseValue(v: string | null): [string, number, number] | null {
  const m = v === null ? null : /^(.+):(\d+):(\d+)\.*$/.exec(v);
  return m ? [m[1], Number(m[2]), Number(m[3])] : null;
}

/**
 * What breaks exactly-once in a read_committed read of the transactions of producers
 * `label → reports`: every record of a committed transaction read exactly once (at the offset it
 * was acknowledged at, when known), none of an aborted one, all or none of one whose commit
 * ended in doubt, and nothing that no reported transaction wrote. Empty when all holds.
 */
export function exactlyOnceViolations(producers: ReadonlyMap<string, readonly TxnReport[]>, read: readonly ReadRecord[]): string[] {
  const problems: string[] = [];
  /** label → txn → record index → where it was read. */
  const seen = new Map<string, Map<number, Map<number, { p: number; o: number }[]>>>();
  for (const r of read) {
    const parsed = parseValue(r.v);
    if (!parsed || !producers.has(parsed[0])) continue;
    const [label, txn, j] = parsed;
    const byTxn = seen.get(label) ?? seen.set(label, new Map()).get(label)!;
    const byRecord = byTxn.get(txn) ?? byTxn.set(txn, new Map()).get(txn)!;
    const at = byRecord.get(j) ?? byRecord.set(j, []).get(j)!;
    at.push({ p: r.p, o: r.o });
  }
  for (const [label, reports] of producers) {
    const byTxn = seen.get(label) ?? new Map<number, Map<number, { p: number; o: number }[]>>();
    const reported = new Set<number>();
    for (const t of reports) {
      reported.add(t.txn);
      const got = byTxn.get(t.txn) ?? new Map<number, { p: number; o: number }[]>();
      const name = `${label} transaction ${t.txn} (${t.outcome})`;
      for (const [j, at] of got) {
        if (j >= t.records) problems.push(`${name}: record ${j} read, but it had ${t.records}`);
        if (at.length > 1) problems.push(`${name}: record ${j} read ${at.length} times, at ${at.map((a) => `${a.p}:${a.o}`).join(', ')}`);
      }
      const readCount = [...got.keys()].filter((j) => j < t.records).length;
      if (t.outcome === 'aborted' && readCount > 0) problems.push(`${name}: ${readCount} of its records visible to read_committed`);
      if (t.outcome === 'committed' && readCount < t.records) problems.push(`${name}: only ${readCount} of its ${t.records} records visible`);
      if (t.outcome === 'unknown' && readCount > 0 && readCount < t.records) problems.push(`${name}: ${readCount} of its ${t.records} records visible: not all or nothing`);
      if (t.outcome === 'committed' && t.acks) {
        t.acks.forEach((ack, j) => {
          const at = got.get(j);
          if (ack && at && !at.some((a) => a.p === ack[0] && a.o === ack[1])) problems.push(`${name}: record ${j} acknowledged at ${ack[0]}:${ack[1]} but read at ${at.map((a) => `${a.p}:${a.o}`).join(', ')}`);
        });
      }
    }
    for (const txn of byTxn.keys()) if (!reported.has(txn)) problems.push(`${label} transaction ${txn}: read, but never reported`);
  }
  return problems;
}

/**
 * A transactional producer made of raw requests through Sluice's own client, for tests that
 * need each step when they say: InitProducerId, AddPartitionsToTxn, Produce and EndTxn, each
 * sent once to the broker that Metadata or FindCoordinator names now (coordinator moves are
 * retried). Records are "label:txn:j" values, as txn_workload.py writes them.
 */
export class RawTxnProducer {
  private readonly sequences = new Map<string, number>();

  private constructor(
    private readonly client: KafkaClient,
    readonly transactionalId: string,
    readonly producerId: bigint,
    readonly producerEpoch: number,
  ) {}

  static async init(client: KafkaClient, transactionalId: string, transactionTimeoutMs = 60_000): Promise<RawTxnProducer> {
    const res = await coordinatorRequest(
      client,
      transactionalId,
      'InitProducerId',
      () => ({ transactionalId, transactionTimeoutMs, producerId: -1n, producerEpoch: -1 }),
      (r) => (r.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : r.errorCode),
      'transaction',
    );
    if (res.errorCode !== ErrorCode.NONE) throw new KafkaError(res.errorCode, `InitProducerId of ${transactionalId}`);
    return new RawTxnProducer(client, transactionalId, res.producerId, res.producerEpoch);
  }

  /** AddPartitionsToTxn at the coordinator; throws unless every partition joined. */
  async add(partitions: { topic: string; partition: number }[]): Promise<void> {
    const topics = new Map<string, number[]>();
    for (const p of partitions) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
    const byTopic = [...topics].map(([name, ids]) => ({ name, partitions: ids }));
    const errorOf = (r: ResponseOf<'AddPartitionsToTxn'>): number =>
      [...r.resultsByTopicV3AndBelow, ...r.resultsByTransaction.flatMap((t) => t.topicResults)].flatMap((t) => t.resultsByPartition).find((p) => p.partitionErrorCode !== 0)?.partitionErrorCode ??
      r.errorCode;
    const p = { transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.producerEpoch };
    const res = await coordinatorRequest(
      this.client,
      this.transactionalId,
      'AddPartitionsToTxn',
      // v4 and later carry a batch of transactions; a producer's own request is one of them.
      (v) =>
        v >= 4
          ? { transactions: [{ ...p, verifyOnly: false, topics: byTopic }], v3AndBelowTransactionalId: '', v3AndBelowProducerId: 0n, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [] }
          : { transactions: [], v3AndBelowTransactionalId: p.transactionalId, v3AndBelowProducerId: p.producerId, v3AndBelowProducerEpoch: p.producerEpoch, v3AndBelowTopics: byTopic },
      (r) => (errorOf(r) === ErrorCode.CONCURRENT_TRANSACTIONS ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : errorOf(r)),
      'transaction',
    );
    check(errorOf(res), `AddPartitionsToTxn of ${this.transactionalId}`);
  }

  /** One transactional batch of `values` to the partition's leader (acks=all); throws on an error. */
  async produce(topic: string, partition: number, values: string[]): Promise<void> {
    const key = `${topic}-${partition}`;
    const baseSequence = this.sequences.get(key) ?? 0;
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
      producerId: this.producerId,
      producerEpoch: this.producerEpoch,
      baseSequence,
      transactional: true,
    });
    const res = await (await this.client.leader(topic, partition)).send('Produce', {
      transactionalId: this.transactionalId,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
    });
    check(res.responses[0].partitionResponses[0].errorCode, `Produce to ${key}`);
    this.sequences.set(key, baseSequence + values.length);
  }

  /** EndTxn at the coordinator: its error code (NONE once the ending is written). */
  async end(commit: boolean): Promise<number> {
    const res = await coordinatorRequest(
      this.client,
      this.transactionalId,
      'EndTxn',
      () => ({ transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.producerEpoch, committed: commit }),
      (r) => r.errorCode,
      'transaction',
    );
    return res.errorCode;
  }
}
