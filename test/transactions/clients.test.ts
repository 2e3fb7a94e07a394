import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Admin, type Consumer, type Producer, type Transaction } from 'kafkajs';
import { TxnState } from '../../src/coordinator/transactions/transaction-metadata.js';
import { assertSucceeded, runCommand, startCommand, type RunningCommand } from '../support/commands.js';
import { rejection } from '../support/kafkajs-errors.js';
import { eventually } from '../support/librdkafka-groups.js';
import { findNodeForPlatformatic, platformaticNodeOrSkip, runPlatformaticScript } from '../support/platformatic-runner.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { confluentKafka, kafkaPython, kcat, PYTHON, skipUnlessPresent } from '../support/tools.js';

/**
 * Transactions driven by real clients against one in-process broker: kafkajs in this process;
 * confluent-kafka, kcat and @platformatic/kafka in child processes (never run synchronously:
 * that would stop the broker's event loop).
 */

/** transaction.max.timeout.ms of the broker: kafkajs's default transaction timeout, exactly. */
const MAX_TXN_TIMEOUT_MS = 60_000;

let broker: InProcessBroker;
let kafka: Kafka;
let admin: Admin;
/** Looked up before the broker starts: the lookup runs `node -p` synchronously. */
const platformaticNode = findNodeForPlatformatic();

before(async () => {
  broker = await startTestBroker({
    'group.initial.rebalance.delay.ms': '0',
    'transaction.state.log.num.partitions': '3',
    'offsets.topic.num.partitions': '3',
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200',
    'transaction.max.timeout.ms': String(MAX_TXN_TIMEOUT_MS),
  });
  kafka = new Kafka({ clientId: 'txn-clients', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { initialRetryTime: 50, retries: 12 } });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
  await broker?.stop();
});

async function createTopic(topic: string, numPartitions = 1): Promise<void> {
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true }), true, `${topic} created`);
}

/** A transactional kafkajs producer, connected. */
async function txnProducer(transactionalId: string, transactionTimeout?: number): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, ...(transactionTimeout ? { transactionTimeout } : {}) });
  await producer.connect();
  return producer;
}

async function inTransaction(producer: Producer, topic: string, messages: { partition: number; value: string }[], end: 'commit' | 'abort'): Promise<void> {
  const txn = await producer.transaction();
  await txn.send({ topic, messages: messages.map((m) => ({ ...m, key: m.value })) });
  await (end === 'commit' ? txn.commit() : txn.abort());
}

/** Waits until the coordinator has finished the last transaction of `transactionalId` (its markers are all written). */
async function transactionEnded(transactionalId: string): Promise<void> {
  await eventually(
    `the last transaction of ${transactionalId} complete`,
    () => {
      const md = broker.broker.transactions.describe(transactionalId);
      return typeof md !== 'number' && (md.state === TxnState.CompleteCommit || md.state === TxnState.CompleteAbort || md.state === TxnState.Empty);
    },
    10_000,
  );
}

interface Read {
  p: number;
  o: number;
  v: string;
}

/** A kafkajs group member reading a topic from the beginning, with either isolation level. */
class Reader {
  readonly records: Read[] = [];
  private constructor(
    private readonly consumer: Consumer,
    readonly what: string,
  ) {}

