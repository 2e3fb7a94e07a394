import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  consumePython,
  messageKey,
  messageValue,
  producePython,
  PythonProducer,
  type ConsumedRecord,
  type ProducerRun,
  type PythonLibrary,
} from '../support/python-clients.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { confluentKafka, kafkaPython, skipUnlessPresent, type Tool } from '../support/tools.js';

const PARTITIONS = 3;
const COUNT = 5000;

const LIBRARIES: { library: PythonLibrary; tool: Tool }[] = [
  { library: 'confluent', tool: confluentKafka },
  { library: 'kafka-python', tool: kafkaPython },
];

/**
 * What acknowledgements promise about the log: every acknowledged message is at the partition
 * and offset it was acknowledged with; each partition's offsets have no holes and its messages
 * come in the order they were sent; a message shows up twice only from a producer that was not
 * idempotent (a retry after a lost response). Returns how many duplicates there were.
 */
function checkDelivered(run: ProducerRun, records: ConsumedRecord[]): number {
  const at = new Map(records.map((r) => [`${r.p}:${r.o}`, r]));
  for (const a of run.acks) {
    assert.equal(a.partition, a.n % PARTITIONS, `message ${a.n} went to partition ${a.partition}`);
    const r = at.get(`${a.partition}:${a.offset}`);
    assert.ok(r, `acknowledged message ${a.n} (partition ${a.partition}, offset ${a.offset}) is missing`);
    assert.deepEqual([r.k, r.v], [messageKey(a.n), messageValue(a.n)], `the record at ${a.partition}:${a.offset}`);
  }

  let duplicates = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const partition = records.filter((r) => r.p === p);
    const seen = new Set<number>();
    let last = -1;
    partition.forEach((r, i) => {
      assert.equal(r.o, i, `partition ${p}: offset ${r.o} where ${i} was due`);
      const n = Number(/^m(\d{8})$/.exec(r.v ?? '')?.[1] ?? NaN);
      assert.ok(Number.isInteger(n) && n % PARTITIONS === p && r.k === messageKey(n), `unexpected record ${JSON.stringify(r)}`);
      if (seen.has(n)) {
        duplicates++;
        return;
      }
      assert.ok(n > last, `partition ${p}: message ${n} after ${last}`);
      seen.add(n);
      last = n;
    });
  }
  if (run.summary.idempotent) assert.equal(duplicates, 0, 'an idempotent producer wrote duplicates');
  return duplicates;
}

describe('Python clients against a broker process', { timeout: 300_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let broker: BrokerProcess | undefined;

  before(async () => {
    temp = tempDir('python-clients');
    broker = await startBrokerProcess(temp.dir, { 'num.partitions': String(PARTITIONS) });
  });

  after(async () => {
    try {
      if (broker) assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM');
    } finally {
      temp.cleanup();
    }
  });

  test('confluent-kafka: an idempotent acks=all producer, read back by an assign() consumer', { skip: skipUnlessPresent(confluentKafka) }, async () => {
    const topic = 'confluent-idempotent';
    const run = await producePython({ library: 'confluent', bootstrap: broker!.bootstrap, topic, partitions: PARTITIONS, count: COUNT, idempotence: 'on' });
    assert.deepEqual(run.failures, []);
    assert.equal(run.summary.idempotent, true);
    assert.equal(run.acks.length, COUNT);
    const records = await consumePython('confluent', broker!.bootstrap, topic);
    assert.equal(records.length, COUNT);
    checkDelivered(run, records);
  });

  test('kafka-python: an acks=all producer (idempotent where the version has it), read back with assign()', { skip: skipUnlessPresent(kafkaPython) }, async (t) => {
    const topic = 'kafka-python-acks-all';
    const run = await producePython({ library: 'kafka-python', bootstrap: broker!.bootstrap, topic, partitions: PARTITIONS, count: COUNT, idempotence: 'if-supported' });
    t.diagnostic(`${run.summary.library}, idempotent: ${run.summary.idempotent}`);
    assert.deepEqual(run.failures, []);
    assert.equal(run.acks.length, COUNT);
    const records = await consumePython('kafka-python', broker!.bootstrap, topic);
    // Nothing failed, so nothing was retried: not even a non-idempotent producer may duplicate.
    assert.equal(records.length, COUNT);
    checkDelivered(run, records);
  });
});

/** Acknowledgements to wait for in each phase: before the first restart and after each. */
const ACKS_PER_PHASE = 300;

describe('Python producers across broker restarts (SIGTERM, then SIGKILL)', { timeout: 600_000 }, () => {
  for (const { library, tool } of LIBRARIES) {
    test(library, { skip: skipUnlessPresent(tool) }, async (t) => {
      const temp = tempDir(`restarts-${library}`);
      // Sync flush: a produce is acknowledged only once fsync'ed, so an acknowledged message
      // must survive the SIGKILL below (and would survive a power cut too).
      const overrides = { 'num.partitions': String(PARTITIONS), 'sluice.log.flush.mode': 'sync' };
      let broker: BrokerProcess | undefined;
      let producer: PythonProducer | undefined;
      // t.after, unlike finally, also runs when the test is cancelled at its time limit.
      t.after(async () => {
        await producer?.kill();
        await broker?.stop();
        temp.cleanup();
      });

      broker = await startBrokerProcess(temp.dir, overrides);
      const { port, bootstrap } = broker;
      const topic = 'through-restarts';
      // confluent-kafka is always idempotent here; kafka-python from the version that can be.
      const idempotence = library === 'confluent' ? 'on' : 'if-supported';
      producer = new PythonProducer({ library, bootstrap, topic, partitions: PARTITIONS, rate: 500, idempotence }, 400_000);
      const started = Date.now();
      const acked = async (count: number, timeoutMs: number, phase: string): Promise<void> => {
        await producer!.waitForAcks(count, timeoutMs);
        t.diagnostic(`${phase}: ${producer!.acks.length} acks after ${Date.now() - started} ms`);
      };
      await acked(ACKS_PER_PHASE, 60_000, 'first broker');

      assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM');
      broker = await startBrokerProcess(temp.dir, overrides, port);
      await acked(producer.acks.length + ACKS_PER_PHASE, 120_000, 'restarted after SIGTERM');

      await broker.kill();
      broker = await startBrokerProcess(temp.dir, overrides, port);
      await acked(producer.acks.length + ACKS_PER_PHASE, 120_000, 'restarted after SIGKILL');

      const run = await producer.finish();
      assert.deepEqual(run.failures, [], 'every message is delivered in the end: the clients retry');
      assert.equal(run.summary.fatal, null);
      const records = await consumePython(library, bootstrap, topic);
      const duplicates = checkDelivered(run, records);
      t.diagnostic(`${run.summary.library}, idempotent: ${run.summary.idempotent}: ${run.summary.sent} sent, ${records.length} read, ${duplicates} duplicates`);
    });
  }
});
