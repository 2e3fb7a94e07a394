import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { Partition } from '../../src/replication/partition.js';
import { PartitionProducerState } from '../../src/replication/producers/producer-state.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, describeProducers, initProducerId, latestOffset, produceBatch, producerBatch, type ProducerBatch } from '../support/raw-requests.js';
import { storedBatches } from '../support/stored-batches.js';
import { makeBatch, openLog, tempDir, testConfig } from '../support/storage-fixtures.js';
import { onThisNode, startBrokerProcess, startTestBroker, type BrokerProcess, type InProcessBroker } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;

const MAX_SEQUENCE = 2 ** 31 - 1;

/** Every value stored in a partition, in offset order. */
function storedValues(p: Partition): string[] {
  return storedBatches(p).flatMap((b) => b.records.map((r) => r.value!.toString()));
}

describe('idempotent producers, one broker in this process', () => {
  let broker: InProcessBroker;
  let client: RawConnection;
  let topicCount = 0;

  /** A fresh one-partition topic and its partition. */
  async function newTopic(): Promise<{ topic: string; partition: Partition }> {
    const topic = `idem-${++topicCount}`;
    await broker.broker.partitions.createTopic(topic, onThisNode(1), {});
    return { topic, partition: broker.broker.partitions.get(topic, 0)! };
  }

  before(async () => {
    broker = await startTestBroker();
    client = await RawConnection.open(broker.broker.listeners[0].port);
  });

  after(async () => {
    client.destroy();
    await broker.stop();
  });

  test('kafkajs with idempotent: true gets a producer id and each message is stored once', async () => {
    const { topic, partition } = await newTopic();
    const kafka = new Kafka({ clientId: 'idempotence-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < 3; i++) {
        await producer.send({ topic, acks: -1, messages: [{ value: `a${i}` }, { value: `b${i}` }] });
      }
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(storedValues(partition), ['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
    const { errorCode, producers } = await describeProducers(client, topic, 0);
    assert.equal(errorCode, ErrorCode.NONE);
    assert.equal(producers.length, 1);
    assert.ok(producers[0].producerId >= 0n);
    assert.equal(producers[0].producerEpoch, 0);
    assert.equal(producers[0].lastSequence, 5);
    assert.equal(producers[0].coordinatorEpoch, -1);
    assert.equal(producers[0].currentTxnStartOffset, -1n);
  });

  test('InitProducerId gives a new id with epoch 0 every time, as Kafka does without a transactional id', async () => {
    const first = await initProducerId(client, { version: 0 });
    const second = await initProducerId(client, { version: 5, producerId: first.producerId, producerEpoch: first.producerEpoch });
    assert.equal(first.errorCode, ErrorCode.NONE);
    assert.equal(second.errorCode, ErrorCode.NONE);
    assert.equal(first.producerEpoch, 0);
    assert.equal(second.producerEpoch, 0);
    assert.ok(second.producerId > first.producerId, `${second.producerId} after ${first.producerId}`);
  });

  test('InitProducerId refuses a producer id without an epoch, and an empty transactional id', async () => {
    const half = await initProducerId(client, { version: 4, producerId: 7n, producerEpoch: -1 });
    assert.equal(half.errorCode, ErrorCode.INVALID_REQUEST);
    const empty = await initProducerId(client, { version: 4, transactionalId: '' });
    assert.equal(empty.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(empty.producerId, -1n);
  });

  test('a batch sent again is answered with its original offsets and stored once', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const first = producerBatch({ producerId, epoch: 0, sequence: 0, count: 3 });
    const second = producerBatch({ producerId, epoch: 0, sequence: 3, count: 2 });
    assert.equal((await produceBatch(client, topic, 0, first)).baseOffset, 0n);
    assert.equal((await produceBatch(client, topic, 0, second)).baseOffset, 3n);
    for (const [batch, offset] of [[first, 0n], [second, 3n]] as const) {
      const again = await produceBatch(client, topic, 0, batch);
      assert.equal(again.errorCode, ErrorCode.NONE);
      assert.equal(again.baseOffset, offset);
    }
    assert.equal(partition.log.logEndOffset, 5);
    assert.deepEqual(storedValues(partition), ['s0-0', 's0-1', 's0-2', 's3-0', 's3-1']);
  });

  test('only the last 5 batches are recognised: an older retry is out of order', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const batches = Array.from({ length: 6 }, (_, i) => producerBatch({ producerId, epoch: 0, sequence: i, count: 1 }));
    for (const b of batches) assert.equal((await produceBatch(client, topic, 0, b)).errorCode, ErrorCode.NONE);
    assert.equal((await produceBatch(client, topic, 0, batches[1])).baseOffset, 1n);
    assert.equal((await produceBatch(client, topic, 0, batches[0])).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal(partition.log.logEndOffset, 6);
  });

  test('a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER and appends nothing', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: 0, count: 2 }));
    const gap = await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: 3, count: 1 }));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal(gap.baseOffset, -1n);
    assert.equal(partition.log.logEndOffset, 2);
    const next = await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: 2, count: 1 }));
    assert.equal(next.errorCode, ErrorCode.NONE);
    assert.equal(next.baseOffset, 2n);
  });

  test('epochs: a new one starts at sequence 0, an older one is fenced', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const send = (b: Omit<ProducerBatch, 'producerId' | 'count'>) => produceBatch(client, topic, 0, producerBatch({ producerId, count: 1, ...b }));
    assert.equal((await send({ epoch: 0, sequence: 0 })).errorCode, ErrorCode.NONE);
    assert.equal((await send({ epoch: 1, sequence: 5 })).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal((await send({ epoch: 1, sequence: 0 })).errorCode, ErrorCode.NONE);
    assert.equal((await send({ epoch: 0, sequence: 1 })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(partition.log.logEndOffset, 2);
    const { producers } = await describeProducers(client, topic, 0);
    assert.deepEqual(
      producers.map((p) => [p.producerId, p.producerEpoch, p.lastSequence]),
      [[producerId, 1, 0]],
    );
  });

  test('a producer the partition has never seen may start at any sequence (KIP-360)', async () => {
    const { topic } = await newTopic();
    const { producerId } = await initProducerId(client);
    const first = await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 3, sequence: 42, count: 2 }));
    assert.equal(first.errorCode, ErrorCode.NONE);
    const next = await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 3, sequence: 44, count: 1 }));
    assert.equal(next.errorCode, ErrorCode.NONE);
    assert.equal(next.baseOffset, 2n);
  });

  test('sequences wrap from 2^31 - 1 to 0', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const wrapping = producerBatch({ producerId, epoch: 0, sequence: MAX_SEQUENCE - 1, count: 3 });
    assert.equal((await produceBatch(client, topic, 0, wrapping)).errorCode, ErrorCode.NONE);
    assert.equal((await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: 0, count: 1 }))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal((await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: 1, count: 1 }))).baseOffset, 3n);
    assert.equal((await produceBatch(client, topic, 0, wrapping)).baseOffset, 0n);
    assert.equal(partition.log.logEndOffset, 4);
  });

  test('a batch with a producer id but no sequence, and a transactional batch outside any transaction, are refused', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const noSequence = await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: -1, count: 1 }));
    assert.equal(noSequence.errorCode, ErrorCode.INVALID_RECORD);
    const transactional = await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: 0, count: 1, transactional: true }));
    assert.equal(transactional.errorCode, ErrorCode.INVALID_TXN_STATE);
    assert.equal(partition.log.logEndOffset, 0);
  });

  test('a partition takes one batch per request, as Kafka requires of Produce v3+', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const two = Buffer.concat([0, 1].map((sequence) => producerBatch({ producerId, epoch: 0, sequence, count: 1 })));
    assert.equal((await produceBatch(client, topic, 0, two)).errorCode, ErrorCode.INVALID_RECORD);
    assert.equal(partition.log.logEndOffset, 0);
  });

  test('truncation drops the state of the batches it removes', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const second = producerBatch({ producerId, epoch: 0, sequence: 2, count: 2 });
    await produceBatch(client, topic, 0, producerBatch({ producerId, epoch: 0, sequence: 0, count: 2 }));
    await produceBatch(client, topic, 0, second);
    partition.log.truncateTo(2);
    partition.clampHighWatermark();
    // No longer a duplicate: the batch is gone, and the producer's next sequence is 2 again.
    const again = await produceBatch(client, topic, 0, second);
    assert.equal(again.errorCode, ErrorCode.NONE);
    assert.equal(again.baseOffset, 2n);
    assert.deepEqual(storedValues(partition), ['s0-0', 's0-1', 's2-0', 's2-1']);
    const { producers } = await describeProducers(client, topic, 0);
    assert.equal(producers[0].lastSequence, 3);
  });

  test('deleting records keeps the state: a retry is still recognised', async () => {
    const { topic, partition } = await newTopic();
    const { producerId } = await initProducerId(client);
    const batch = producerBatch({ producerId, epoch: 0, sequence: 0, count: 2 });
    await produceBatch(client, topic, 0, batch);
    partition.log.deleteRecordsBefore(2);
    const again = await produceBatch(client, topic, 0, batch);
    assert.equal(again.errorCode, ErrorCode.NONE);
    assert.equal(again.baseOffset, 0n);
    assert.equal(partition.log.logEndOffset, 2);
  });

  test('DescribeProducers answers UNKNOWN_TOPIC_OR_PARTITION for a partition not here', async () => {
    const { errorCode, producers } = await describeProducers(client, 'no-such-topic', 0);
    assert.equal(errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual(producers, []);
  });
});

