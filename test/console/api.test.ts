import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { choosePartition } from '../../src/console/partitioner.js';
import { RingBuffer, ThroughputSampler, type Totals } from '../../src/console/throughput.js';
import { eventually, http, laggingMember, startConsoleBroker, type ConsoleBroker } from './console-fixtures.js';

let b: ConsoleBroker;
const api = <T = any>(method: string, path: string, options?: Parameters<typeof http>[3]) => http<T>(b.base, method, path, options);

before(async () => {
  b = await startConsoleBroker();
});

after(async () => {
  await b.stop();
});

test('the overview names the broker, its listeners and what it holds', async () => {
  const admin = b.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'overview-topic', numPartitions: 2 }] });
  await admin.disconnect();
  const { status, body } = await api('GET', '/api/overview');
  assert.equal(status, 200);
  assert.equal(body.brokerId, 1);
  assert.equal(body.clusterId, b.broker.metadata.clusterId);
  assert.deepEqual(body.listeners, [`PLAINTEXT://${b.bootstrap}`]);
  assert.equal(body.advertised, `PLAINTEXT://${b.bootstrap}`);
  assert.ok(body.topics >= 1 && body.partitions >= 2, JSON.stringify(body));
  assert.ok(Array.isArray(body.throughput));
  assert.deepEqual([body.metadataStore, body.brokers, body.controllerId], ['embedded', 1, 1], 'one node, its own controller');
  assert.deepEqual([body.offlinePartitions, body.underReplicatedPartitions], [0, 0]);
  assert.equal(body.replicas, body.partitions, 'a single node holds every partition');
  assert.equal(body.leaders, body.partitions, 'and leads them all');
});

test('the cluster of a single node: itself, the controller, every partition led here and in sync', async () => {
  const { status, body } = await api('GET', '/api/cluster');
  assert.equal(status, 200);
  assert.equal(body.clusterId, b.broker.metadata.clusterId);
  assert.deepEqual([body.brokerId, body.controllerId], [1, 1]);
  assert.deepEqual(body.metadataStore, { kind: 'embedded', connected: true, writable: true, reason: null });
  const partitions = b.broker.metadata.allTopics().reduce((n, t) => n + t.partitions.length, 0);
  assert.ok(partitions >= 2, 'the overview test made a topic');
  assert.deepEqual(body.partitions, { partitions, offline: 0, underReplicated: 0, reassigning: 0 });
  assert.equal(body.topics, b.broker.metadata.allTopics().length);
  assert.deepEqual(body.brokers, [
    {
      id: 1,
      registered: true,
      address: b.bootstrap,
      endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: Number(b.bootstrap.split(':')[1]) }],
      rack: null,
      shuttingDown: false,
      controller: true,
      self: true,
      leaders: partitions,
      replicas: partitions,
    },
  ]);
  assert.deepEqual(body.unhealthy, []);
  const r = body.replication;
  assert.deepEqual([r.replicas, r.leaders, r.followers, r.offline, r.isrShrinks, r.isrExpands, r.lagging], [partitions, partitions, 0, 0, 0, 0, []]);
});