  static async start(topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<Reader> {
    const groupId = `reader-${topic}-${isolation}`;
    const consumer = kafka.consumer({ groupId, readUncommitted: isolation === 'read_uncommitted', maxWaitTimeInMs: 100, retry: { restartOnFailure: async () => false } });
    const reader = new Reader(consumer, `${isolation} reader of ${topic}`);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => void reader.records.push({ p: partition, o: Number(message.offset), v: message.value!.toString() }),
    });
    return reader;
  }

  values(partition?: number): string[] {
    return this.records.filter((r) => partition === undefined || r.p === partition).map((r) => r.v);
  }

  async until(...values: string[]): Promise<void> {
    await eventually(`${this.what} read ${values.join(', ')}`, () => values.every((v) => this.values().includes(v)), 15_000, () => `read ${JSON.stringify(this.values())}`);
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('kafkajs transactions', () => {
  test('committed records are read read_committed, aborted ones only read_uncommitted; an open transaction holds read_committed readers back', async () => {
    const topic = 'kj-commit-abort';
    await createTopic(topic, 2);
    const producer = await txnProducer('kj-commit-abort');
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    const readers: Reader[] = [];
    try {
      await inTransaction(producer, topic, [{ partition: 0, value: 'c1' }, { partition: 1, value: 'c2' }], 'commit');
      await inTransaction(producer, topic, [{ partition: 0, value: 'a1' }, { partition: 1, value: 'a2' }], 'abort');
      await inTransaction(producer, topic, [{ partition: 0, value: 'c3' }, { partition: 0, value: 'end-0' }, { partition: 1, value: 'end-1' }], 'commit');

      const committed = await Reader.start(topic, 'read_committed');
      const uncommitted = await Reader.start(topic, 'read_uncommitted');
      readers.push(committed, uncommitted);
      await committed.until('end-0', 'end-1');
      await uncommitted.until('end-0', 'end-1');
      assert.deepEqual(committed.values(0), ['c1', 'c3', 'end-0']);
      assert.deepEqual(committed.values(1), ['c2', 'end-1']);
      assert.deepEqual(uncommitted.values(0), ['c1', 'a1', 'c3', 'end-0']);
      assert.deepEqual(uncommitted.values(1), ['c2', 'a2', 'end-1']);
      // Offsets count the markers too: c1 (0), its commit marker (1), a1 (2), its abort marker (3), c3 (4).
      assert.deepEqual(
        uncommitted.records.filter((r) => r.p === 0).map((r) => r.o),
        [0, 2, 4, 5],
      );

      // An open transaction: what comes after it in the partition waits, read_committed, until it ends.
      const open = await producer.transaction();
      await open.send({ topic, messages: [{ partition: 0, key: 'pending', value: 'pending' }] });
      await plain.send({ topic, messages: [{ partition: 0, key: 'plain', value: 'plain' }] });
      await uncommitted.until('pending', 'plain');
      await sleep(1000);
      assert.deepEqual(committed.values(0), ['c1', 'c3', 'end-0'], 'nothing past the last stable offset is read read_committed');
      // kafkajs's ListOffsets asks read_committed: the latest offset is the last stable one, where the open transaction begins.
      const latest = async (): Promise<string | undefined> => (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.high;
      assert.equal(await latest(), '7', 'the last stable offset is the first offset of the open transaction');
      await open.commit();
      await committed.until('pending', 'plain');
      assert.deepEqual(committed.values(0), ['c1', 'c3', 'end-0', 'pending', 'plain']);
      // pending (7), plain (8), the commit marker (9).
      assert.equal(await latest(), '10');
    } finally {
      for (const r of readers) await r.stop();
      await plain.disconnect();
      await producer.disconnect();
    }
  });

  test('sendOffsets: the group offsets are visible after commit only, and dropped by an abort', async () => {
    const input = 'kj-offsets-in';
    const output = 'kj-offsets-out';
    const groupId = 'kj-offsets-group';
    await createTopic(input);
    await createTopic(output);
    const producer = await txnProducer('kj-offsets');
    const offsetOf = async (): Promise<string> => {
      const [t] = await admin.fetchOffsets({ groupId, topics: [input] });
      return t.partitions.find((p) => p.partition === 0)!.offset;
    };
    try {
      let txn: Transaction = await producer.transaction();
      await txn.send({ topic: output, messages: [{ partition: 0, value: 'out-1' }] });
      await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }] }] });
      assert.equal(await offsetOf(), '-1', 'offsets of an open transaction are not committed');
      await txn.commit();
      await eventually('the committed offset 5', async () => (await offsetOf()) === '5', 10_000);

      txn = await producer.transaction();
      await txn.send({ topic: output, messages: [{ partition: 0, value: 'out-2' }] });
      await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '9' }] }] });
      assert.equal(await offsetOf(), '5');
      await txn.abort();
      await transactionEnded('kj-offsets');
      assert.equal(await offsetOf(), '5', 'the aborted transaction\'s offsets are dropped');
      assert.equal(broker.broker.groups.committed(groupId, input, 0)?.offset, 5);

      // And a later commit of the same group goes through as usual.
      txn = await producer.transaction();
      await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '12' }] }] });
      await txn.commit();
      await eventually('the committed offset 12', async () => (await offsetOf()) === '12', 10_000);
    } finally {
      await producer.disconnect();
    }
  });

  test('a second producer with the same transactional id fences the first; the zombie\'s open transaction is never read_committed', async () => {
    const topic = 'kj-zombie';
    await createTopic(topic, 2);
    const zombie = await txnProducer('kj-zombie');
    const successor = await txnProducer('kj-zombie');
    const readers: Reader[] = [];
    try {
      const old = await zombie.transaction();
      await old.send({ topic, messages: [{ partition: 0, value: 'zombie-1' }] });

      // Its InitProducerId aborts the zombie's open transaction and bumps the epoch.
      const txn = await successor.transaction();
      await txn.send({ topic, messages: [{ partition: 0, value: 'successor-1' }, { partition: 1, value: 'successor-2' }] });

      // The zombie is fenced wherever it goes (kafkajs speaks versions older than KIP-588's
      // PRODUCER_FENCED: INVALID_PRODUCER_EPOCH is how it is told): a partition it had (Produce),
      // a new one (AddPartitionsToTxn), its group's offsets (AddOffsetsToTxn), the end of its
      // transaction (EndTxn).
      const fenced = async (what: string, call: Promise<unknown>): Promise<void> => {
        const types = await rejection(call);
        assert.ok(types.includes('INVALID_PRODUCER_EPOCH'), `${what} of the zombie: ${types.join(', ')}`);
      };
      await fenced('Produce', old.send({ topic, messages: [{ partition: 0, value: 'zombie-2' }] }));
      await fenced('AddPartitionsToTxn', old.send({ topic, messages: [{ partition: 1, value: 'zombie-3' }] }));
      await fenced('AddOffsetsToTxn', old.sendOffsets({ consumerGroupId: 'kj-zombie-group', topics: [{ topic, partitions: [{ partition: 0, offset: '1' }] }] }));
      await fenced('EndTxn', old.commit());
      await txn.commit();

      const committed = await Reader.start(topic, 'read_committed');
      const uncommitted = await Reader.start(topic, 'read_uncommitted');
      readers.push(committed, uncommitted);
      await committed.until('successor-1', 'successor-2');
      await uncommitted.until('zombie-1', 'successor-1', 'successor-2');
      await sleep(300);
      assert.equal((await admin.fetchOffsets({ groupId: 'kj-zombie-group', topics: [topic] }))[0].partitions.find((p) => p.partition === 0)?.offset, '-1');
      assert.deepEqual(committed.values().sort(), ['successor-1', 'successor-2']);
      assert.ok(!uncommitted.values().some((v) => v === 'zombie-2' || v === 'zombie-3'), 'the fenced batches were refused');
      assert.deepEqual(uncommitted.values().sort(), ['successor-1', 'successor-2', 'zombie-1']);
    } finally {
      for (const r of readers) await r.stop();
      await zombie.disconnect();
      await successor.disconnect();
    }
  });
});

