import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { CompressionType } from '../../src/protocol/compression/index.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { RawConnection } from '../support/raw-connection.js';
import { produceBatch } from '../support/raw-requests.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { confluentKafka, kafkaPython, kcat, skipUnlessPresent } from '../support/tools.js';
import { consumePython } from '../support/python-clients.js';
import { createTopic, kafkaClient, percentiles, readWithKcat, until, watch } from './delay-clients.js';

describe('delayed delivery from real clients', { timeout: 120_000 }, () => {
  let broker: InProcessBroker;
  let kafka: kafkajs.Kafka;

  before(async () => {
    broker = await startTestBroker();
    kafka = kafkaClient(broker.bootstrap);
  });

  after(async () => {
    await broker.stop();
  });

  test('kcat -H sluice-delay-ms: the records enter the topic at their time, not before, once', { skip: skipUnlessPresent(kcat) }, async (t) => {
    const topic = 'kcat-delayed';
    await createTopic(kafka, topic);
    const watcher = await watch(kafka, topic);
    try {
      const sentFrom = Date.now();
      const r = await runCommand('kcat', ['-b', broker.bootstrap, '-P', '-t', topic, '-K', ':', '-H', 'sluice-delay-ms=3000'], { input: 'a:one\nb:two\n', timeoutMs: 30_000 });
      assertSucceeded(r, 'kcat -P');
      const now = await runCommand('kcat', ['-b', broker.bootstrap, '-P', '-t', topic, '-K', ':'], { input: 'c:now\n', timeoutMs: 30_000 });
      assertSucceeded(now, 'kcat -P');
      assert.ok(await until(() => watcher.seen.length === 3, 20_000), `seen ${JSON.stringify(watcher.seen)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const seen = watcher.seen;
      assert.deepEqual(seen.map((s) => s.key).sort(), ['a', 'b', 'c']);
      assert.equal(seen[0].key, 'c', 'the record without a delay is there first');
      for (const s of seen.filter((x) => x.key !== 'c')) {
        assert.ok(s.timestamp >= sentFrom + 3000, `timestamp ${s.timestamp} is the due time, at least ${sentFrom + 3000}`);
        assert.ok(s.seenAt >= s.timestamp, `seen at ${s.seenAt}, before its time ${s.timestamp}`);
        assert.equal(s.headers['sluice-delay-ms'], '3000', 'the delay header is kept');
        t.diagnostic(`kcat record ${s.key}: late by ${s.seenAt - s.timestamp} ms`);
      }
      const read = await readWithKcat(broker.bootstrap, topic);
      assert.deepEqual(read.map((x) => x.value), ['now', 'one', 'two']);
    } finally {
      await watcher.stop();
    }
  });

  test('kafkajs headers: 2000 records with random delays, each once and never early', async (t) => {
    const topic = 'kafkajs-delayed';
    await createTopic(kafka, topic, 3);
    const watcher = await watch(kafka, topic);
    const producer = kafka.producer();
    await producer.connect();
    try {
      const count = 2000;
      const wanted = new Map<string, number>();
      for (let sent = 0; sent < count; ) {
        const sentAt = Date.now();
        const messages = Array.from({ length: 100 }, (_, i) => {
          const id = String(sent + i);
          const delay = Math.floor(Math.random() * 3000);
          wanted.set(id, sentAt + delay);
          return { key: id, value: `v${id}`, headers: i % 2 === 0 ? { 'sluice-delay-ms': String(delay) } : { 'sluice-deliver-at': String(sentAt + delay) } };
        });
        await producer.send({ topic, messages });
        sent += messages.length;
      }
      assert.ok(await until(() => watcher.seen.length >= count, 30_000), `seen ${watcher.seen.length} of ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const byKey = new Map<string, number>();
      for (const s of watcher.seen) byKey.set(s.key, (byKey.get(s.key) ?? 0) + 1);
      assert.equal(byKey.size, count);
      assert.ok([...byKey.values()].every((n) => n === 1), 'each record once');
      const lateness: number[] = [];
      for (const s of watcher.seen) {
        // The broker's receipt is after the send started: its due time is at least this.
        assert.ok(s.timestamp >= wanted.get(s.key)!, `record ${s.key} stamped ${s.timestamp}, before ${wanted.get(s.key)}`);
        assert.ok(s.seenAt >= s.timestamp, `record ${s.key} seen at ${s.seenAt}, before its time ${s.timestamp}`);
        lateness.push(s.seenAt - s.timestamp);
      }
      t.diagnostic(`lateness as the consumer sees it (fetch wait included), ms: ${JSON.stringify(percentiles(lateness))}`);
    } finally {
      await producer.disconnect();
      await watcher.stop();
    }
  });

  test('a topic default delay (sluice.delivery.delay.ms) applies to records without a header', async (t) => {
    const topic = 'default-delayed';
    const began = Date.now();
    const steps: string[] = [];
    const step = (what: string): void => void steps.push(`${what} +${Date.now() - began} ms`);
    await createTopic(kafka, topic, 1, { 'sluice.delivery.delay.ms': '1000' });
    step('created');
    const producer = kafka.producer();
    await producer.connect();
    try {
      const sentAt = Date.now();
      const [answer] = await producer.send({ topic, messages: [{ key: 'k', value: 'later' }, { key: 'k2', value: 'sooner', headers: { 'sluice-delay-ms': '0' } }] });
      step('sent');
      assert.equal(answer.baseOffset, '-1', 'a held batch has no offset yet');
      // 'sooner' is due at once and may already be in; 'later' may not, but only a read that
      // ended before it was due can tell: kcat on a loaded machine may take longer than that.
      const early = await readWithKcat(broker.bootstrap, topic);
      step('kcat read');
      if (Date.now() < sentAt + 1000) assert.ok(!early.some((r) => r.value === 'later'), `'later' was in before its time (${steps.join(', ')})`);
      const watcher = await watch(kafka, topic);
      step('watching');
      try {
        if (!(await until(() => watcher.seen.length === 2, 10_000))) {
          const inTopic = await readWithKcat(broker.bootstrap, topic);
          assert.fail(`the watcher saw ${JSON.stringify(watcher.seen)} (${watcher.events.join('; ')}); kcat reads ${JSON.stringify(inTopic)}; ${steps.join(', ')}`);
        }
        const later = watcher.seen.find((s) => s.value === 'later')!;
        assert.ok(later.timestamp >= sentAt + 1000);
        assert.equal(watcher.seen[0].value, 'sooner', 'records of a held batch enter in due order');
        step('seen');
        t.diagnostic(steps.join(', '));
      } finally {
        await watcher.stop();
      }
    } finally {
      await producer.disconnect();
    }
  });

  test('bad delays are refused with INVALID_RECORD naming the header; nothing is held', async () => {
    const topic = 'bad-delays';
    await createTopic(kafka, topic);
    const client = await RawConnection.open(Number(broker.bootstrap.split(':')[1]));
    const batch = (headers: Record<string, string>, compression?: CompressionType): Buffer =>
      encodeRecordBatch({
        baseTimestamp: BigInt(Date.now()),
        compression,
        records: [{ key: null, value: Buffer.from('x'), headers: Object.entries(headers).map(([key, value]) => ({ key, value: Buffer.from(value) })) }],
      });
    try {
      const cases: [Record<string, string>, RegExp][] = [
        [{ 'sluice-delay-ms': '-5' }, /sluice-delay-ms must not be negative/],
        [{ 'sluice-delay-ms': 'soon' }, /sluice-delay-ms must be decimal milliseconds, got 'soon'/],
        [{ 'sluice-delay-ms': '1e3' }, /sluice-delay-ms must be decimal/],
        [{ 'sluice-delay-ms': '' }, /sluice-delay-ms must be decimal/],
        [{ 'sluice-delay-ms': '99999999999999' }, /header sluice-delay-ms asks for a delay of 99999999999999 ms, more than sluice.delivery.delay.max.ms/],
        [{ 'sluice-deliver-at': String(Date.now() + 30 * 86_400_000) }, /header sluice-deliver-at .* more than sluice.delivery.delay.max.ms/],
        [{ 'sluice-delay-ms': '10', 'sluice-deliver-at': '10' }, /not both/],
      ];
      for (const [headers, message] of cases) {
        for (const compression of [undefined, CompressionType.Gzip]) {
          const answer = await produceBatch(client, topic, 0, batch(headers, compression));
          assert.equal(answer.errorCode, ErrorCode.INVALID_RECORD, JSON.stringify(headers));
          assert.match(answer.errorMessage ?? '', message);
          assert.equal(answer.recordErrors[0]?.batchIndex, 0);
        }
      }
      // A time already past is now: the record goes straight in, with an offset.
      const past = await produceBatch(client, topic, 0, batch({ 'sluice-deliver-at': String(Date.now() - 60_000) }));
      assert.equal(past.errorCode, ErrorCode.NONE);
      assert.equal(past.baseOffset, 0n);
      assert.deepEqual(broker.broker.delayed.heldByMinute(), []);
      // A compressed batch is held like any other.
      const held = await produceBatch(client, topic, 0, batch({ 'sluice-delay-ms': '300' }, CompressionType.Gzip));
      assert.equal(held.errorCode, ErrorCode.NONE);
      assert.equal(held.baseOffset, -1n);
      assert.ok(await until(() => broker.broker.delayed.heldByMinute().length === 0, 5000));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await readWithKcat(broker.bootstrap, topic)).length, 2);
    } finally {
      client.destroy();
    }
  });

  test('an idempotent producer mixes delayed and immediate records: each arrives once, its sequence carries on, every client reads past the held batch', { skip: skipUnlessPresent(kcat, confluentKafka, kafkaPython) }, async () => {
    const topic = 'idempotent-delayed';
    await createTopic(kafka, topic);
    const watcher = await watch(kafka, topic);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ value: 'first' }] });
      // Held long enough that 'after' is in first even when the machine is slow to send it.
      await producer.send({ topic, messages: [{ value: 'held-1', headers: { 'sluice-delay-ms': '2000' } }, { value: 'held-2', headers: { 'sluice-delay-ms': '2000' } }] });
      // The held batch took its sequence numbers: the next batch follows on without a gap.
      await producer.send({ topic, messages: [{ value: 'after' }] });
      assert.ok(await until(() => watcher.seen.length === 4, 20_000), `seen ${JSON.stringify(watcher.seen.map((s) => s.value))}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(watcher.seen.map((s) => s.value), ['first', 'after', 'held-1', 'held-2']);
      for (const read of [(await readWithKcat(broker.bootstrap, topic)).map((r) => r.value), ...(await Promise.all((['confluent', 'kafka-python'] as const).map(async (library) => (await consumePython(library, broker.bootstrap, topic, 20)).map((r) => r.v))))]) {
        assert.deepEqual(read, ['first', 'after', 'held-1', 'held-2']);
      }
    } finally {
      await producer.disconnect();
      await watcher.stop();
    }
  });

  test('a transactional producer is told delayed delivery is not for it', async () => {
    const topic = 'transactional-delayed';
    await createTopic(kafka, topic);
    const producer = kafka.producer({ transactionalId: 'delayed-txn', idempotent: true, maxInFlightRequests: 1, retry: { retries: 1 } });
    await producer.connect();
    try {
      const txn = await producer.transaction();
      await assert.rejects(txn.send({ topic, messages: [{ value: 'x', headers: { 'sluice-delay-ms': '100' } }] }), (e: Error & { type?: string }) => e.type === 'INVALID_RECORD');
      await txn.abort();
    } finally {
      await producer.disconnect();
    }
  });
});