test('a topic created through the API has its partitions and overrides; mistakes are refused with the broker’s reason', async () => {
  const created = await api('POST', '/api/topics', { json: { name: 'made-here', partitions: 3, configs: { 'retention.ms': '3600000', 'cleanup.policy': 'compact' } } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.partitions, 3);
  assert.equal(b.broker.metadata.topic('made-here')?.partitions?.length, 3, 'the broker has it');

  const { body: detail } = await api('GET', '/api/topics/made-here');
  assert.deepEqual(
    detail.partitionDetails.map((p: any) => [p.partition, p.logStartOffset, p.logEndOffset, p.highWatermark, p.segments, p.role, p.lag, p.followers]),
    [
      [0, 0, 0, 0, [0], 'leader', 0, []],
      [1, 0, 0, 0, [0], 'leader', 0, []],
      [2, 0, 0, 0, [0], 'leader', 0, []],
    ],
  );
  assert.deepEqual(
    detail.placement.map((p: any) => [p.partition, p.leader, p.replicas, p.isr, p.offlineReplicas, p.adding, p.removing, p.offline, p.underReplicated]),
    [0, 1, 2].map((i) => [i, 1, [1], [1], [], [], [], false, false]),
  );
  assert.deepEqual([detail.replicasHere, detail.offline, detail.underReplicated], [3, 0, 0]);
  const config = (name: string) => detail.configs.find((c: any) => c.name === name);
  assert.deepEqual([config('retention.ms').value, config('retention.ms').overridden, config('retention.ms').source], ['3600000', true, 'TOPIC_CONFIG']);
  assert.deepEqual([config('cleanup.policy').value, config('cleanup.policy').overridden], ['compact', true]);
  assert.deepEqual([config('segment.bytes').overridden, config('segment.bytes').source], [false, 'DEFAULT_CONFIG']);
  assert.equal(detail.overrides, 2);

  const again = await api('POST', '/api/topics', { json: { name: 'made-here' } });
  assert.equal(again.status, 409);
  assert.equal(again.body.code, 'TOPIC_ALREADY_EXISTS');
  const badConfig = await api('POST', '/api/topics', { json: { name: 'bad-config', configs: { 'retention.ms': 'soon' } } });
  assert.equal(badConfig.status, 400);
  assert.match(badConfig.body.error, /retention\.ms/);
  const badName = await api('POST', '/api/topics', { json: { name: 'no spaces' } });
  assert.equal(badName.status, 400);
  assert.equal(badName.body.code, 'INVALID_TOPIC_EXCEPTION');
  const tooManyCopies = await api('POST', '/api/topics', { json: { name: 'three-copies', replicationFactor: 3 } });
  assert.equal(tooManyCopies.status, 400);
  assert.equal(tooManyCopies.body.code, 'INVALID_REPLICATION_FACTOR');
  const noPartitions = await api('POST', '/api/topics', { json: { name: 'zero', partitions: 0 } });
  assert.equal(noPartitions.status, 400);
  assert.equal((await api('GET', '/api/topics/nope')).status, 404);
  const listed = (await api<any[]>('GET', '/api/topics')).body.map((t) => t.name);
  assert.ok(listed.includes('made-here') && !listed.includes('bad-config') && !listed.includes('zero'), listed.join());
});

describe('message browser', () => {
  const topic = 'browse-me';
  const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);
  const base = Date.UTC(2024, 0, 1);

  before(async () => {
    const producer = b.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { partition: 0, key: 'k0', value: '{"n":0}', headers: { source: 'test', empty: '' }, timestamp: String(base) },
        { partition: 0, key: null, value: binary, timestamp: String(base + 1000) },
        { partition: 0, key: 'k2', value: 'plain text', timestamp: String(base + 2000) },
      ],
    });
    await producer.send({ topic, messages: [{ partition: 0, key: 'k3', value: 'later batch', timestamp: String(base + 3000) }] });
    await producer.disconnect();
  });

  test('records by offset: keys, values and headers as text and base64', async () => {
    const { status, body } = await api('GET', `/api/topics/${topic}/partitions/0/records?offset=0&limit=10`);
    assert.equal(status, 200);
    assert.deepEqual(
      body.records.map((r: any) => r.offset),
      [0, 1, 2, 3],
    );
    assert.deepEqual([body.logStartOffset, body.highWatermark, body.nextOffset], [0, 4, 4]);
    const [first, second] = body.records;
    assert.equal(first.timestamp, base);
    assert.deepEqual(first.key, { size: 2, encoding: 'base64', data: Buffer.from('k0').toString('base64'), text: 'k0' });
    assert.equal(first.value.text, '{"n":0}');
    assert.deepEqual(
      first.headers.map((h: any) => [h.key, h.value.text]),
      [
        ['source', 'test'],
        ['empty', ''],
      ],
    );
    assert.equal(second.key, null);
    assert.equal(second.value.text, null, 'invalid UTF-8 is not text');
    assert.equal(Buffer.from(second.value.data, 'base64').toString('hex'), binary.toString('hex'));
  });

  test('hex on request, pages that continue where the last one ended, and a start by time', async () => {
    const hex = await api('GET', `/api/topics/${topic}/partitions/0/records?offset=1&limit=1&encoding=hex`);
    assert.deepEqual(
      hex.body.records.map((r: any) => [r.offset, r.value.encoding, r.value.data]),
      [[1, 'hex', binary.toString('hex')]],
    );
    assert.equal(hex.body.nextOffset, 2, 'the page stopped inside a batch');
    const next = await api('GET', `/api/topics/${topic}/partitions/0/records?offset=${hex.body.nextOffset}&limit=1`);
    assert.deepEqual(
      next.body.records.map((r: any) => r.offset),
      [2],
    );

    const byTime = await api('GET', `/api/topics/${topic}/partitions/0/records?timestamp=${base + 1500}`);
    assert.deepEqual(
      byTime.body.records.map((r: any) => r.key?.text),
      ['k2', 'k3'],
    );
    const future = await api('GET', `/api/topics/${topic}/partitions/0/records?timestamp=${base + 10_000}`);
    assert.deepEqual([future.body.records.length, future.body.nextOffset], [0, 4]);
    const pastTheEnd = await api('GET', `/api/topics/${topic}/partitions/0/records?offset=99`);
    assert.deepEqual([pastTheEnd.body.records.length, pastTheEnd.body.nextOffset], [0, 4]);
  });

  test('bad questions get 400 or 404', async () => {
    assert.equal((await api('GET', `/api/topics/${topic}/partitions/0/records?offset=0&timestamp=1`)).status, 400);
    assert.equal((await api('GET', `/api/topics/${topic}/partitions/0/records?limit=0`)).status, 400);
    assert.equal((await api('GET', `/api/topics/${topic}/partitions/0/records?encoding=utf16`)).status, 400);
    assert.equal((await api('GET', `/api/topics/${topic}/partitions/7/records`)).status, 404);
    assert.equal((await api('GET', '/api/topics/missing/partitions/0/records')).status, 404);
    const unknown = await api('GET', '/api/no/such/thing');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /no API/);
  });
});

