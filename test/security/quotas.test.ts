import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { Broker } from '../../src/broker/broker.js';
import { log } from '../../src/log.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { AlterClientQuotasRequestEntryData } from '../../src/protocol/generated/messages/alter-client-quotas-request.js';
import type { DescribeClientQuotasRequestComponentData } from '../../src/protocol/generated/messages/describe-client-quotas-request.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { ClientQuotas } from '../../src/security/quotas/client-quotas.js';
import { sluice } from '../cli/sluice-cli.js';
import { assertSucceeded } from '../support/commands.js';
import { RawConnection } from '../support/raw-connection.js';
import { fetchRequest } from '../support/raw-requests.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

/** Short windows, so that a client over its quota is measured over about a second, not ten. */
const WINDOWS = { 'quota.window.num': '2', 'quota.window.size.seconds': '1' };

const portOf = (b: InProcessBroker): number => Number(b.bootstrap.split(':').pop());

async function alter(conn: RawConnection, entries: AlterClientQuotasRequestEntryData[], validateOnly = false) {
  return (await conn.request(apis.AlterClientQuotas, 1, { entries, validateOnly })).entries;
}

async function describeQuotas(conn: RawConnection, components: DescribeClientQuotasRequestComponentData[], strict = false) {
  return conn.request(apis.DescribeClientQuotas, 1, { components, strict });
}

const user = (name: string | null) => ({ entityType: 'user', entityName: name });
const client = (name: string | null) => ({ entityType: 'client-id', entityName: name });
const set = (key: string, value: number) => ({ key, value, remove: false });

/** A counter's value by label, read from the broker's /metrics registry. */
async function counter(broker: Broker, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await broker.metrics.registry.getSingleMetric(name)?.get()) as { values: { labels: Record<string, string>; value: number }[] } | undefined;
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

