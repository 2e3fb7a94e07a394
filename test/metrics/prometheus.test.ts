import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { getHeapStatistics } from 'node:v8';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
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