test('a test message produced through the API goes where a producer would put its key, and consumers read it', async () => {
  const topic = 'produced-here';
  assert.equal((await api('POST', '/api/topics', { json: { name: topic, partitions: 4 } })).status, 201);
  const keyed = await api('POST', `/api/topics/${topic}/records`, { json: { key: 'customer-42', value: '{"total":12}', headers: [{ key: 'origin', value: 'console' }] } });
  assert.equal(keyed.status, 201, keyed.text);
  const kafkajsPartition = Partitioners.DefaultPartitioner()({ topic, partitionMetadata: [0, 1, 2, 3].map((partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] })), message: { key: 'customer-42', value: null } });
  assert.equal(keyed.body.partition, kafkajsPartition);
  assert.equal(keyed.body.offset, 0);

  const explicit = await api('POST', `/api/topics/${topic}/records`, { json: { partition: 2, value: 'ff00', encoding: 'hex' } });
  assert.deepEqual([explicit.body.partition, explicit.body.offset], [2, kafkajsPartition === 2 ? 1 : 0]);

  const consumer = b.kafka.consumer({ groupId: 'reads-console-messages' });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: { partition: number; key: string | null; value: string; origin: string | null }[] = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push({ partition, key: message.key?.toString() ?? null, value: message.value!.toString('hex'), origin: message.headers?.origin?.toString() ?? null });
    },
  });
  await eventually('both messages', async () => (seen.length >= 2 ? true : undefined));
  await consumer.disconnect();
  seen.sort((x, y) => (x.key === null ? 1 : 0) - (y.key === null ? 1 : 0));
  assert.deepEqual(seen, [
    { partition: kafkajsPartition, key: 'customer-42', value: Buffer.from('{"total":12}').toString('hex'), origin: 'console' },
    { partition: 2, key: null, value: 'ff00', origin: null },
  ]);

  const badHex = await api('POST', `/api/topics/${topic}/records`, { json: { value: 'xyz', encoding: 'hex' } });
  assert.equal(badHex.status, 400);
  assert.equal((await api('POST', '/api/topics/nowhere/records', { json: { value: 'x' } })).status, 404);
  const badPartition = await api('POST', `/api/topics/${topic}/records`, { json: { partition: 9, value: 'x' } });
  assert.equal(badPartition.status, 404);
  assert.equal(badPartition.body.code, 'UNKNOWN_TOPIC_OR_PARTITION');
});

