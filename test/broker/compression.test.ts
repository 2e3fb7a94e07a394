import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { inTopicCodec, topicCodec } from '../../src/broker/recompress.js';
import { CompressionType, compressionName } from '../../src/protocol/compression/index.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { validateRecordBatch } from '../../src/protocol/records/batch-validation.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordBatch } from '../../src/protocol/records/record-batch.js';
import { registerKafkajsCodecs } from '../support/kafkajs-codecs.js';
import { initProducerId, produceBatch, producerBatch } from '../support/raw-requests.js';
import { RawConnection } from '../support/raw-connection.js';
import { storedBatches } from '../support/stored-batches.js';
import { onThisNode, startTestBroker, type InProcessBroker } from '../support/test-broker.js';

const { Kafka, CompressionTypes, logLevel } = kafkajs;

registerKafkajsCodecs();

const TOPIC_TYPES = ['uncompressed', 'gzip', 'snappy', 'lz4', 'zstd', 'producer'] as const;

/** kafkajs's codec ids are Kafka's, i.e. ours. */
const PRODUCER_CODECS: readonly [CompressionType, kafkajs.CompressionTypes][] = [
  [CompressionType.None, CompressionTypes.None],
  [CompressionType.Gzip, CompressionTypes.GZIP],
  [CompressionType.Snappy, CompressionTypes.Snappy],
  [CompressionType.Lz4, CompressionTypes.LZ4],
  [CompressionType.Zstd, CompressionTypes.ZSTD],
];

const BASE_TIMESTAMP = 1_700_000_000_000;

interface Sent {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  timestamp: number;
}

/** Messages compressible enough to tell codecs apart, with null keys, headers and spread timestamps. */
function messages(tag: string): Sent[] {
  return Array.from({ length: 20 }, (_, i): Sent => ({
    key: i % 5 === 0 ? null : `key-${i}`,
    value: `${tag} value ${i} `.repeat(10),
    headers: i % 2 === 0 ? { trace: `t-${i}`, origin: tag } : {},
    timestamp: BASE_TIMESTAMP + i * 7,
  }));
}

/** The records of stored batches in the shape they were sent in. */
function asSent(batches: RecordBatch[]): Sent[] {
  return batches.flatMap((b) =>
    b.records.map((r) => ({
      key: r.key === null ? null : r.key.toString(),
      value: r.value!.toString(),
      headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value!.toString()])),
      timestamp: Number(b.baseTimestamp) + r.timestampDelta,
    })),
  );
}

