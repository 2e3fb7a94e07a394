import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import kafkajs from 'kafkajs';
import { keyPartition } from '../../src/client/partitioner.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { openLogFiles } from '../support/process-descriptors.js';
import { producePython, type ConsumedRecord } from '../support/python-clients.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { confluentKafka, kcat, skipUnlessPresent } from '../support/tools.js';

const { Kafka, logLevel } = kafkajs;

/**
 * A broker whose process may open 256 descriptors serves 2,000 partitions (6,000 log files):
 * created, written by three clients, read back, killed, restarted under the same limit and
 * read again. Before the descriptor budget it kept every file open and failed at the 80th or
 * so partition, and could not even start again afterwards.
 */
const LIMIT = 256;
/** Three quarters of LIMIT: the broker's default share for log files. */
const BUDGET = 192;
const PARTITIONS = 500;
/** Synchronous uses (an append, an index write) may pass the budget while they run. */
const SYNCHRONOUS_SLACK = 2;

type Writer = 'kafkajs' | 'confluent-kafka' | 'kcat';
interface TopicPlan {
  name: string;
  writer: Writer;
  /** sluice.log.flush.mode=sync: each acknowledgement waits for fdatasyncs, three per partition. */
  sync: boolean;
}

const TOPICS: TopicPlan[] = [
  { name: 'kafkajs-async', writer: 'kafkajs', sync: false },
  { name: 'kafkajs-sync', writer: 'kafkajs', sync: true },
  { name: 'confluent-sync', writer: 'confluent-kafka', sync: true },
  { name: 'kcat-async', writer: 'kcat', sync: false },
];

/** The largest number of log files the broker had open while `work` ran, sampled every few ms. */
async function peakOpenLogFiles<T>(broker: BrokerProcess, dir: string, work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = 0;
  const sample = (): void => void (peak = Math.max(peak, openLogFiles(broker.child.pid!, dir)));
  const timer = setInterval(sample, 5);
  try {
    return { result: await work(), peak };
  } finally {
    clearInterval(timer);
    sample();
  }
}

/** Log files held at once stay within the budget; `peak` is reported for the record. */
function assertWithinBudget(t: TestContext, peak: number): void {
  t.diagnostic(`at most ${peak} log files open at once`);
  assert.ok(peak <= BUDGET + SYNCHRONOUS_SLACK, `${peak} log files open at once`);
}

/** The start-up line with the descriptor budget, parsed. */
function budgetLine(broker: BrokerProcess): { limit: number; hardLimit: number; logFiles: number } {
  const line = broker.output.find((l) => l.includes('"file descriptors: '));
  assert.ok(line, `no descriptor line in:\n${broker.output.join('\n')}`);
  const { limit, hardLimit, logFiles } = JSON.parse(line) as Record<string, unknown>;
  return { limit, hardLimit, logFiles } as { limit: number; hardLimit: number; logFiles: number };
}

/** Two keys per partition that Kafka's murmur2 partitioner (kcat's, as configured) sends there. */
function keysCoveringPartitions(): string[] {
  const perPartition = new Map<number, string[]>();
  for (let i = 0; perPartition.size < PARTITIONS || [...perPartition.values()].some((k) => k.length < 2); i++) {
    const key = `kc-${i}`;
    const keys = perPartition.get(keyPartition(Buffer.from(key), PARTITIONS)) ?? [];
    if (keys.length < 2) keys.push(key);
    perPartition.set(keyPartition(Buffer.from(key), PARTITIONS), keys);
  }
  return [...perPartition.values()].flat();
}

/** Every record of a topic, read by kcat from the beginning to the end of every partition. */
async function readTopic(bootstrap: string, topic: string): Promise<ConsumedRecord[]> {
  const r = await runCommand('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %k %s\\n'], { timeoutMs: 60_000 });
  assertSucceeded(r, `kcat -C -t ${topic}`);
  assert.doesNotMatch(r.stderr, /ERROR|error/, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [p, o, k, v] = l.split(' ');
      return { p: Number(p), o: Number(o), k, v };
    })
    .sort((a, b) => a.p - b.p || a.o - b.o);
}