describe('transaction timeouts', () => {
  test('an open transaction left past its timeout is aborted by the coordinator: the LSO moves on, the producer is fenced', async () => {
    const topic = 'kj-timeout';
    await createTopic(topic);
    const timeoutMs = 1000;
    const producer = await txnProducer('kj-timeout', timeoutMs);
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    let reader: Reader | undefined;
    try {
      const txn = await producer.transaction();
      // Before AddPartitionsToTxn, which opens the transaction (its timeout counts from there).
      const opened = Date.now();
      await txn.send({ topic, messages: [{ partition: 0, value: 'left-open' }] });
      await plain.send({ topic, messages: [{ partition: 0, value: 'after' }] });
      reader = await Reader.start(topic, 'read_committed');
      await reader.until('after');
      const waited = Date.now() - opened;
      assert.ok(waited >= timeoutMs, `read_committed read past the open transaction after ${waited} ms, before its timeout`);
      assert.deepEqual(reader.values(), ['after']);
      const md = broker.broker.transactions.describe('kj-timeout');
      assert.ok(typeof md !== 'number' && (md.state === TxnState.CompleteAbort || md.state === TxnState.PrepareAbort), 'aborted by the coordinator');

      const types = await rejection(txn.commit());
      assert.ok(types.includes('INVALID_PRODUCER_EPOCH'), `commit after the timeout: ${types.join(', ')}`);
    } finally {
      await reader?.stop();
      await plain.disconnect();
      await producer.disconnect();
    }
  });

  test('a transaction timeout above transaction.max.timeout.ms is refused at init', async () => {
    const producer = await txnProducer('kj-too-long', MAX_TXN_TIMEOUT_MS + 1);
    try {
      assert.deepEqual(await rejection(producer.transaction()), ['INVALID_TRANSACTION_TIMEOUT']);
    } finally {
      await producer.disconnect();
    }
    const atMax = await txnProducer('kj-at-max', MAX_TXN_TIMEOUT_MS);
    try {
      await inTransaction(atMax, 'kj-at-max', [{ partition: 0, value: 'ok' }], 'commit');
    } finally {
      await atMax.disconnect();
    }
  });
});