test('a consumer group: members, their partitions, committed offsets and lag', async () => {
  const topic = 'lagging';
  const admin = b.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = b.kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
  await producer.disconnect();

  const group = 'console/lag group';
  const started = Date.now();
  const member = await laggingMember(b.kafka, group, topic, 4);
  try {
    const path = `/api/groups/${encodeURIComponent(group)}`;
    const detail = await eventually('the commit', async () => {
      const r = await api(`GET`, path);
      return r.body?.partitions?.some((p: any) => p.committed === 4) ? r.body : undefined;
    });
    assert.equal(detail.groupId, group);
    assert.equal(detail.state, 'Stable');
    assert.deepEqual([detail.protocolType, detail.protocol], ['consumer', 'RoundRobinAssigner']);
    assert.equal(detail.memberDetails.length, 1);
    const m = detail.memberDetails[0];
    assert.equal(m.clientId, 'console-test');
    assert.match(m.clientHost, /127\.0\.0\.1/);
    assert.deepEqual(m.assignment, [{ topic, partitions: [0] }]);
    assert.equal(detail.partitions.length, 1);
    const { commitTimestamp, metadata, ...lag } = detail.partitions[0];
    assert.deepEqual(lag, { topic, partition: 0, committed: 4, highWatermark: 10, lag: 6, memberId: m.memberId });
    assert.ok(commitTimestamp >= started && commitTimestamp <= Date.now(), `committed at ${commitTimestamp}`);
    assert.equal(typeof metadata, 'string');
    assert.equal(detail.totalLag, 6);

    const list = await api<any[]>('GET', '/api/groups');
    const summary = list.body.find((g) => g.groupId === group);
    assert.deepEqual(summary, { groupId: group, state: 'Stable', protocolType: 'consumer', protocol: 'RoundRobinAssigner', members: 1, totalLag: 6 });
  } finally {
    await member.disconnect();
  }
  const left = await eventually('the member to leave', async () => {
    const r = await api('GET', `/api/groups/${encodeURIComponent(group)}`);
    return r.body.state === 'Empty' ? r.body : undefined;
  });
  assert.deepEqual(
    left.partitions.map((p: any) => [p.committed, p.lag, p.memberId]),
    [[4, 6, null]],
    'the offsets outlive the members',
  );
  assert.equal((await api('GET', '/api/groups/never-was')).status, 404);
});

test('the throughput series follows the broker’s counters', async () => {
  const before = await eventually('the first sample', async () => (await api('GET', '/api/overview')).body.totals ?? undefined);
  const producer = b.kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'browse-me', messages: Array.from({ length: 5 }, (_, i) => ({ partition: 0, value: `counted ${i}` })) });
  await producer.disconnect();
  const consumer = b.kafka.consumer({ groupId: 'reads-for-bytes-out' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'browse-me', fromBeginning: true });
  let read = 0;
  await consumer.run({ eachMessage: async () => void read++ });
  await eventually('the records', async () => (read >= 9 ? true : undefined));
  await consumer.disconnect();
  const after = await eventually('a sample after the fetch', async () => {
    const o = (await api('GET', '/api/overview')).body;
    return o.totals.bytesOut > before.bytesOut && o.totals.messagesIn >= before.messagesIn + 5 ? o : undefined;
  });
  assert.ok(after.totals.bytesIn > before.bytesIn);
  assert.ok(after.throughput.length > 0, 'one sample a second');
  assert.ok(
    after.throughput.some((s: any) => s.bytesOut > 0) && after.throughput.some((s: any) => s.messagesIn > 0),
    JSON.stringify(after.throughput),
  );
});