describe(`a broker under a limit of ${LIMIT} descriptors with ${TOPICS.length * PARTITIONS} partitions`, { skip: skipUnlessPresent(kcat, confluentKafka), timeout: 120_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let dataDir: string;
  let broker: BrokerProcess | undefined;
  /** Each topic's records as read back before the kill. */
  const written = new Map<string, ConsumedRecord[]>();

  before(async () => {
    temp = tempDir('descriptor-limit');
    dataDir = join(temp.dir, 'data');
  });

  after(async () => {
    try {
      await broker?.kill();
    } finally {
      temp.cleanup();
    }
  });

  const client = (): kafkajs.Kafka =>
    // No retries: a request the broker failed must fail the test, not be quietly sent again.
    new Kafka({ clientId: 'descriptor-limit', brokers: [broker!.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, requestTimeout: 30_000 });

  test('starts with its soft limit raised to the hard one and three quarters of it for logs', async () => {
    broker = await startBrokerProcess(dataDir, {}, 0, { descriptorLimit: { soft: LIMIT / 2, hard: LIMIT } });
    // Node itself lifts the soft limit to the hard one as it starts.
    assert.deepEqual(budgetLine(broker), { limit: LIMIT, hardLimit: LIMIT, logFiles: BUDGET });
  });

  test('creates the topics: three files per partition, many times the limit', async (t) => {
    const admin = client().admin();
    await admin.connect();
    try {
      const { peak } = await peakOpenLogFiles(broker!, dataDir, () =>
        admin.createTopics({
          waitForLeaders: false,
          timeout: 30_000,
          topics: TOPICS.map((t) => ({
            topic: t.name,
            numPartitions: PARTITIONS,
            configEntries: t.sync ? [{ name: 'sluice.log.flush.mode', value: 'sync' }] : [],
          })),
        }),
      );
      const listed = await admin.fetchTopicMetadata({ topics: TOPICS.map((t) => t.name) });
      assert.deepEqual(
        listed.topics.map((t) => [t.name, t.partitions.filter((p) => p.partitionErrorCode === 0).length]).sort(),
        TOPICS.map((t) => [t.name, PARTITIONS]).sort(),
      );
      assertWithinBudget(t, peak);
      // Idle files stay open up to the budget: a sampler that saw none would prove nothing.
      assert.ok(peak >= BUDGET / 2, `the broker kept only ${peak} log files open`);
    } finally {
      await admin.disconnect();
    }
  });

  test('every partition takes writes from kafkajs, confluent-kafka and kcat; one Produce spans more partitions than the budget', async (t) => {
    const kcatKeys = keysCoveringPartitions();
    const producer = client().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const { peak } = await peakOpenLogFiles(broker!, dataDir, () =>
        Promise.all([
          // Each send is one Produce request holding all 500 partitions of its topic.
          ...TOPICS.filter((t) => t.writer === 'kafkajs').map(async (t) => {
            for (let round = 0; round < 2; round++) {
              const acks = await producer.send({
                topic: t.name,
                acks: -1,
                messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, key: `kj-${p}-${round}`, value: `${t.name}-${p}-${round}` })),
              });
              assert.equal(acks.length, PARTITIONS);
              for (const a of acks) assert.equal(a.errorCode, 0, `${t.name}/${a.partition}: error ${a.errorCode}`);
            }
          }),
          (async () => {
            const run = await producePython({
              library: 'confluent',
              bootstrap: broker!.bootstrap,
              topic: 'confluent-sync',
              partitions: PARTITIONS,
              count: 3 * PARTITIONS,
              idempotence: 'on',
            });
            assert.equal(run.summary.acked, 3 * PARTITIONS, run.stderr);
            assert.equal(run.failures.length, 0, JSON.stringify(run.failures.slice(0, 5)));
          })(),
          (async () => {
            const input = kcatKeys.map((k) => `${k}:kcat-${k}\n`).join('');
            const r = await runCommand('kcat', ['-b', broker!.bootstrap, '-P', '-t', 'kcat-async', '-K', ':', '-X', 'topic.partitioner=murmur2'], { input, timeoutMs: 60_000 });
            assertSucceeded(r, 'kcat -P');
            assert.doesNotMatch(r.stderr, /Delivery failed|ERROR/, r.stderr);
          })(),
        ]),
      );
      assertWithinBudget(t, peak);
    } finally {
      await producer.disconnect();
    }
  });

  test('reads every record back, all topics at once', async (t) => {
    const { result, peak } = await peakOpenLogFiles(broker!, dataDir, () => Promise.all(TOPICS.map((t) => readTopic(broker!.bootstrap, t.name))));
    for (const [i, t] of TOPICS.entries()) written.set(t.name, result[i]);
    assertWithinBudget(t, peak);

    for (const t of TOPICS.filter((x) => x.writer === 'kafkajs')) {
      const expected = Array.from({ length: PARTITIONS }, (_, p) => [0, 1].map((round) => ({ p, o: round, k: `kj-${p}-${round}`, v: `${t.name}-${p}-${round}` }))).flat();
      assert.deepEqual(written.get(t.name), expected, t.name);
    }
    // produce.py sends message n to partition n % PARTITIONS, in order.
    const confluent = Array.from({ length: 3 * PARTITIONS }, (_, n) => ({ p: n % PARTITIONS, o: Math.floor(n / PARTITIONS), k: `k${n}`, v: `m${String(n).padStart(8, '0')}` }));
    assert.deepEqual(
      written.get('confluent-sync'),
      confluent.sort((a, b) => a.p - b.p || a.o - b.o),
    );
    const kcatRecords = written.get('kcat-async')!;
    assert.equal(kcatRecords.length, 2 * PARTITIONS);
    assert.equal(new Set(kcatRecords.map((r) => r.p)).size, PARTITIONS, 'kcat wrote to every partition');
    for (const r of kcatRecords) {
      assert.equal(r.v, `kcat-${r.k}`);
      assert.equal(r.p, keyPartition(Buffer.from(r.k!), PARTITIONS), `key ${r.k}`);
    }
    assert.ok(!broker!.output.some((l) => l.includes('KAFKA_STORAGE_ERROR')), broker!.output.filter((l) => l.includes('"level":50')).join('\n'));
  });

  test('after SIGKILL it starts again under the same limit, with every record', async (t) => {
    await broker!.kill();
    broker = await startBrokerProcess(dataDir, {}, 0, { descriptorLimit: { soft: LIMIT, hard: LIMIT } });
    assert.deepEqual(budgetLine(broker), { limit: LIMIT, hardLimit: LIMIT, logFiles: BUDGET });
    const loaded = broker.output.find((l) => l.includes('"log directory loaded"'));
    assert.match(loaded ?? '', /"clean":false/, 'it recovered from the unclean stop');
    assert.match(loaded ?? '', new RegExp(`"partitions":${TOPICS.length * PARTITIONS}\\b`));

    const { result, peak } = await peakOpenLogFiles(broker, dataDir, () => Promise.all(TOPICS.map((t) => readTopic(broker!.bootstrap, t.name))));
    for (const [i, t] of TOPICS.entries()) assert.deepEqual(result[i], written.get(t.name), t.name);
    assertWithinBudget(t, peak);

    // Appends go on where the recovered logs end, through the budget once more.
    const producer = client().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const acks = await producer.send({
        topic: 'kafkajs-sync',
        acks: -1,
        messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `after-${p}` })),
      });
      assert.deepEqual(
        acks.map((a) => [a.partition, a.errorCode, a.baseOffset]).sort((a, b) => Number(a[0]) - Number(b[0])),
        Array.from({ length: PARTITIONS }, (_, p) => [p, 0, '2']),
      );
    } finally {
      await producer.disconnect();
    }
    assert.equal(await broker.stop(), 0, 'a clean stop flushes every partition within the budget');
    broker = undefined;
  });
});