describe('client quotas', () => {
  let broker: InProcessBroker;
  let conn: RawConnection;

  before(async () => {
    broker = await startTestBroker(WINDOWS);
    conn = await RawConnection.open(portOf(broker));
  });
  after(async () => {
    conn.destroy();
    await broker.stop();
  });

  test('AlterClientQuotas refuses what Kafka refuses, entry by entry, with INVALID_REQUEST', async () => {
    const results = await alter(conn, [
      { entity: [user('v1')], ops: [set('no_such_quota', 1)] },
      { entity: [{ entityType: 'ip', entityName: '10.0.0.1' }, user('v1')], ops: [set('connection_creation_rate', 1)] },
      { entity: [{ entityType: 'group', entityName: 'g' }], ops: [set('producer_byte_rate', 1)] },
      { entity: [user('v1')], ops: [set('connection_creation_rate', 5)] },
      { entity: [user('v1')], ops: [set('producer_byte_rate', 10.5)] },
      { entity: [], ops: [set('producer_byte_rate', 1)] },
      { entity: [user('v1')], ops: [set('producer_byte_rate', 1000)] },
    ]);
    assert.deepEqual(
      results.map((r) => r.errorCode),
      [...Array(6).fill(ErrorCode.INVALID_REQUEST), ErrorCode.NONE],
    );
    assert.match(results[0].errorMessage ?? '', /no_such_quota/);
    const described = await describeQuotas(conn, [{ entityType: 'user', matchType: 0, match: 'v1' }]);
    assert.deepEqual(described.entries, [{ entity: [user('v1')], values: [{ key: 'producer_byte_rate', value: 1000 }] }]);
  });

  test('validate_only checks and keeps nothing', async () => {
    const [ok] = await alter(conn, [{ entity: [user('dry')], ops: [set('consumer_byte_rate', 5000)] }], true);
    assert.equal(ok.errorCode, ErrorCode.NONE);
    const [bad] = await alter(conn, [{ entity: [user('dry')], ops: [set('consumer_byte_rate', -1)] }], true);
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    assert.deepEqual((await describeQuotas(conn, [{ entityType: 'user', matchType: 0, match: 'dry' }])).entries, []);
  });

  test('DescribeClientQuotas filters by exact name, default and any name, strictly or not', async () => {
    await alter(conn, [
      { entity: [user('d1')], ops: [set('request_percentage', 50)] },
      { entity: [user('d1'), client('c1')], ops: [set('producer_byte_rate', 2000)] },
      { entity: [user(null)], ops: [set('consumer_byte_rate', 3000)] },
    ]);
    const entities = async (components: DescribeClientQuotasRequestComponentData[], strict: boolean) =>
      ((await describeQuotas(conn, components, strict)).entries ?? []).map((e) => e.entity.map((p) => `${p.entityType}=${p.entityName ?? '<default>'}`).join(',')).sort();
    assert.deepEqual(await entities([{ entityType: 'user', matchType: 0, match: 'd1' }], false), ['user=d1', 'user=d1,client-id=c1']);
    assert.deepEqual(await entities([{ entityType: 'user', matchType: 0, match: 'd1' }], true), ['user=d1']);
    assert.deepEqual(await entities([{ entityType: 'user', matchType: 1, match: null }], true), ['user=<default>']);
    assert.ok(!(await entities([{ entityType: 'user', matchType: 2, match: null }], true)).includes('user=<default>'));
    const bad = await describeQuotas(conn, [{ entityType: 'user', matchType: 0, match: null }]);
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(bad.entries, null);
    const mixed = await describeQuotas(conn, [{ entityType: 'ip', matchType: 2, match: null }, { entityType: 'user', matchType: 2, match: null }]);
    assert.equal(mixed.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test("a client's quota is the most specific one set (KIP-55 precedence)", async () => {
    const image = broker.broker.metadata;
    const quotas = new ClientQuotas((key) => image.clientQuotas.get(key), () => ({ samples: 11, windowMs: 1000 }));
    const bound = (u: string, c: string) => quotas.limit('produce', u, c)?.bound ?? null;
    const steps: [AlterClientQuotasRequestEntryData['entity'], number, string, string][] = [
      [[client(null)], 8, 'pu', 'pc'],
      [[client('pc')], 7, 'pu', 'pc'],
      [[user(null)], 6, 'pu', 'pc'],
      [[user(null), client(null)], 5, 'pu', 'pc'],
      [[user(null), client('pc')], 4, 'pu', 'pc'],
      [[user('pu')], 3, 'pu', 'pc'],
      [[user('pu'), client(null)], 2, 'pu', 'pc'],
      [[user('pu'), client('pc')], 1, 'pu', 'pc'],
    ];
    for (const [entity, value, u, c] of steps) {
      const [r] = await alter(conn, [{ entity, ops: [set('producer_byte_rate', value)] }]);
      assert.equal(r.errorCode, ErrorCode.NONE);
      assert.equal(bound(u, c), value, `after setting ${JSON.stringify(entity)}`);
    }
    // Others fall back along the same order.
    assert.equal(bound('pu', 'other'), 2);
    assert.equal(bound('other', 'pc'), 4);
    assert.equal(bound('other', 'other'), 5);
    // A quota on /users/pu is one budget for all of pu's clients; on /clients/<default>, one per client.
    await alter(conn, [{ entity: [user('pu'), client(null)], ops: [{ key: 'producer_byte_rate', value: 0, remove: true }] }]);
    assert.equal(quotas.limit('produce', 'pu', 'x')?.rateKey, quotas.limit('produce', 'pu', 'y')?.rateKey);
    // The defaults set here would apply to every other test's clients.
    const removed = await alter(conn, steps.map(([entity]) => ({ entity, ops: [{ key: 'producer_byte_rate', value: 0, remove: true }] })));
    assert.ok(removed.every((r) => r.errorCode === ErrorCode.NONE));
  });

  test('a producer over its producer_byte_rate is told throttle_time_ms and slowed to about its quota', async () => {
    const quota = 256 * 1024;
    for (const clientId of ['sluice-raw', 'quota-producer']) {
      const [r] = await alter(conn, [{ entity: [client(clientId)], ops: [set('producer_byte_rate', quota)] }]);
      assert.equal(r.errorCode, ErrorCode.NONE);
    }
    const kafka = new Kafka({ clientId: 'quota-producer', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'quota-topic', numPartitions: 1 }] });
    await admin.disconnect();

    // Raw requests show the throttle time itself.
    const value = Buffer.alloc(64 * 1024, 1);
    let throttled = 0;
    for (let i = 0; i < 12 && throttled === 0; i++) {
      const records = encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: null, value, timestampDelta: 0, headers: [] }] });
      const res = await conn.request(apis.Produce, 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: 'quota-topic', partitionData: [{ index: 0, records }] }] });
      assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
      throttled = res.throttleTimeMs;
    }
    assert.ok(throttled > 0, 'a producer far over its quota is told to wait');

    // A real client is slowed: what it achieves stays near its quota (loosely: under twice it).
    const producer = kafka.producer();
    await producer.connect();
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < 3000) {
      await producer.send({ topic: 'quota-topic', acks: 1, messages: Array.from({ length: 4 }, () => ({ value })) });
      sent += 4 * value.length;
    }
    const rate = sent / ((Date.now() - started) / 1000);
    await producer.disconnect();
    assert.ok(rate < 2 * quota, `achieved ${Math.round(rate)} B/s against a quota of ${quota} B/s`);
    assert.ok((await counter(broker.broker, 'sluice_throttled_requests_total', { quota_type: 'produce' })) > 0);
    assert.ok((await counter(broker.broker, 'sluice_throttle_time_ms_total', { quota_type: 'produce' })) > 0);
  });

  test('a consumer over its consumer_byte_rate is told throttle_time_ms', async () => {
    const [r] = await alter(conn, [{ entity: [client('sluice-raw')], ops: [set('consumer_byte_rate', 64 * 1024)] }]);
    assert.equal(r.errorCode, ErrorCode.NONE);
    const topicId = broker.broker.metadata.topic('quota-topic')!.id;
    const res = await conn.request(apis.Fetch, 13, fetchRequest({ topicId }, [{ partition: 0 }], { maxBytes: 8 * 1024 * 1024, partitionMaxBytes: 8 * 1024 * 1024 }));
    assert.ok((res.responses[0].partitions[0].records?.byteLength ?? 0) > 1024 * 1024, 'the records produced before come back');
    assert.ok(res.throttleTimeMs > 0, 'a fetch of megabytes against 64 KiB/s is throttled');
    assert.ok((await counter(broker.broker, 'sluice_throttled_requests_total', { quota_type: 'fetch' })) > 0);
  });

  test('a client over its request_percentage is throttled on any request', async () => {
    const [r] = await alter(conn, [{ entity: [client('sluice-raw')], ops: [set('request_percentage', 0.001)] }]);
    assert.equal(r.errorCode, ErrorCode.NONE);
    let throttled = 0;
    for (let i = 0; i < 20 && throttled === 0; i++) {
      const md = await conn.request(apis.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      throttled = md.throttleTimeMs;
    }
    assert.ok(throttled > 0, 'Metadata answers carry the throttle time');
    assert.ok((await counter(broker.broker, 'sluice_throttled_requests_total', { quota_type: 'request' })) > 0);
    const removed = await alter(conn, [{ entity: [client('sluice-raw')], ops: [{ key: 'request_percentage', value: 0, remove: true }, { key: 'consumer_byte_rate', value: 0, remove: true }] }]);
    assert.equal(removed[0].errorCode, ErrorCode.NONE);
  });

  test('sluice quota set, list and remove', async () => {
    const b = ['--brokers', broker.bootstrap];
    assertSucceeded(await sluice(['quota', 'set', 'producer_byte_rate=1048576,consumer_byte_rate=2097152', '--user', 'cli-user', '--client-id', 'cli-client', ...b]), 'quota set');
    assertSucceeded(await sluice(['quota', 'set', 'request_percentage=200', '--user-default', ...b]), 'quota set default');
    const listed = await sluice(['quota', 'list', '--user', 'cli-user', ...b]);
    assertSucceeded(listed, 'quota list');
    assert.match(listed.stdout, /user=cli-user, client-id=cli-client\s+consumer_byte_rate\s+2097152/);
    assert.match(listed.stdout, /user=cli-user, client-id=cli-client\s+producer_byte_rate\s+1048576/);
    assert.match((await sluice(['quota', 'list', ...b])).stdout, /user=<default>\s+request_percentage\s+200/);
    assertSucceeded(await sluice(['quota', 'remove', 'producer_byte_rate', '--user', 'cli-user', '--client-id', 'cli-client', ...b]), 'quota remove');
    const after = (await sluice(['quota', 'list', '--user', 'cli-user', ...b])).stdout;
    assert.doesNotMatch(after, /producer_byte_rate/);
    assert.match(after, /consumer_byte_rate/);
    const refused = await sluice(['quota', 'set', 'connection_creation_rate=3', '--user', 'cli-user', ...b]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /INVALID_REQUEST/);
  });
});