test('the pages are served with a policy that loads nothing from elsewhere', async () => {
  const page = await api('GET', '/');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(page.text, /<script type="module" src="app.js">/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
  const script = await api('GET', '/app.js');
  assert.equal(script.status, 200);
  assert.match(String(script.headers['content-type']), /javascript/);
  assert.equal((await api('GET', '/metrics')).status, 200, 'the metrics stay where they were');
});

test('other web sites cannot use a browser to reach the API', async () => {
  const rebound = await api('GET', '/api/topics', { headers: { host: 'attacker.example:8080' } });
  assert.equal(rebound.status, 403, 'a foreign name resolved to loopback (DNS rebinding)');
  const forged = await api('POST', '/api/topics', { json: { name: 'csrf' }, headers: { origin: 'https://attacker.example' } });
  assert.equal(forged.status, 403, 'a cross-site write');
  assert.equal(b.broker.metadata.topic('csrf'), undefined);
  const own = await api('POST', '/api/topics', { json: { name: 'same-origin' }, headers: { origin: b.base } });
  assert.equal(own.status, 201, 'the console’s own page may write');
  const viaLocalhost = await api('GET', '/api/topics', { headers: { host: `localhost:${new URL(b.base).port}` } });
  assert.equal(viaLocalhost.status, 200);
});

describe('pieces', () => {
  test('keyed partitions match Kafka’s default partitioner (kafkajs’s port of it)', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 7, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
      for (let i = 0; i < 200; i++) {
        const key = `key-${i}-${'x'.repeat(i % 9)}`;
        assert.equal(choosePartition(Buffer.from(key), partitions), partitioner({ topic: 't', partitionMetadata, message: { key, value: null } }), key);
      }
    }
    const spread = new Set(Array.from({ length: 100 }, () => choosePartition(null, 5)));
    assert.ok(spread.size > 1, 'unkeyed messages are spread');
  });

  test('the ring buffer keeps the latest items in order', () => {
    const ring = new RingBuffer<number>(3);
    assert.deepEqual(ring.toArray(), []);
    for (let i = 1; i <= 5; i++) ring.push(i);
    assert.deepEqual(ring.toArray(), [3, 4, 5]);
  });

  test('the sampler turns totals into rates per second, and into mean rates over its history', async () => {
    const none = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesConsumed: 0, isrShrinks: 0, isrExpands: 0 };
    let totals: Totals = none;
    const sampler = new ThroughputSampler(async () => totals, 2);
    await sampler.sample(1000);
    assert.deepEqual(sampler.series(), [], 'the first sample is the baseline');
    assert.equal(sampler.meanRates(), null);
    totals = { bytesIn: 500, bytesOut: 100, messagesIn: 10, messagesConsumed: 4, isrShrinks: 1, isrExpands: 0 };
    await sampler.sample(1500);
    assert.deepEqual(sampler.series(), [{ time: 1500, bytesIn: 1000, bytesOut: 200, messagesIn: 20, messagesConsumed: 8, isrShrinks: 2, isrExpands: 0 }]);
    await sampler.sample(2500);
    totals = { ...totals, isrExpands: 3 };
    await sampler.sample(3500);
    assert.deepEqual(
      sampler.series().map((s) => s.time),
      [2500, 3500],
    );
    assert.deepEqual(sampler.latestTotals(), totals);
    assert.deepEqual(sampler.meanRates(), { time: 3500, ...none, isrExpands: 1.5 }, 'from the oldest sample held, at 1500, on');

    await sampler.sample(3000);
    assert.deepEqual(sampler.series(), [], 'a clock that went back starts the history again');
    assert.deepEqual(sampler.latestTotals(), totals);
  });
});