const SCRIPT = fileURLToPath(new URL('../support/python/txn_clients.py', import.meta.url));

interface PyRecord {
  p: number;
  o: number;
  k: string | null;
  v: string | null;
}

async function pythonRead(topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<PyRecord[]> {
  const r = await runCommand(PYTHON, ['-B', SCRIPT, 'read', '--bootstrap', broker.bootstrap, '--topic', topic, '--isolation', isolation], { timeoutMs: 60_000 });
  assertSucceeded(r, `txn_clients.py read ${topic}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as PyRecord);
}

/** txn_clients.py eos, its events as they come. */
class EosProcess {
  readonly events: Record<string, number>[] = [];
  private readonly command: RunningCommand;

  constructor(args: string[]) {
    this.command = startCommand(PYTHON, ['-B', SCRIPT, 'eos', '--bootstrap', broker.bootstrap, ...args], {
      timeoutMs: 60_000,
      onLine: (line) => this.events.push(JSON.parse(line) as Record<string, number>),
    });
  }

  async waitFor(what: string, test: (e: Record<string, number>) => boolean): Promise<void> {
    await eventually(
      what,
      () => {
        if (this.events.some(test)) return true;
        if (this.command.child.exitCode !== null) throw new Error(`txn_clients.py eos exited (${this.command.child.exitCode}) before ${what}\nstderr: ${this.command.stderr()}`);
        return false;
      },
      30_000,
      () => `events: ${JSON.stringify(this.events)}\nstderr: ${this.command.stderr()}`,
    );
  }

  async finish(): Promise<void> {
    assertSucceeded(await this.command.result, 'txn_clients.py eos');
  }

  kill(): Promise<void> {
    return this.command.kill();
  }
}

describe('confluent-kafka (librdkafka)', { skip: skipUnlessPresent(confluentKafka) }, () => {
  test('exactly once through a consume-transform-produce loop killed mid-transaction and started again', async () => {
    const input = 'eos-in';
    const output = 'eos-out';
    const partitions = 2;
    const count = 120;
    const every = 10;
    await createTopic(input, partitions);
    await createTopic(output, partitions);
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    try {
      await plain.send({ topic: input, messages: Array.from({ length: count }, (_, i) => ({ partition: i % partitions, key: `k${i}`, value: `v${i}` })) });
    } finally {
      await plain.disconnect();
    }
    const args = ['--input', input, '--output', output, '--partitions', String(partitions), '--group', 'eos-group', '--transactional-id', 'eos-app', '--every', String(every)];

    // The first run is killed while its third transaction is open, with records in the output's log.
    const first = new EosProcess([...args, '--hang-mid-txn', '3']);
    try {
      await first.waitFor('the third transaction half written', (e) => e.mid === 3);
    } finally {
      await first.kill();
    }
    assert.deepEqual(
      first.events.filter((e) => e.committed !== undefined).map((e) => e.committed),
      [1, 2],
    );
    const second = new EosProcess(args);
    try {
      await second.finish();
    } finally {
      await second.kill();
    }
    const done = second.events.find((e) => e.done !== undefined);
    assert.equal(done?.done, count - 2 * every, 'the second run started after what the first committed');

    const committed = await pythonRead(output, 'read_committed');
    const values = committed.map((r) => r.v).sort();
    const expected = Array.from({ length: count }, (_, i) => `out-v${i}`).sort();
    assert.deepEqual(values, expected, 'every input record is in the output once');
    for (const r of committed) assert.equal(`out-v${r.k!.slice(1)}`, r.v, `record ${JSON.stringify(r)}`);
    for (const r of committed) assert.equal(Number(r.k!.slice(1)) % partitions, r.p, `record ${JSON.stringify(r)} in its input's partition`);

    // The killed transaction's records are in the log, aborted: read_uncommitted shows them twice.
    const uncommitted = await pythonRead(output, 'read_uncommitted');
    const killedTxn = first.events.find((e) => e.mid === 3)!.records;
    assert.equal(uncommitted.length, count + killedTxn, 'the aborted records of the killed transaction are in the log');

    // The group resumes at the end of the input.
    const [offsets] = await admin.fetchOffsets({ groupId: 'eos-group', topics: [input] });
    assert.deepEqual(
      offsets.partitions.map((p) => [p.partition, p.offset]).sort(),
      Array.from({ length: partitions }, (_, p) => [p, String(count / partitions)]),
    );
  });
});