test('client quotas survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-quotas-'));
  try {
    let broker = await startTestBroker({}, dir);
    let conn = await RawConnection.open(portOf(broker));
    const [r] = await alter(conn, [{ entity: [user('kept'), client(null)], ops: [set('consumer_byte_rate', 4096)] }]);
    assert.equal(r.errorCode, ErrorCode.NONE);
    conn.destroy();
    await broker.stop();
    broker = await startTestBroker({}, dir);
    conn = await RawConnection.open(portOf(broker));
    const described = await describeQuotas(conn, [{ entityType: 'user', matchType: 0, match: 'kept' }]);
    assert.deepEqual(described.entries, [{ entity: [user('kept'), client(null)], values: [{ key: 'consumer_byte_rate', value: 4096 }] }]);
    conn.destroy();
    await broker.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('max.connections.per.ip refuses the connections past it, logging once', async () => {
  const broker = await startTestBroker({ 'max.connections.per.ip': '2' });
  const warn = mock.method(log, 'warn');
  const open: RawConnection[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const c = await RawConnection.open(portOf(broker));
      open.push(c);
      assert.equal((await c.request(apis.ApiVersions, 3, { clientSoftwareName: 'q', clientSoftwareVersion: '1' })).errorCode, ErrorCode.NONE);
    }
    for (let i = 0; i < 3; i++) {
      const c = await RawConnection.open(portOf(broker));
      open.push(c);
      assert.ok(await c.closedByPeer(5000), `connection ${i + 3} is refused`);
    }
    const refusals = warn.mock.calls.filter((c) => String(c.arguments[1] ?? c.arguments[0]).includes('connection refused from'));
    assert.equal(refusals.length, 1, 'one log line for the address, not one per connection');
    assert.equal(await counter(broker.broker, 'sluice_connections_refused_total', { reason: 'max_connections_per_ip' }), 3);
    // A slot that frees up is taken again.
    open[0].destroy();
    let again: RawConnection | null = null;
    for (let attempt = 0; attempt < 50 && again === null; attempt++) {
      const c = await RawConnection.open(portOf(broker));
      open.push(c);
      if (!(await c.closedByPeer(100))) again = c;
    }
    assert.ok(again, 'a connection is accepted once another closed');
  } finally {
    warn.mock.restore();
    for (const c of open) c.destroy();
    await broker.stop();
  }
});

test('an address over its connection_creation_rate quota has connections closed', async () => {
  const broker = await startTestBroker(WINDOWS);
  const open: RawConnection[] = [];
  try {
    const admin = await RawConnection.open(portOf(broker));
    open.push(admin);
    const [r] = await alter(admin, [{ entity: [{ entityType: 'ip', entityName: '127.0.0.1' }], ops: [set('connection_creation_rate', 1)] }]);
    assert.equal(r.errorCode, ErrorCode.NONE);
    const burst: RawConnection[] = [];
    for (let i = 0; i < 6; i++) burst.push(await RawConnection.open(portOf(broker)));
    open.push(...burst);
    const closed = (await Promise.all(burst.map((c) => c.closedByPeer(3000)))).filter(Boolean).length;
    assert.ok(closed > 0, 'connections past the rate are closed');
    assert.ok((await counter(broker.broker, 'sluice_connections_refused_total', { reason: 'connection_creation_rate' })) > 0);
  } finally {
    for (const c of open) c.destroy();
    await broker.stop();
  }
});
