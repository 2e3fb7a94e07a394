import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CompressionTypes, Kafka, logLevel, type Consumer, type IHeaders } from 'kafkajs';
import { registerKafkajsCodecs } from '../support/kafkajs-codecs.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

registerKafkajsCodecs();

let broker: InProcessBroker;
let kafka: Kafka;

before(async () => {
  broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0', 'message.max.bytes': String(2 * 1024 * 1024) });
  kafka = new Kafka({ clientId: 'kafkajs-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

interface Received {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

/** Consumes `count` messages of a topic from the beginning in a fresh group. */
async function consume(topic: string, count: number, groupId = `g-${topic}`): Promise<Received[]> {
  const consumer: Consumer = kafka.consumer({ groupId, maxBytes: 8 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: Received[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of ${count} from ${topic}`)), 20_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? null,
            value: message.value,
            headers: message.headers ?? {},
            timestamp: message.timestamp,
          });
          if (got.length === count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('kafkajs against a Sluice broker', () => {
  for (const [name, codec] of Object.entries({
    none: CompressionTypes.None,
    gzip: CompressionTypes.GZIP,
    snappy: CompressionTypes.Snappy,
    lz4: CompressionTypes.LZ4,
    zstd: CompressionTypes.ZSTD,
  })) {
    test(`produces and consumes with ${name}: keys, headers, null values, offsets in order`, async () => {
      const topic = `codec-${name}`;
      const producer = kafka.producer();
      await producer.connect();
      const messages = Array.from({ length: 50 }, (_, i) => ({
        key: i % 10 === 0 ? null : `key-${i}`,
        value: i % 7 === 0 ? null : `value-${i}-${'x'.repeat(i)}`,
        headers: { index: String(i), 'multi-héader': Buffer.from([i, 255, 0]) },
        partition: 0,
      }));
      const results = await producer.send({ topic, compression: codec, messages: messages.slice(0, 25) });
      await producer.send({ topic, compression: codec, messages: messages.slice(25) });
      await producer.disconnect();
      assert.equal(results[0].errorCode, 0);
      assert.equal(results[0].baseOffset, '0');
      const got = await consume(topic, messages.length);
      assert.deepEqual(got.map((m) => m.offset), messages.map((_, i) => String(i)));
      for (const [i, m] of got.entries()) {
        assert.equal(m.key, messages[i].key);
        assert.equal(m.value?.toString() ?? null, messages[i].value);
        assert.equal(m.headers.index?.toString(), String(i));
        assert.deepEqual(m.headers['multi-héader'], Buffer.from([i, 255, 0]));
      }
    });
  }

  test('messages up to max.message.bytes are accepted, larger ones refused with MESSAGE_TOO_LARGE', async () => {
    const topic = 'big-messages';
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    const big = Buffer.alloc(1_900_000, 7);
    await producer.send({ topic, messages: [{ value: big }] });
    await assert.rejects(
      producer.send({ topic, messages: [{ value: Buffer.alloc(2_200_000, 1) }] }),
      (e: Error & { type?: string }) => e.type === 'MESSAGE_TOO_LARGE' || /too large/i.test(e.message),
    );
    await producer.disconnect();
    const [only] = await consume(topic, 1);
    assert.ok(only.value?.equals(big));
  });

  test('offsets by timestamp and the earliest and latest offsets', async () => {
    const topic = 'by-time';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    const base = Date.now() - 60_000;
    for (let i = 0; i < 10; i++) {
      await producer.send({ topic, messages: [{ value: `t${i}`, timestamp: String(base + i * 1000) }] });
    }
    await producer.disconnect();
    const [at] = await admin.fetchTopicOffsetsByTimestamp(topic, base + 4500);
    assert.equal(at.offset, '5');
    const [exact] = await admin.fetchTopicOffsetsByTimestamp(topic, base + 3000);
    assert.equal(exact.offset, '3');
    const [p] = await admin.fetchTopicOffsets(topic);
    assert.deepEqual([p.low, p.high], ['0', '10']);
    await admin.disconnect();
  });

  test('an unknown topic is created on first use with num.partitions', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'auto-created', messages: [{ value: 'hello' }] });
    await producer.disconnect();
    const meta = await admin.fetchTopicMetadata({ topics: ['auto-created'] });
    assert.equal(meta.topics[0].partitions.length, 1);
    assert.equal(meta.topics[0].partitions[0].leader, broker.broker.config.nodeId);
    await admin.disconnect();
  });
});

describe('fetch by copy instead of sendfile (sluice.fetch.transfer=copy)', () => {
  test('consumers get the same bytes, and the copy path is what counted them', async () => {
    const copying = await startTestBroker({ 'sluice.fetch.transfer': 'copy', 'group.initial.rebalance.delay.ms': '0' });
    try {
      const client = new Kafka({ clientId: 'copy-mode', brokers: [copying.bootstrap], logLevel: logLevel.NOTHING });
      const producer = client.producer();
      await producer.connect();
      const values = Array.from({ length: 200 }, (_, i) => `copied ${i} ${'#'.repeat(i)}`);
      await producer.send({ topic: 'copied', compression: CompressionTypes.GZIP, messages: values.map((value) => ({ value })) });
      await producer.disconnect();
      const consumer = client.consumer({ groupId: 'copy-readers' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'copied', fromBeginning: true });
      const got: string[] = [];
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push(message.value!.toString());
            if (got.length === values.length) resolve();
          },
        });
      });
      await consumer.disconnect();
      assert.deepEqual(got, values);
      const metrics = await copying.broker.metrics.registry.getSingleMetricAsString('sluice_fetch_bytes_total');
      assert.match(metrics, /path="copy"\} [1-9]/);
    } finally {
      await copying.stop();
    }
  });
});