describe('compression.type: what is stored, for every topic setting and producer codec', () => {
  let broker: InProcessBroker;
  let kafka: kafkajs.Kafka;
  let producer: kafkajs.Producer;

  before(async () => {
    broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0' });
    kafka = new Kafka({ clientId: 'compression-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    producer = kafka.producer();
    await producer.connect();
  });

  after(async () => {
    await producer.disconnect();
    await broker.stop();
  });

  for (const topicType of TOPIC_TYPES) {
    for (const [codec, kafkajsCodec] of PRODUCER_CODECS) {
      const expected = topicType === 'producer' ? codec : topicCodec(topicType)!;
      test(`compression.type=${topicType}, producer ${compressionName(codec)}: stored as ${compressionName(expected)}, records intact`, async () => {
        const topic = `c-${topicType}-${compressionName(codec)}`;
        await broker.broker.partitions.createTopic(topic, onThisNode(1), { 'compression.type': topicType });
        const sent = messages(topic);
        // Two sends: two batches, so offsets and timestamps continue across re-encoded batches.
        for (const part of [sent.slice(0, 12), sent.slice(12)]) {
          await producer.send({
            topic,
            acks: -1,
            compression: kafkajsCodec,
            messages: part.map((m) => ({ key: m.key, value: m.value, headers: m.headers, timestamp: String(m.timestamp) })),
          });
        }
        const batches = storedBatches(broker.broker.partitions.get(topic, 0)!);
        assert.equal(batches.length, 2);
        assert.deepEqual(
          batches.map((b) => compressionName(b.compression)),
          [compressionName(expected), compressionName(expected)],
        );
        assert.deepEqual(
          batches.map((b) => [b.baseOffset, b.lastOffsetDelta]),
          [
            [0n, 11],
            [12n, 7],
          ],
        );
        assert.deepEqual(asSent(batches), sent);
      });
    }
  }

  test('a consumer reads recompressed batches', async () => {
    const topic = 'c-zstd-read-back';
    await broker.broker.partitions.createTopic(topic, onThisNode(1), { 'compression.type': 'zstd' });
    const sent = messages(topic);
    await producer.send({
      topic,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: sent.map((m) => ({ key: m.key, value: m.value, headers: m.headers, timestamp: String(m.timestamp) })),
    });
    const consumer = kafka.consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    const got: Sent[] = [];
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of ${sent.length}`)), 20_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push({
              key: message.key === null ? null : message.key.toString(),
              value: message.value!.toString(),
              headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
              timestamp: Number(message.timestamp),
            });
            if (got.length === sent.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(got, sent);
  });
});

describe('recompression keeps the batch but its codec', () => {
  const batch = (compression: CompressionType): Buffer =>
    encodeRecordBatch({
      compression,
      timestampType: 'log-append',
      producerId: 42n,
      producerEpoch: 3,
      baseSequence: 1000,
      partitionLeaderEpoch: 7,
      baseTimestamp: 1_000n,
      maxTimestamp: 5_000n,
      records: [
        { key: Buffer.from('a'), value: Buffer.from('x'.repeat(300)), timestampDelta: 0, headers: [{ key: 'h', value: null }] },
        { key: null, value: null, timestampDelta: 2_500, attributes: 0 },
      ],
    });

  test('"producer", or the codec the batch has, keeps the very buffer', () => {
    const gzip = batch(CompressionType.Gzip);
    assert.equal(inTopicCodec(gzip, topicCodec('producer')), gzip);
    assert.equal(inTopicCodec(gzip, topicCodec('gzip')), gzip);
    const none = batch(CompressionType.None);
    assert.equal(inTopicCodec(none, topicCodec('uncompressed')), none);
  });

  test('another codec re-encodes the records and keeps every other field', () => {
    const original = batch(CompressionType.Snappy);
    for (const target of ['uncompressed', 'gzip', 'lz4', 'zstd']) {
      const recoded = inTopicCodec(original, topicCodec(target));
      assert.notEqual(recoded, original);
      assert.equal(validateRecordBatch(recoded).recordCount, 2);
      const before = decodeRecordBatch(original);
      const after = decodeRecordBatch(recoded);
      assert.equal(after.compression, topicCodec(target));
      const { compression: _c, attributes: _a, crc: _crc, batchLength: _l, ...kept } = before;
      const { compression: _c2, attributes: _a2, crc: _crc2, batchLength: _l2, ...keptAfter } = after;
      assert.deepEqual(keptAfter, kept);
    }
  });
});

describe('produce checks around compression', () => {
  let broker: InProcessBroker;
  let client: RawConnection;

  before(async () => {
    broker = await startTestBroker();
    client = await RawConnection.open(broker.broker.listeners[0].port);
  });

  after(async () => {
    client.destroy();
    await broker.stop();
  });

  test('an idempotent batch is recompressed with its sequence, and its retry still recognised', async () => {
    await broker.broker.partitions.createTopic('idem-lz4', onThisNode(1), { 'compression.type': 'lz4' });
    const { producerId } = await initProducerId(client);
    const sent = producerBatch({ producerId, epoch: 0, sequence: 0, count: 4, compression: CompressionType.Gzip });
    assert.equal((await produceBatch(client, 'idem-lz4', 0, sent)).baseOffset, 0n);
    assert.equal((await produceBatch(client, 'idem-lz4', 0, sent)).baseOffset, 0n);
    const [stored, ...rest] = storedBatches(broker.broker.partitions.get('idem-lz4', 0)!);
    assert.equal(rest.length, 0);
    assert.equal(stored.compression, CompressionType.Lz4);
    assert.deepEqual([stored.producerId, stored.producerEpoch, stored.baseSequence], [producerId, 0, 0]);
    assert.deepEqual(
      stored.records.map((r) => r.value!.toString()),
      ['s0-0', 's0-1', 's0-2', 's0-3'],
    );
  });

  test('compression.gzip.level and compression.zstd.level set the level the broker recompresses with', async () => {
    // Text that compresses well, and better with effort.
    const words = Array.from({ length: 4000 }, (_, i) => `w${(i * 7919) % 1013}`).join(' ');
    const plain = encodeRecordBatch({ baseTimestamp: 0n, records: [{ key: null, value: Buffer.from(words) }] });
    const storedSize = async (codec: string, level: string): Promise<number> => {
      const topic = `levels-${codec}-${level}`;
      await broker.broker.partitions.createTopic(topic, onThisNode(1), { 'compression.type': codec, [`compression.${codec}.level`]: level });
      assert.equal((await produceBatch(client, topic, 0, plain)).errorCode, ErrorCode.NONE);
      const [stored] = storedBatches(broker.broker.partitions.get(topic, 0)!);
      assert.equal(stored.records[0].value!.toString(), words);
      return stored.batchLength;
    };
    assert.ok((await storedSize('gzip', '1')) > (await storedSize('gzip', '9')), 'gzip 9 smaller than gzip 1');
    assert.ok((await storedSize('zstd', '1')) > (await storedSize('zstd', '19')), 'zstd 19 smaller than zstd 1');
  });

  test('max.message.bytes applies to the batch as stored, after recompression', async () => {
    await broker.broker.partitions.createTopic('small-plain', onThisNode(1), { 'compression.type': 'uncompressed', 'max.message.bytes': '1000' });
    const squeezed = encodeRecordBatch({
      compression: CompressionType.Gzip,
      baseTimestamp: 0n,
      records: [{ key: null, value: Buffer.alloc(5000, 'a') }],
    });
    assert.ok(squeezed.length < 1000);
    const res = await produceBatch(client, 'small-plain', 0, squeezed);
    assert.equal(res.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    assert.equal(broker.broker.partitions.get('small-plain', 0)!.log.logEndOffset, 0);
  });

  test('zstd before Produce v7 is UNSUPPORTED_COMPRESSION_TYPE', async () => {
    await broker.broker.partitions.createTopic('zstd-old-client', onThisNode(1), {});
    const zstd = encodeRecordBatch({ compression: CompressionType.Zstd, baseTimestamp: 0n, records: [{ key: null, value: Buffer.from('v') }] });
    assert.equal((await produceBatch(client, 'zstd-old-client', 0, zstd, { version: 6 })).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    assert.equal((await produceBatch(client, 'zstd-old-client', 0, zstd, { version: 7 })).errorCode, ErrorCode.NONE);
  });
});