test('a producer silent for producer.id.expiration.ms is forgotten', async () => {
  const temp = tempDir('idem-expiry');
  const log = openLog(temp.dir, testConfig({ producerIdExpirationMs: 60_000 }));
  try {
    log.append(producerBatch({ producerId: 9n, epoch: 0, sequence: 0, count: 1 }), { leaderEpoch: 0, now: 0, assignOffsets: true });
    const loadedAt = Date.now();
    const state = new PartitionProducerState(log);
    assert.deepEqual(state.activeProducers(loadedAt + 59_000).map((p) => p.producerId), [9n]);
    assert.deepEqual(state.activeProducers(Date.now() + 60_000), []);
  } finally {
    await log.close();
    temp.cleanup();
  }
});

test('loading producer state reads the log only as far as the last batch a producer wrote', async () => {
  const temp = tempDir('idem-producer-free');
  const opts = { leaderEpoch: 0, now: Date.now(), assignOffsets: true };
  let log = openLog(temp.dir, testConfig());
  try {
    for (let i = 0; i < 3; i++) log.append(makeBatch(`before-${i}`, 2, Date.now()), opts);
    assert.equal(log.producerFreeFrom, 0, 'a log opened empty holds no producer batch until one is appended');
    log.append(producerBatch({ producerId: 7n, epoch: 0, sequence: 0, count: 2 }), opts);
    assert.equal(log.producerFreeFrom, 8);
    for (let i = 0; i < 50; i++) log.append(makeBatch(`after-${i}`, 2, Date.now()), opts);
    assert.equal(log.producerFreeFrom, 8, 'batches without a producer id leave it');

    const visited: number[] = [];
    const scan = log.scanBatchHeaders.bind(log);
    log.scanBatchHeaders = (from, visit, upTo) => scan(from, (h) => (visited.push(Number(h.baseOffset)), visit(h)), upTo);
    const state = new PartitionProducerState(log);
    assert.deepEqual(visited, [0, 2, 4, 6], 'the 50 batches after the producer\'s are not read');
    assert.deepEqual(state.activeProducers(Date.now()).map((p) => [p.producerId, p.lastSequence]), [[7n, 1]]);

    log.truncateTo(4);
    assert.equal(log.producerFreeFrom, 4, 'a truncation below it pulls it back to the log end');
    await log.close();
    log = openLog(temp.dir, testConfig());
    assert.equal(log.producerFreeFrom, log.logEndOffset, 'a log opened with data is only vouched for from its end');
  } finally {
    await log.close();
    temp.cleanup();
  }
});

