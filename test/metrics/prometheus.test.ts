import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { getHeapStatistics } from 'node:v8';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { nativeAddon } from '../../src/native/addon.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }[];
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

let broker: InProcessBroker;
let kafka: Kafka;

before(async () => {
  broker = await startTestBroker({ 'sluice.console.listener': '127.0.0.1:0', 'group.initial.rebalance.delay.ms': '0' });
  kafka = new Kafka({ clientId: 'metrics-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

async function scrape(from: InProcessBroker = broker): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${from.broker.consolePort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return new Map(parse(await res.text()).map((f) => [f.name, f]));
}

const sample = (f: Family | undefined, labels: Record<string, string>): number => {
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? Number.NaN : Number(m.value);
};

test('/health and /ready answer', async () => {
  const base = `http://127.0.0.1:${broker.broker.consolePort}`;
  assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ok', metadataStore: 'embedded', connected: true, writable: true, reason: null });
  assert.deepEqual(await (await fetch(`${base}/ready`)).json(), { status: 'ready' });
});

test('/metrics parses and its counters move with traffic', async () => {
  const topic = 'metered';
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
  const before = await scrape();
  const inBefore = sample(before.get('kafka_server_brokertopicmetrics_messagesin_total'), { topic });
  assert.equal(inBefore, 10);
  await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ value: `n${i}` })) });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'metered-group' });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (++seen === 3) await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        if (seen === 15) resolve();
      },
    });
  });
  await consumer.disconnect();

  const after = await scrape();
  assert.equal(sample(after.get('kafka_server_brokertopicmetrics_messagesin_total'), { topic }), 15);
  assert.ok(sample(after.get('kafka_server_brokertopicmetrics_bytesin_total'), { topic }) > sample(before.get('kafka_server_brokertopicmetrics_bytesin_total'), { topic }));
  assert.ok(sample(after.get('kafka_server_brokertopicmetrics_bytesout_total'), { topic }) > 0);
  assert.ok(sample(after.get('kafka_network_requestmetrics_requests_total'), { request: 'Produce' }) >= 2);
  const latency = after.get('kafka_network_requestmetrics_totaltime_seconds');
  assert.equal(latency?.type, 'HISTOGRAM');
  assert.ok(latency!.metrics.some((m) => Number(m.buckets?.['+Inf']) > 0), 'request latencies are observed');
  assert.ok(sample(after.get('kafka_log_log_size'), { topic, partition: '0' }) > 0);
  assert.equal(sample(after.get('kafka_log_log_logendoffset'), { topic, partition: '0' }), 15);
  assert.equal(sample(after.get('kafka_consumergroup_lag'), { consumergroup: 'metered-group', topic, partition: '0' }), 12);
  assert.equal(sample(after.get('kafka_server_replicamanager_underreplicatedpartitions'), {}), 0);
  const zeroCopy = after.get('sluice_fetch_bytes_total');
  assert.ok(sample(zeroCopy, { path: 'sendfile' }) + sample(zeroCopy, { path: 'copy' }) > 0, 'fetched bytes are counted by path');
});

test("/metrics shows the process's memory, heap limit and file descriptors, in every broker of the process", async () => {
  const other = await startTestBroker({ 'sluice.console.listener': '127.0.0.1:0' });
  try {
    for (const from of [broker, other]) {
      const families = await scrape(from);
      const value = (name: string): number => sample(families.get(name), {});
      const limit = value('nodejs_heap_size_limit_bytes');
      assert.equal(limit, getHeapStatistics().heap_size_limit);
      const used = value('nodejs_heap_size_used_bytes');
      assert.ok(used > 0 && used < limit, `heap use ${used} is below the limit ${limit}`);
      assert.ok(value('process_resident_memory_bytes') > used, 'the resident set holds the heap');
      const fds = value('process_open_fds');
      assert.ok(fds > 0 && fds < value('process_max_fds'), `${fds} descriptors open, under the limit`);
      assert.ok(families.has('nodejs_eventloop_lag_seconds') && families.has('nodejs_gc_duration_seconds'));
    }
    const otherFamilies = await scrape(other);
    assert.ok(Number.isNaN(sample(otherFamilies.get('kafka_server_brokertopicmetrics_messagesin_total'), { topic: 'metered' })), 'broker metrics stay apart');
  } finally {
    await other.stop();
  }
});

test('/metrics counts the next segments of mmap append mode: asked for, prepared, and taken by a roll', { skip: nativeAddon ? false : 'without the native addon mmap mode writes instead' }, async () => {
  const topic = 'mapped';
  const admin = kafka.admin();
  await admin.connect();
  const configEntries = [
    { name: 'sluice.log.append.mode', value: 'mmap' },
    { name: 'segment.bytes', value: String(64 * 1024) },
  ];
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries }] });
  await admin.disconnect();
  const events = async (): Promise<Record<string, number>> => {
    const family = (await scrape()).get('sluice_log_next_segment_events_total');
    return Object.fromEntries(['requested', 'prepared', 'taken'].map((event) => [event, sample(family, { event }) || 0]));
  };
  const before = await events();
  const producer = kafka.producer();
  await producer.connect();
  const send = (count: number) => producer.send({ topic, messages: Array.from({ length: count }, () => ({ value: Buffer.alloc(1024, 7) })) });
  // 16 KiB is past an eighth of the segment: its successor is asked for, and prepared off the loop.
  await send(16);
  let now = await events();
  for (let i = 0; i < 100 && now.prepared === before.prepared; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    now = await events();
  }
  for (let i = 0; i < 5; i++) await send(16);
  await producer.disconnect();
  const after = await events();
  for (const event of ['requested', 'prepared', 'taken']) assert.ok(after[event] > before[event], `${event}: ${before[event]} -> ${after[event]}`);
});