describe('kcat', { skip: skipUnlessPresent(kcat) }, () => {
  test('read_committed reads only committed records, up to the last stable offset; read_uncommitted everything', async () => {
    const topic = 'kcat-txn';
    await createTopic(topic);
    const producer = await txnProducer('kcat-txn');
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    try {
      await inTransaction(producer, topic, [{ partition: 0, value: 'c1' }, { partition: 0, value: 'c2' }], 'commit');
      await inTransaction(producer, topic, [{ partition: 0, value: 'a1' }], 'abort');
      await inTransaction(producer, topic, [{ partition: 0, value: 'c3' }], 'commit');
      await transactionEnded('kcat-txn');
      const open = await producer.transaction();
      await open.send({ topic, messages: [{ partition: 0, value: 'open' }] });
      await plain.send({ topic, messages: [{ partition: 0, value: 'plain' }] });

      const kcatRead = async (isolation: string): Promise<string[]> => {
        const r = await runCommand('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n', '-X', `isolation.level=${isolation}`], { timeoutMs: 30_000 });
        assertSucceeded(r, `kcat -C ${isolation}`);
        return r.stdout.split('\n').filter((l) => l !== '');
      };
      assert.deepEqual(await kcatRead('read_committed'), ['c1', 'c2', 'c3'], 'read_committed stops at the open transaction');
      // librdkafka's default level is read_committed.
      const byDefault = await runCommand('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { timeoutMs: 30_000 });
      assertSucceeded(byDefault, 'kcat -C');
      assert.equal(byDefault.stdout, 'c1\nc2\nc3\n');
      assert.deepEqual(await kcatRead('read_uncommitted'), ['c1', 'c2', 'a1', 'c3', 'open', 'plain']);
      await open.commit();
      await transactionEnded('kcat-txn');
      assert.deepEqual(await kcatRead('read_committed'), ['c1', 'c2', 'c3', 'open', 'plain']);
    } finally {
      await plain.disconnect();
      await producer.disconnect();
    }
  });
});