test('after a crash, the recovery read tells where the tail without producer batches begins', async () => {
  const temp = tempDir('idem-recovered');
  const opts = { leaderEpoch: 0, now: Date.now(), assignOffsets: true };
  const config = testConfig({ segmentBytes: 1024 });
  let log = openLog(temp.dir, config);
  try {
    log.append(producerBatch({ producerId: 7n, epoch: 0, sequence: 0, count: 2 }), opts);
    for (let i = 0; i < 40; i++) log.append(makeBatch(`plain-${i}`, 2, Date.now(), { valueBytes: 100 }), opts);
    const bases = log.segmentBaseOffsets();
    assert.ok(bases.length >= 4, `several segments (${bases.join(', ')})`);
    await log.close();

    log = openLog(temp.dir, config, false, 0);
    assert.equal(log.producerFreeFrom, 2, 'every segment was read: the producer batch at 0-1 is the last');
    await log.close();
    // Recovery reads only from the segment holding the recovery point: what lies before it is unknown.
    log = openLog(temp.dir, config, false, bases[2]);
    assert.equal(log.producerFreeFrom, bases[2]);
    await log.close();
    log = openLog(temp.dir, config, true);
    assert.equal(log.producerFreeFrom, log.logEndOffset, 'a clean start reads no batch');
    assert.deepEqual(new PartitionProducerState(log).activeProducers(Date.now()).map((p) => p.producerId), [7n]);
  } finally {
    await log.close();
    temp.cleanup();
  }
});

