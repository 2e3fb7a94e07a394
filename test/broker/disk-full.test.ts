import assert from 'node:assert/strict';
import { closeSync, fsyncSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { ProduceResponsePartitionProduceResponse } from '../../src/protocol/generated/messages/produce-response.js';
import { assertHoldsExactly, deliveryOf, kcatProduce, type Delivery, type Placed } from '../support/deliveries.js';
import { consumePython, producePython, type ProducerOptions } from '../support/python-clients.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, produceBatch, topicMetadata } from '../support/raw-requests.js';
import { makeBatch } from '../support/storage-fixtures.js';
import { logged, mountExt4, mountTmpfs, skipUnlessMountable, tornSegments, type ScratchMount } from '../support/storage-faults.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { confluentKafka, kcat, skipUnlessPresent } from '../support/tools.js';

const PARTITIONS = 3;
/** As long as kcat's lines. */
const VALUE_BYTES = 1000;
/** Small segments, so that segments roll while the disk fills: rolls must fail cleanly too. */
const SEGMENT_BYTES = 1 << 20;
/** A file placed beside the log directory and deleted to free space without a restart. */
const BALLAST_BYTES = 4 << 20;
/** Numbers of the messages sent once space is back, apart from the first round's. */
const SECOND_ROUND = 1_000_000;

const FULL = 'log directory full';
const RESUMED = 'log directory has space again: writes resumed';
const TORN = 'recovery truncated a torn tail';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** confluent-kafka through produce.py: acks=all, not idempotent and no retries, values of VALUE_BYTES. */
async function pythonProduce(options: Omit<ProducerOptions, 'library' | 'partitions' | 'idempotence'> & { count: number }): Promise<Delivery> {
  const run = await producePython(
    { library: 'confluent', partitions: PARTITIONS, idempotence: 'off', valueBytes: VALUE_BYTES, settings: { retries: '0' }, ...options },
    90_000,
  );
  return deliveryOf(run, VALUE_BYTES);
}

/** Writes a file of `bytes`, or as much as fits; synced, so that the space is really taken. */
function writeBallast(path: string, bytes = Number.MAX_SAFE_INTEGER): void {
  const fd = openSync(path, 'w');
  try {
    let written = 0;
    // Large steps, then single pages into whatever is left.
    for (const step of [1 << 20, 4096]) {
      const chunk = Buffer.alloc(step, 0xa5);
      try {
        while (written < bytes) written += writeSync(fd, chunk, 0, Math.min(step, bytes - written));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A broker process on a file system mounted for one test (data in `data/`, beside room for a
 * ballast file): after the test, whatever happened, the broker is killed and the mount removed.
 */
class ScratchBroker {
  broker: BrokerProcess | undefined;
  readonly dataDir: string;

  constructor(
    t: TestContext,
    readonly fs: ScratchMount,
    private readonly overrides: Record<string, string> = {},
  ) {
    this.dataDir = join(fs.dir, 'data');
    t.after(async () => {
      await this.broker?.kill();
      fs.dispose();
    });
  }

  /** Starts it (again) on the same data. */
  async start(): Promise<BrokerProcess> {
    this.broker = await startBrokerProcess(this.dataDir, this.overrides);
    return this.broker;
  }
}

interface Case {
  name: string;
  mount: () => ScratchMount;
  /** Messages each client offers: more than the file system holds on its own. */
  offered: number;
  overrides: Record<string, string>;
}

const CASES: Case[] = [
  { name: 'tmpfs, async flush', mount: () => mountTmpfs('disk-full', 16), offered: 16_000, overrides: {} },
  {
    // Mapped segments no prepared one was ready for are sparse: the zeros written ahead of
    // small appends meet the full disk, and must fail as cleanly as a write does.
    name: 'tmpfs, sync flush, mmap appends',
    mount: () => mountTmpfs('disk-full-sync', 16),
    offered: 16_000,
    overrides: { 'sluice.log.flush.mode': 'sync', 'sluice.log.append.mode': 'mmap' },
  },
  { name: 'ext4 image, sync flush', mount: () => mountExt4('disk-full-ext4', 24), offered: 24_000, overrides: { 'sluice.log.flush.mode': 'sync' } },
];

describe('a full log directory', { skip: skipUnlessMountable() || skipUnlessPresent(kcat, confluentKafka), timeout: 300_000 }, () => {
  for (const c of CASES) {
    test(c.name, { timeout: 120_000 }, async (t) => {
      const scratch = new ScratchBroker(t, c.mount(), { 'num.partitions': String(PARTITIONS), ...c.overrides });
      const ballast = join(scratch.fs.dir, 'ballast');
      writeBallast(ballast, BALLAST_BYTES);
      let broker = await scratch.start();
      const admin = await RawConnection.open(broker.port);
      const topicConfigs = { 'segment.bytes': String(SEGMENT_BYTES) };
      assert.equal(await createTopic(admin, 'kcat-fill', topicConfigs), ErrorCode.NONE);
      assert.equal(await createTopic(admin, 'python-fill', topicConfigs, PARTITIONS), ErrorCode.NONE);
      // Written only once the disk is full. A partition the fill wrote to may still take a batch
      // there: a mapped active segment reserved its blocks when it was mapped.
      assert.equal(await createTopic(admin, 'probe', topicConfigs), ErrorCode.NONE);

      // Both clients at once, each offering more than there is room for.
      const started = Date.now();
      const [kcatFill, pythonFill] = await Promise.all([
        kcatProduce(broker.bootstrap, 'kcat-fill', 0, 0, c.offered),
        pythonProduce({ bootstrap: broker.bootstrap, topic: 'python-fill', count: c.offered, untilFailures: 50 }),
      ]);
      t.diagnostic(
        `filled in ${Date.now() - started} ms: kcat ${kcatFill.acked.length} acked, ${kcatFill.failures.length} failed; ` +
          `confluent-kafka ${pythonFill.acked.length} acked, ${pythonFill.failures.length} failed`,
      );
      assert.ok(kcatFill.failures.length > 0 && pythonFill.failures.length > 0, 'both clients ran out of space');
      // librdkafka's text for KAFKA_STORAGE_ERROR (56), and its name in confluent-kafka.
      assert.deepEqual(new Set(kcatFill.failures), new Set(['Broker: Disk error when trying to access log file on disk']));
      assert.deepEqual(new Set(pythonFill.failures.map((e) => /code=(\w+)/.exec(e)?.[1] ?? e)), new Set(['KAFKA_STORAGE_ERROR']));

      // Full, the broker still serves everything that needs no space.
      assert.equal(broker.child.exitCode, null, 'the broker is running');
      const metadata = await topicMetadata(admin, 'python-fill');
      assert.deepEqual(
        metadata.partitions.map((p) => [p.errorCode, p.leaderId]),
        Array.from({ length: PARTITIONS }, () => [ErrorCode.NONE, 1]),
      );
      const tooBig = makeBatch('no-room', 1, Date.now(), { valueBytes: 900 * 1024 });
      assert.equal((await produceBatch(admin, 'probe', 0, tooBig)).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
      // A log line for the directory filling up, not one per refused batch, nor a "resumed"
      // each time a small batch still fits into the last free bytes.
      const events = async (until?: string): Promise<string[]> => {
        // The log comes through a pipe, a little after the answers it goes with.
        const deadline = Date.now() + 5000;
        let seen: string[];
        do {
          await sleep(200);
          seen = logged(broker.output, 'log directory').flatMap((m) => (m.startsWith(FULL) ? ['full'] : m.startsWith(RESUMED) ? ['resumed'] : []));
        } while (until !== undefined && !seen.includes(until) && Date.now() < deadline);
        return seen;
      };
      const whenFull = await events();

      // Space comes back; so do writes, with the same broker.
      rmSync(ballast);
      const pythonAgain = await pythonProduce({ bootstrap: broker.bootstrap, topic: 'python-fill', count: 600, first: SECOND_ROUND });
      const kcatAgain = await kcatProduce(broker.bootstrap, 'kcat-fill', 0, SECOND_ROUND, 200);
      assert.deepEqual([pythonAgain.failures, kcatAgain.failures], [[], []], 'every write is accepted once there is space');
      const afterSpace = await events('resumed');
      admin.destroy();

      // A crash, then everything acknowledged is there once, and nothing else.
      await broker.kill();
      assert.deepEqual(tornSegments(scratch.dataDir), [], 'no refused write left part of a batch behind');
      broker = await scratch.start();
      const cutAtRecovery = logged(broker.output, TORN);
      const kcatRecords = await consumePython('confluent', broker.bootstrap, 'kcat-fill');
      assertHoldsExactly(kcatRecords, [...kcatFill.acked, ...kcatAgain.acked], 'kcat-fill');
      const pythonRecords = await consumePython('confluent', broker.bootstrap, 'python-fill');
      assertHoldsExactly(pythonRecords, [...pythonFill.acked, ...pythonAgain.acked], 'python-fill');
      assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM');
      // Last, so that the records are checked whatever the log says.
      assert.deepEqual(
        { whenFull, afterSpace, cutAtRecovery },
        { whenFull: ['full'], afterSpace: ['full', 'resumed'], cutAtRecovery: [] },
        'what the broker logged of the directory filling up, and what its recovery found to cut off',
      );
    });
  }
});

/** The broker's error in what kafkajs throws once it gives up: the cause of its retries-exceeded error. */
const givenUpOn = (e: unknown): string => (e as { cause?: { type?: string } }).cause?.type ?? String(e);

test(
  'a log directory filled and freed again and again while kafkajs produces',
  { skip: skipUnlessMountable() || skipUnlessPresent(confluentKafka), timeout: 120_000 },
  async (t) => {
    const scratch = new ScratchBroker(t, mountTmpfs('disk-churn', 24));
    const ballast = join(scratch.fs.dir, 'ballast');
    let broker = await scratch.start();
    const admin = await RawConnection.open(broker.port);
    const topic = 'churn';
    assert.equal(await createTopic(admin, topic, { 'segment.bytes': String(256 * 1024) }, 4), ErrorCode.NONE);
    admin.destroy();

    const kafka = new Kafka({ clientId: 'disk-churn', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    // One producer rides the full spells out by retrying (idempotent: a retry is never written
    // twice); the other gives up at once and must be told why.
    const patient = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 100, initialRetryTime: 50, maxRetryTime: 200 }, allowAutoTopicCreation: false });
    const blunt = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
    t.after(() => Promise.all([patient.disconnect(), blunt.disconnect()]));
    await Promise.all([patient.connect(), blunt.connect()]);
    const acked: Placed[] = [];
    const errors: string[] = [];
    let stopping = false;
    const produceUntilStopped = async (producer: Producer, partition: number): Promise<void> => {
      const who = producer === patient ? 'patient' : 'blunt';
      for (let round = 0; !stopping; round++) {
        const values = Array.from({ length: 5 }, (_, k) => `${partition}-${round}-${k}-`.padEnd(VALUE_BYTES, '.'));
        try {
          const [meta] = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
          values.forEach((value, k) => acked.push({ partition, offset: Number(meta.baseOffset) + k, value }));
        } catch (e) {
          errors.push(`${who}: ${givenUpOn(e)}`);
        }
        // A steady pace: the records must not fill the file system by themselves.
        await sleep(10);
      }
    };
    const producing = [produceUntilStopped(patient, 0), produceUntilStopped(patient, 1), produceUntilStopped(blunt, 2), produceUntilStopped(blunt, 3)];
    for (let cycle = 0; cycle < 6; cycle++) {
      await sleep(400);
      writeBallast(ballast);
      await sleep(300);
      rmSync(ballast);
    }
    await sleep(300);
    stopping = true;
    await Promise.all(producing);
    await Promise.all([patient.disconnect(), blunt.disconnect()]);
    t.diagnostic(`${acked.length} records acknowledged, ${errors.length} sends refused`);
    assert.ok(errors.length > 0, 'the producer without retries met a full disk');
    // The retrying producer got every send through: writes resumed each time space came back.
    assert.deepEqual(new Set(errors), new Set(['blunt: KAFKA_STORAGE_ERROR']));

    await broker.kill();
    assert.deepEqual(tornSegments(scratch.dataDir), [], 'no refused write left part of a batch behind');
    broker = await scratch.start();
    assert.deepEqual(logged(broker.output, TORN), [], 'recovery found nothing to cut off');
    assertHoldsExactly(await consumePython('confluent', broker.bootstrap, topic), acked, topic);
    assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM');
  },
);

test(
  'sync flush: a produce refused because its flush found no space leaves no record behind',
  { skip: skipUnlessMountable() || skipUnlessPresent(confluentKafka), timeout: 60_000 },
  async (t) => {
    const scratch = new ScratchBroker(t, mountTmpfs('disk-full-flush', 8), { 'sluice.log.flush.mode': 'sync' });
    const { fs } = scratch;
    const broker = await scratch.start();
    const admin = await RawConnection.open(broker.port);
    // An index entry for every batch but the first: the flush then has index bytes to write.
    assert.equal(await createTopic(admin, 'flushed', { 'index.interval.bytes': '1' }), ErrorCode.NONE);
    // One free page: the first batch takes it, the next ones fit beside it in the segment, and
    // the index entries they add find no room when the flush writes them.
    const { bavail, bsize } = statfsSync(fs.dir);
    writeBallast(join(fs.dir, 'ballast'), (bavail - 1) * bsize);
    const produce = (tag: string): Promise<ProduceResponsePartitionProduceResponse> => produceBatch(admin, 'flushed', 0, makeBatch(tag, 1, Date.now(), { valueBytes: 1000 }));
    assert.equal((await produce('a')).errorCode, ErrorCode.NONE);
    const refused = [await produce('b'), await produce('c')];
    rmSync(join(fs.dir, 'ballast'));
    const accepted = await produce('d');
    admin.destroy();
    assert.deepEqual(
      refused.map((r) => r.errorCode),
      [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.KAFKA_STORAGE_ERROR],
      'the flush failed for want of space: the set-up did what it meant to',
    );
    const read = await consumePython('confluent', broker.bootstrap, 'flushed');
    assert.deepEqual(
      { values: read.map((r) => r.v?.split('.')[0]), offsetOfD: accepted.baseOffset },
      { values: ['a-0', 'd-0'], offsetOfD: 1n },
      'batches answered KAFKA_STORAGE_ERROR ("not written", to clients, which retry them) are not in the log',
    );
  },
);

test(
  'sync flush, mmap appends: blocks a refused write gives back are not taken for space freed',
  { skip: skipUnlessMountable() || skipUnlessPresent(confluentKafka), timeout: 60_000 },
  async (t) => {
    const scratch = new ScratchBroker(t, mountTmpfs('disk-full-giveback', 8), { 'sluice.log.flush.mode': 'sync', 'sluice.log.append.mode': 'mmap' });
    const { fs } = scratch;
    const broker = await scratch.start();
    const admin = await RawConnection.open(broker.port);
    assert.equal(await createTopic(admin, 'flushed', { 'index.interval.bytes': '1' }, 2), ErrorCode.NONE);
    const produce = async (partition: number, tag: string): Promise<number> =>
      (await produceBatch(admin, 'flushed', partition, makeBatch(tag, 1, Date.now(), { valueBytes: 1000 }))).errorCode;
    // Each partition's first append reserves blocks ahead of its data; then nothing is left.
    const first = [await produce(0, 'a'), await produce(1, 'a')];
    const ballast = join(fs.dir, 'ballast');
    writeBallast(ballast);
    // Partition 0's batch fits its reservation but its index entry finds no page: the batch is
    // cut off again, and with it the blocks reserved past it. Partition 1's batch then fits.
    const whileFull = [await produce(0, 'b'), await produce(1, 'b')];
    await sleep(300);
    const loggedWhileFull = logged(broker.output, 'log directory').filter((m) => !m.startsWith('log directory loaded'));
    rmSync(ballast);
    const afterSpace = await produce(0, 'c');
    await sleep(300);
    admin.destroy();
    const read = await consumePython('confluent', broker.bootstrap, 'flushed');
    assert.deepEqual(
      {
        first,
        whileFull,
        loggedWhileFull: loggedWhileFull.map((m) => m.split(':')[0]),
        afterSpace,
        loggedAfter: logged(broker.output, RESUMED).length,
        values: read.map((r) => `${r.p}:${r.v?.split('.')[0]}`).sort(),
      },
      {
        first: [ErrorCode.NONE, ErrorCode.NONE],
        whileFull: [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.NONE],
        loggedWhileFull: ['log directory full'],
        afterSpace: ErrorCode.NONE,
        loggedAfter: 1,
        values: ['0:a-0', '0:c-0', '1:a-0', '1:b-0'],
      },
      'one "full" while the cut blocks serve other appends, one "resumed" once the ballast goes',
    );
  },
);

test(
  'mmap appends: a topic of many partitions takes the disk its records need, not segment.bytes per partition',
  { skip: skipUnlessMountable() || skipUnlessPresent(confluentKafka), timeout: 60_000 },
  async (t) => {
    // 16 partitions of the default 1 GiB segments on 32 MiB: segments reserved whole would
    // not let the topic be created.
    const scratch = new ScratchBroker(t, mountTmpfs('mmap-sparse', 32), { 'sluice.log.append.mode': 'mmap' });
    const broker = await scratch.start();
    const admin = await RawConnection.open(broker.port);
    const topic = 'many';
    const partitions = 16;
    assert.equal(await createTopic(admin, topic, {}, partitions), ErrorCode.NONE);
    admin.destroy();
    const kafka = new Kafka({ clientId: 'mmap-sparse', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    t.after(() => producer.disconnect());
    await producer.connect();
    const acked: Placed[] = [];
    for (let partition = 0; partition < partitions; partition++) {
      for (let round = 0; round < 5; round++) {
        const values = Array.from({ length: 10 }, (_, k) => `${partition}-${round}-${k}-`.padEnd(VALUE_BYTES, '.'));
        const [meta] = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
        values.forEach((value, k) => acked.push({ partition, offset: Number(meta.baseOffset) + k, value }));
      }
    }
    await producer.disconnect();
    const { blocks, bfree, bsize } = statfsSync(scratch.fs.dir);
    const usedBytes = (blocks - bfree) * bsize;
    t.diagnostic(`${acked.length} records in ${partitions} partitions take ${usedBytes} bytes of the file system`);
    // The records, the zeros written ahead of each partition's appends (256 KiB), and indexes.
    assert.ok(usedBytes < partitions * (1 << 20), `${usedBytes} bytes used`);
    assertHoldsExactly(await consumePython('confluent', broker.bootstrap, topic), acked, topic);
    assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM');
  },
);