describe('kafka-python', { skip: skipUnlessPresent(kafkaPython) }, () => {
  test('read_committed reads only committed records (or, without isolation_level, the version explains why not)', async (t) => {
    const topic = 'kp-txn';
    await createTopic(topic);
    const producer = await txnProducer('kp-txn');
    try {
      await inTransaction(producer, topic, [{ partition: 0, value: 'c1' }], 'commit');
      await inTransaction(producer, topic, [{ partition: 0, value: 'a1' }], 'abort');
      await inTransaction(producer, topic, [{ partition: 0, value: 'end' }], 'commit');
    } finally {
      await producer.disconnect();
    }
    const r = await runCommand(PYTHON, ['-B', SCRIPT, 'kafka-python-read', '--bootstrap', broker.bootstrap, '--topic', topic, '--isolation', 'read_committed', '--until', 'end'], { timeoutMs: 60_000 });
    assertSucceeded(r, 'txn_clients.py kafka-python-read');
    const lines = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as PyRecord & { unsupported?: string; version?: string });
    const unsupported = lines.find((l) => l.unsupported !== undefined);
    if (unsupported) {
      // kafka-python 2.0 has no isolation_level (and hands control records out as records): only a newer one can run this.
      assert.match(unsupported.version!, /^2\.0\./, `kafka-python ${unsupported.version} refuses isolation_level: ${unsupported.unsupported}`);
      t.diagnostic(`kafka-python ${unsupported.version} has no isolation_level: ${unsupported.unsupported}`);
      return;
    }
    assert.deepEqual(
      lines.map((l) => l.v),
      ['c1', 'end'],
    );
  });
});

describe('@platformatic/kafka', () => {
  test('transactions commit and abort, with group offsets (addConsumer, addOffset); its consumer reads read_committed and read_uncommitted', async (t) => {
    const node = platformaticNodeOrSkip(t, platformaticNode);
    if (node === null) return;
    const topic = 'pf-txn';
    await createTopic(topic);
    await createTopic(`${topic}-out`);
    const stdout = await runPlatformaticScript(node, 'platformatic-txn-clients-child.mjs', [broker.bootstrap, topic], (stdin) => stdin.end(), 45_000);
    const read = JSON.parse(stdout) as { readCommitted: string[]; readUncommitted: string[] };
    assert.deepEqual(read.readCommitted, ['pf-c1', 'pf-c2', 'pf-c3', 'pf-end']);
    assert.deepEqual(read.readUncommitted, ['pf-c1', 'pf-c2', 'pf-a1', 'pf-a2', 'pf-c3', 'pf-end']);
    // And kafkajs agrees on what was committed.
    const reader = await Reader.start(topic, 'read_committed');
    try {
      await reader.until('pf-end');
      assert.deepEqual(reader.values(), ['pf-c1', 'pf-c2', 'pf-c3', 'pf-end']);
    } finally {
      await reader.stop();
    }
    // Its consume-transform-produce step: the committed transaction's record and group offset
    // (after pf-c1) stand, the aborted one's (after pf-c2) do not.
    await transactionEnded(`pf-eos-${topic}`);
    const [offsets] = await admin.fetchOffsets({ groupId: `pf-eos-${topic}`, topics: [topic] });
    assert.equal(offsets.partitions.find((p) => p.partition === 0)?.offset, '1');
    const out = await Reader.start(`${topic}-out`, 'read_uncommitted');
    const outCommitted = await Reader.start(`${topic}-out`, 'read_committed');
    try {
      await out.until('out-pf-c1', 'out-pf-c2');
      await outCommitted.until('out-pf-c1');
      await sleep(300);
      assert.deepEqual(outCommitted.values(), ['out-pf-c1']);
    } finally {
      await out.stop();
      await outCommitted.stop();
    }
  });
});