describe('producer state on disk, one broker in this process restarted', () => {
  test('snapshots at rolls outlive deleted segments; a damaged newest one is skipped', async () => {
    const temp = tempDir('idem-snapshots');
    // Batches of 3 small records are about 150 bytes: a roll every few batches.
    const settings = { 'log.segment.bytes': '600' };
    try {
      let running = await startTestBroker(settings, temp.dir);
      let client = await RawConnection.open(running.broker.listeners[0].port);
      await running.broker.partitions.createTopic('rolled', onThisNode(1), {});
      const log = running.broker.partitions.get('rolled', 0)!.log;
      // `lone` writes once, into the first segment; `busy` writes on through several rolls.
      const lone = (await initProducerId(client)).producerId;
      const busy = (await initProducerId(client)).producerId;
      const loneBatch = producerBatch({ producerId: lone, epoch: 0, sequence: 0, count: 1 });
      const busyBatches = Array.from({ length: 12 }, (_, i) => producerBatch({ producerId: busy, epoch: 0, sequence: 3 * i, count: 3 }));
      for (const b of [loneBatch, ...busyBatches]) assert.equal((await produceBatch(client, 'rolled', 0, b)).errorCode, ErrorCode.NONE);
      const lastBase = log.segmentBaseOffsets().at(-1)!;
      assert.ok(log.segmentCount > 2 && lastBase > 1, `segments at ${log.segmentBaseOffsets().join(', ')}`);
      // lone's only batch goes with the segments: only the snapshots still know lone.
      log.deleteRecordsBefore(lastBase);
      client.destroy();
      await running.stop();

      const dir = join(temp.dir, 'rolled-0');
      const name = (offset: number): string => `${String(offset).padStart(20, '0')}.snapshot`;
      assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.snapshot')).sort(), [name(lastBase), name(37)]);
      const newest = join(dir, name(37));
      const damaged = readFileSync(newest);
      damaged[damaged.length - 1] ^= 0xff;
      writeFileSync(newest, damaged);

      running = await startTestBroker(settings, temp.dir);
      client = await RawConnection.open(running.broker.listeners[0].port);
      try {
        assert.equal((await produceBatch(client, 'rolled', 0, loneBatch)).baseOffset, 0n);
        assert.equal((await produceBatch(client, 'rolled', 0, busyBatches[11])).baseOffset, 34n);
        assert.equal((await produceBatch(client, 'rolled', 0, busyBatches[7])).baseOffset, 22n);
        const next = await produceBatch(client, 'rolled', 0, producerBatch({ producerId: busy, epoch: 0, sequence: 36, count: 1 }));
        assert.equal(next.baseOffset, 37n);
        assert.ok(!existsSync(newest), 'the damaged snapshot is gone');
      } finally {
        client.destroy();
        await running.stop();
      }
    } finally {
      temp.cleanup();
    }
  });
});

/**
 * One broker history, its tests in order, each starting where the last left off (a process
 * start takes seconds): written to, stopped with SIGTERM, written to, killed with SIGKILL.
 */
describe('producer ids and state across restarts of a broker process', () => {
  const temp = tempDir('idem-process');
  let running: BrokerProcess | null = null;
  let port = 0;
  const ids: bigint[] = [];
  const term = 'after-sigterm';
  const kill = 'after-sigkill';
  /** Written before the SIGTERM, to `term`. */
  let beforeTerm: { producerId: bigint; early: Buffer; late: Buffer };
  /** Written after it, to `term` (after the clean-shutdown snapshot) and `kill`. */
  let afterTerm: { producerId: bigint; onTerm: Buffer; early: Buffer; late: Buffer };

  /** (Re)starts `sluice serve` on the same directory and port. */
  async function start(): Promise<RawConnection> {
    running = await startBrokerProcess(temp.dir, {}, port);
    port = running.port;
    return RawConnection.open(running.port);
  }

  /** Three new producer ids, each above every id handed out before. */
  async function takeIds(client: RawConnection): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const res = await initProducerId(client);
      assert.equal(res.errorCode, ErrorCode.NONE);
      assert.ok(ids.every((id) => res.producerId > id), `${res.producerId} after ${ids.join(', ')}`);
      ids.push(res.producerId);
    }
  }

  /** Sends each batch again and expects its original base offset. */
  async function expectRetries(client: RawConnection, topic: string, retries: [Buffer, bigint][]): Promise<void> {
    for (const [batch, offset] of retries) {
      const again = await produceBatch(client, topic, 0, batch);
      assert.equal(again.errorCode, ErrorCode.NONE);
      assert.equal(again.baseOffset, offset);
    }
  }

  after(async () => {
    await running?.kill();
    temp.cleanup();
  });

  test('before any restart: ids handed out, batches written, a snapshot at the clean stop', async () => {
    const client = await start();
    await takeIds(client);
    assert.equal(await createTopic(client, term), ErrorCode.NONE);
    assert.equal(await createTopic(client, kill), ErrorCode.NONE);
    const producerId = (await initProducerId(client)).producerId;
    ids.push(producerId);
    beforeTerm = { producerId, early: producerBatch({ producerId, epoch: 0, sequence: 0, count: 2 }), late: producerBatch({ producerId, epoch: 0, sequence: 2, count: 3 }) };
    assert.equal((await produceBatch(client, term, 0, beforeTerm.early)).baseOffset, 0n);
    assert.equal((await produceBatch(client, term, 0, beforeTerm.late)).baseOffset, 2n);
    client.destroy();
    assert.equal(await running!.stop(), 0);
    assert.deepEqual(readdirSync(join(temp.dir, `${term}-0`)).filter((n) => n.endsWith('.snapshot')), [`${'5'.padStart(20, '0')}.snapshot`]);
  });

  test('after SIGTERM: ids never repeat, and retries of earlier batches get their original offsets', async () => {
    const client = await start();
    await takeIds(client);
    await expectRetries(client, term, [[beforeTerm.late, 2n], [beforeTerm.early, 0n]]);
    assert.equal(await latestOffset(client, term, 0), 5n);
    const gap = await produceBatch(client, term, 0, producerBatch({ producerId: beforeTerm.producerId, epoch: 0, sequence: 9, count: 1 }));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const { producers } = await describeProducers(client, term, 0);
    assert.deepEqual(producers.map((p) => [p.producerId, p.lastSequence]), [[beforeTerm.producerId, 4]]);

    const producerId = (await initProducerId(client)).producerId;
    ids.push(producerId);
    afterTerm = {
      producerId,
      onTerm: producerBatch({ producerId, epoch: 0, sequence: 0, count: 3 }),
      early: producerBatch({ producerId, epoch: 0, sequence: 0, count: 1 }),
      late: producerBatch({ producerId, epoch: 0, sequence: 1, count: 2 }),
    };
    assert.equal((await produceBatch(client, term, 0, afterTerm.onTerm)).baseOffset, 5n);
    assert.equal((await produceBatch(client, kill, 0, afterTerm.early)).baseOffset, 0n);
    assert.equal((await produceBatch(client, kill, 0, afterTerm.late)).baseOffset, 1n);
    client.destroy();
    await running!.kill();
  });

  test('after SIGKILL: ids never repeat; state comes from the snapshot and the batches after it', async () => {
    const client = await start();
    try {
      await takeIds(client);
      await expectRetries(client, kill, [[afterTerm.late, 1n], [afterTerm.early, 0n]]);
      // beforeTerm's state is in the snapshot of the SIGTERM, afterTerm's in the batches after it.
      await expectRetries(client, term, [[beforeTerm.late, 2n], [afterTerm.onTerm, 5n]]);
      assert.equal(await latestOffset(client, kill, 0), 3n);
      assert.equal(await latestOffset(client, term, 0), 8n);
      const next = await produceBatch(client, kill, 0, producerBatch({ producerId: afterTerm.producerId, epoch: 0, sequence: 3, count: 1 }));
      assert.equal(next.baseOffset, 3n);
    } finally {
      client.destroy();
    }
  });
});
