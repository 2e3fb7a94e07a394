import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, mock, test } from 'node:test';
import kafkajs from 'kafkajs';
import { AUTHORIZED_OPERATIONS, OPERATIONS_OMITTED } from '../../src/broker/handlers/authorized-operations.js';
import { log } from '../../src/log.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { createFetchRequest } from '../../src/protocol/generated/messages/fetch-request.js';
import { createProduceRequest } from '../../src/protocol/generated/messages/produce-request.js';
import { encodeRequestFrame } from '../../src/protocol/headers.js';
import { ZERO_UUID } from '../../src/protocol/primitives/uuid.js';
import { CompressionType } from '../../src/protocol/compression/index.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { runPlatformaticAdmin } from '../support/platformatic-admin.js';
import { findNodeForPlatformatic } from '../support/platformatic-runner.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, produceBatch, topicMetadata } from '../support/raw-requests.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { kafkaPython, PYTHON, skipUnlessPresent, type Tool } from '../support/tools.js';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);
const OLD_VERSIONS_PY = join(import.meta.dirname, '../support/python/old_versions.py');

/**
 * Apache Kafka 3.9 serves every version of these APIs from 0 (Kafka 4.0 removed many, KIP-896).
 * Sluice serves them all from 0 too, except the versions carrying the legacy v0/v1 message
 * formats: Produce v0-2 and Fetch v0-3.
 */
const LEGACY_FORMAT_FLOORS: Record<string, number> = { Produce: 3, Fetch: 4 };

/** Three batches of one record each, then `n` records in all: the log end is 3. */
function oneRecordBatch(value: string, timestamp = Date.now()): Buffer {
  return encodeRecordBatch({ baseTimestamp: BigInt(timestamp), records: [{ key: null, value: Buffer.from(value), timestampDelta: 0, headers: [] }] });
}

async function listOffsetsV0(client: RawConnection, topic: string, partition: number, timestamp: bigint, maxNumOffsets: number) {
  const res = await client.request(apis.ListOffsets, 0, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets }] }],
    timeoutMs: 0,
  });
  return res.topics[0].partitions[0];
}

async function listOffsets(client: RawConnection, version: number, topic: string, timestamp: bigint) {
  const res = await client.request(apis.ListOffsets, version, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
    timeoutMs: 5000,
  });
  return res.topics[0].partitions[0];
}

describe('version floors: what Kafka 3.9 serves, raw requests', () => {
  let broker: InProcessBroker;
  let client: RawConnection;

  before(async () => {
    broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0' });
    client = await RawConnection.open(broker.broker.listeners[0].port);
  });

  after(async () => {
    client.destroy();
    await broker.stop();
  });

  test('every API is served from v0, but Produce from v3 and Fetch from v4; ApiVersions says so (Produce from v0, as Kafka 4 does)', async () => {
    for (const range of broker.broker.router.supportedApis()) {
      const name = Object.values(apis).find((a) => a.apiKey === range.apiKey)!.name;
      assert.equal(range.minVersion, LEGACY_FORMAT_FLOORS[name] ?? 0, `${name}'s lowest version`);
    }
    const res = await client.request(apis.ApiVersions, 3, { clientSoftwareName: 'floors', clientSoftwareVersion: '1' });
    assert.equal(res.errorCode, ErrorCode.NONE);
    const advertised = new Map(res.apiKeys.map((r) => [Object.values(apis).find((a) => a.apiKey === r.apiKey)!.name, r.minVersion]));
    // Produce v0 is advertised though refused (KAFKA-18659, see handlers/api-versions.ts).
    assert.deepEqual([advertised.get('Produce'), advertised.get('Fetch'), advertised.get('ListOffsets'), advertised.get('OffsetForLeaderEpoch')], [0, 4, 0, 0]);
    for (const [name, min] of advertised) if (name !== 'Produce') assert.equal(min, LEGACY_FORMAT_FLOORS[name] ?? 0, name);
  });

  test('ListOffsets v0: the log end and segment starts, largest first, up to maxNumOffsets', async () => {
    assert.equal(await createTopic(client, 'floors-lo-v0', {}, 2), ErrorCode.NONE);
    for (const v of ['a', 'b', 'c']) assert.equal((await produceBatch(client, 'floors-lo-v0', 0, oneRecordBatch(v))).errorCode, ErrorCode.NONE);

    const latest = await listOffsetsV0(client, 'floors-lo-v0', 0, -1n, 1);
    assert.equal(latest.errorCode, ErrorCode.NONE);
    assert.deepEqual(latest.oldStyleOffsets, [3n]);
    assert.deepEqual((await listOffsetsV0(client, 'floors-lo-v0', 0, -1n, 10)).oldStyleOffsets, [3n, 0n], 'the log end, then the one segment');
    assert.deepEqual((await listOffsetsV0(client, 'floors-lo-v0', 0, -2n, 1)).oldStyleOffsets, [0n]);
    assert.deepEqual((await listOffsetsV0(client, 'floors-lo-v0', 0, BigInt(Date.now() + 3_600_000), 10)).oldStyleOffsets, [3n, 0n]);
    assert.deepEqual((await listOffsetsV0(client, 'floors-lo-v0', 0, 0n, 10)).oldStyleOffsets, [], 'no segment is that old');
    assert.deepEqual((await listOffsetsV0(client, 'floors-lo-v0', 1, -1n, 1)).oldStyleOffsets, [0n], 'an empty partition');
    const unknown = await listOffsetsV0(client, 'floors-lo-v0', 9, -1n, 1);
    assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual(unknown.oldStyleOffsets, []);
    // v1 still answers with one offset.
    assert.equal((await listOffsets(client, 1, 'floors-lo-v0', -1n)).offset, 3n);
  });

  test('OffsetForLeaderEpoch v0 and v1: the end offset of the epoch (v1 with the epoch)', async () => {
    assert.equal(await createTopic(client, 'floors-ofle'), ErrorCode.NONE);
    for (const v of ['a', 'b']) await produceBatch(client, 'floors-ofle', 0, oneRecordBatch(v));
    const epoch = (await topicMetadata(client, 'floors-ofle')).partitions[0].leaderEpoch;
    for (const version of [0, 1]) {
      const res = await client.request(apis.OffsetForLeaderEpoch, version, {
        replicaId: -2,
        topics: [{ topic: 'floors-ofle', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: epoch }, { partition: 4, currentLeaderEpoch: -1, leaderEpoch: epoch }] }],
      });
      const [p0, p4] = res.topics[0].partitions;
      assert.deepEqual([p0.errorCode, p0.endOffset, p0.leaderEpoch], [ErrorCode.NONE, 2n, version === 0 ? -1 : epoch], `v${version}`);
      assert.equal(p4.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
  });

  test('OffsetCommit v0/v1, OffsetFetch v0/v1, FindCoordinator v0 and Metadata v0 answer', async () => {
    assert.equal(await createTopic(client, 'floors-groups'), ErrorCode.NONE);
    const coordinator = await client.request(apis.FindCoordinator, 0, { key: 'floors-g', keyType: 0, coordinatorKeys: [] });
    assert.equal(coordinator.errorCode, ErrorCode.NONE);
    assert.equal(coordinator.nodeId, 1);
    const commitV0 = await client.request(apis.OffsetCommit, 0, {
      groupId: 'floors-g',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: 'floors-groups', partitions: [{ partitionIndex: 0, committedOffset: 7n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'v0' }] }],
    });
    assert.equal(commitV0.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    const fetchV0 = await client.request(apis.OffsetFetch, 0, { groupId: 'floors-g', topics: [{ name: 'floors-groups', partitionIndexes: [0] }], groups: [], requireStable: false });
    assert.deepEqual([fetchV0.topics[0].partitions[0].committedOffset, fetchV0.topics[0].partitions[0].metadata], [7n, 'v0']);
    const commitV1 = await client.request(apis.OffsetCommit, 1, {
      groupId: 'floors-g',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: 'floors-groups', partitions: [{ partitionIndex: 0, committedOffset: 8n, committedLeaderEpoch: -1, commitTimestamp: BigInt(Date.now()), committedMetadata: 'v1' }] }],
    });
    assert.equal(commitV1.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    const fetchV1 = await client.request(apis.OffsetFetch, 1, { groupId: 'floors-g', topics: [{ name: 'floors-groups', partitionIndexes: [0] }], groups: [], requireStable: false });
    assert.equal(fetchV1.topics[0].partitions[0].committedOffset, 8n);

    const metadata = await client.request(apis.Metadata, 0, { topics: [{ topicId: ZERO_UUID, name: 'floors-groups' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(metadata.topics.map((t) => [t.name, t.errorCode, t.partitions.length]), [['floors-groups', ErrorCode.NONE, 1]]);
  });

  test('OffsetCommit v2-4 retention time: the offset expires then, stored with an expire timestamp as Kafka does', async () => {
    assert.equal(await createTopic(client, 'floors-retention'), ErrorCode.NONE);
    const commit = (group: string, retentionTimeMs: bigint) =>
      client.request(apis.OffsetCommit, 2, {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs,
        topics: [{ name: 'floors-retention', partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }],
      });
    // The first FindCoordinator creates __consumer_offsets; commits wait for it to load.
    await client.request(apis.FindCoordinator, 0, { key: 'floors-short', keyType: 0, coordinatorKeys: [] });
    for (let i = 0; (await commit('floors-short', 60_000n)).topics[0].partitions[0].errorCode !== ErrorCode.NONE; i++) {
      assert.ok(i < 100, 'no group coordinator');
      await sleep(100);
    }
    assert.equal((await commit('floors-default', -1n)).topics[0].partitions[0].errorCode, ErrorCode.NONE);
    const stored = broker.broker.groups.committed('floors-short', 'floors-retention', 0)!;
    assert.ok(stored.expireTimestamp >= stored.commitTimestamp + 60_000 && stored.expireTimestamp < stored.commitTimestamp + 61_000);
    assert.equal(broker.broker.groups.committed('floors-default', 'floors-retention', 0)!.expireTimestamp, -1);
    // Two minutes on: the short one is gone, the other kept for offsets.retention.minutes (7 days).
    await broker.broker.groups.expireOffsets(Date.now() + 120_000);
    const fetched = async (group: string) =>
      (await client.request(apis.OffsetFetch, 1, { groupId: group, topics: [{ name: 'floors-retention', partitionIndexes: [0] }], groups: [], requireStable: false })).topics[0].partitions[0].committedOffset;
    assert.equal(await fetched('floors-short'), -1n);
    assert.equal(await fetched('floors-default'), 5n);
  });

  test('ListOffsets MAX_TIMESTAMP: the record with the largest timestamp, not its batch\'s last (KAFKA-16310)', async () => {
    assert.equal(await createTopic(client, 'floors-max-ts'), ErrorCode.NONE);
    const t = Date.now() - 60_000;
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(t),
      records: [0, 30_000, 10_000].map((delta, i) => ({ key: null, value: Buffer.from(`r${i}`), timestampDelta: delta, headers: [] })),
    });
    assert.equal((await produceBatch(client, 'floors-max-ts', 0, batch)).errorCode, ErrorCode.NONE);
    for (const version of [7, 8, 9]) {
      const found = await listOffsets(client, version, 'floors-max-ts', -3n);
      assert.deepEqual([found.errorCode, found.offset, found.timestamp], [ErrorCode.NONE, 1n, BigInt(t + 30_000)], `v${version}`);
    }
    // A later batch with older timestamps changes nothing; one with a newer one moves it there.
    await produceBatch(client, 'floors-max-ts', 0, oneRecordBatch('older', t + 5_000));
    assert.equal((await listOffsets(client, 9, 'floors-max-ts', -3n)).offset, 1n);
    const newer = encodeRecordBatch({
      baseTimestamp: BigInt(t + 40_000),
      records: [0, 1_000, 0, 1_000].map((delta, i) => ({ key: null, value: Buffer.from(`n${i}`), timestampDelta: delta, headers: [] })),
    });
    await produceBatch(client, 'floors-max-ts', 0, newer);
    const moved = await listOffsets(client, 9, 'floors-max-ts', -3n);
    assert.deepEqual([moved.offset, moved.timestamp], [5n, BigInt(t + 41_000)], 'the first record of the largest timestamp');
    assert.deepEqual([(await listOffsets(client, 9, 'floors-max-ts', -1n)).offset], [8n]);
  });

  test('authorized operations, when asked: everything the resource type has (no authorizer), else Integer.MIN_VALUE', async () => {
    assert.equal(await createTopic(client, 'floors-acl'), ErrorCode.NONE);
    assert.equal(AUTHORIZED_OPERATIONS.topic, 0b1101_1111_1000);
    assert.equal(AUTHORIZED_OPERATIONS.cluster, 0b1_1111_1010_0000);
    assert.equal(AUTHORIZED_OPERATIONS.group, 0b1_0100_1000);
    const metadata = async (version: number, asked: boolean) =>
      client.request(apis.Metadata, version, {
        topics: [{ topicId: ZERO_UUID, name: 'floors-acl' }, { topicId: ZERO_UUID, name: 'floors-acl-missing' }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: asked && version <= 10,
        includeTopicAuthorizedOperations: asked,
      });
    for (const version of [8, 10]) {
      const res = await metadata(version, true);
      assert.equal(res.clusterAuthorizedOperations, AUTHORIZED_OPERATIONS.cluster, `v${version}`);
      assert.deepEqual(res.topics.map((t) => t.topicAuthorizedOperations), [AUTHORIZED_OPERATIONS.topic, AUTHORIZED_OPERATIONS.topic], `v${version}`);
    }
    const v12 = await metadata(12, true);
    assert.deepEqual(v12.topics.map((t) => t.topicAuthorizedOperations), [AUTHORIZED_OPERATIONS.topic, AUTHORIZED_OPERATIONS.topic]);
    const notAsked = await metadata(12, false);
    assert.deepEqual(notAsked.topics.map((t) => t.topicAuthorizedOperations), [OPERATIONS_OMITTED, OPERATIONS_OMITTED]);
    assert.equal((await metadata(9, false)).clusterAuthorizedOperations, OPERATIONS_OMITTED);

    const cluster = await client.request(apis.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
    assert.equal(cluster.clusterAuthorizedOperations, AUTHORIZED_OPERATIONS.cluster);

    for (const version of [3, 5]) {
      const asked = await client.request(apis.DescribeGroups, version, { groups: ['floors-acl-group'], includeAuthorizedOperations: true });
      assert.equal(asked.groups[0].authorizedOperations, AUTHORIZED_OPERATIONS.group, `v${version}`);
      const not = await client.request(apis.DescribeGroups, version, { groups: ['floors-acl-group'], includeAuthorizedOperations: false });
      assert.equal(not.groups[0].authorizedOperations, OPERATIONS_OMITTED, `v${version}`);
    }
  });

  test('a version still refused closes the connection and is logged at warn once per client id, API and version', async () => {
    const warn = mock.method(log, 'warn', () => {});
    try {
      const refused = async (clientId: string, apiKey: number, version: number, body: unknown): Promise<void> => {
        const conn = await RawConnection.open(broker.broker.listeners[0].port);
        try {
          conn.send(encodeRequestFrame({ correlationId: 1, clientId }, apiKey, version, body));
          assert.ok(await conn.closedByPeer(5000), `${clientId}: api ${apiKey} v${version} closes the connection`);
        } finally {
          conn.destroy();
        }
      };
      const produceV2 = { ...createProduceRequest(), acks: 1, timeoutMs: 1000 };
      await refused('legacy-a', apis.Produce.apiKey, 2, produceV2);
      await refused('legacy-a', apis.Produce.apiKey, 2, produceV2);
      await refused('legacy-b', apis.Produce.apiKey, 2, produceV2);
      await refused('legacy-a', apis.Fetch.apiKey, 3, { ...createFetchRequest(), maxBytes: 1 << 20 });
      await refused('legacy-a', apis.Fetch.apiKey, 3, { ...createFetchRequest(), maxBytes: 1 << 20 });
      const warned = warn.mock.calls
        .map((c) => c.arguments[0] as unknown)
        .filter((a): a is { clientId: string; api: string; version: number } => typeof a === 'object' && a !== null && 'api' in a && 'clientId' in a)
        .map((a) => [a.clientId, a.api, a.version]);
      assert.deepEqual(warned, [
        ['legacy-a', 'Produce', 2],
        ['legacy-b', 'Produce', 2],
        ['legacy-a', 'Fetch', 3],
      ]);
      const message = warn.mock.calls.find((c) => (c.arguments[0] as { clientId?: string }).clientId === 'legacy-b')!.arguments[1] as string;
      assert.match(message, /Produce v2 is not supported \(client "legacy-b"\)/);
    } finally {
      warn.mock.restore();
    }
  });
});

describe('ListOffsets MAX_TIMESTAMP across a restart', () => {
  test('a compressed batch t, t+30s, t+10s: offset 1 before and after the broker restarts (the time index reloaded)', async () => {
    const dirs = tempDir('floors-max-ts-restart');
    try {
      const t = Date.now() - 60_000;
      const batch = encodeRecordBatch({
        baseTimestamp: BigInt(t),
        compression: CompressionType.Gzip,
        records: [0, 30_000, 10_000].map((delta, i) => ({ key: null, value: Buffer.from(`r${i}`), timestampDelta: delta, headers: [] })),
      });
      for (const round of ['before', 'after']) {
        const broker = await startTestBroker({}, dirs.dir);
        const client = await RawConnection.open(broker.broker.listeners[0].port);
        try {
          if (round === 'before') {
            assert.equal(await createTopic(client, 'floors-max-ts-gzip'), ErrorCode.NONE);
            assert.equal((await produceBatch(client, 'floors-max-ts-gzip', 0, batch)).errorCode, ErrorCode.NONE);
          }
          const found = await listOffsets(client, 9, 'floors-max-ts-gzip', -3n);
          assert.deepEqual([found.errorCode, found.offset, found.timestamp], [ErrorCode.NONE, 1n, BigInt(t + 30_000)], round);
        } finally {
          client.destroy();
          await broker.stop();
        }
      }
    } finally {
      dirs.cleanup();
    }
  });
});

describe('version floors: real clients', () => {
  let broker: InProcessBroker;
  let client: RawConnection;
  const kafka = () => new Kafka({ clientId: 'floors-kafkajs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });

  before(async () => {
    broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0' });
    client = await RawConnection.open(broker.broker.listeners[0].port);
    assert.equal(await createTopic(client, 'floors-clients', {}, 2), ErrorCode.NONE);
    for (let i = 0; i < 5; i++) await produceBatch(client, 'floors-clients', 0, oneRecordBatch(`p0-${i}`));
    for (let i = 0; i < 2; i++) await produceBatch(client, 'floors-clients', 1, oneRecordBatch(`p1-${i}`));
  });

  after(async () => {
    client.destroy();
    await broker.stop();
  });

  const python = async (...args: string[]): Promise<any> => {
    const { stdout } = await run(PYTHON, [OLD_VERSIONS_PY, ...args, '--bootstrap', broker.bootstrap], { timeout: 60_000 });
    return JSON.parse(stdout);
  };

  test('kafka-python told the broker is 0.10.0 reads first and last offsets with ListOffsets v0', { skip: skipUnlessPresent(kafkaPython) }, async () => {
    assert.deepEqual(await python('legacy-offsets', '--topic', 'floors-clients', '--partitions', '2'), { beginning: [0, 0], end: [5, 2] });
  });

  test('kafka-python commits and reads offsets as 0.8.1 (OffsetCommit/OffsetFetch v0) and 0.8.2 (FindCoordinator v0, v1)', { skip: skipUnlessPresent(kafkaPython) }, async () => {
    // 0.8.2 first: its FindCoordinator creates __consumer_offsets, which a 0.8.1 client (sending
    // OffsetCommit v0 to any broker, without looking for a coordinator) cannot do, with Kafka too.
    assert.deepEqual(await python('commit', '--topic', 'floors-clients', '--group', 'floors-py-082', '--api-version', '0.8.2', '--offset', '4'), { committed: 4 });
    assert.deepEqual(await python('commit', '--topic', 'floors-clients', '--group', 'floors-py-081', '--api-version', '0.8.1', '--offset', '3'), { committed: 3 });
    // What they committed is what newer clients read.
    const admin = kafka().admin();
    await admin.connect();
    try {
      const fetched = await admin.fetchOffsets({ groupId: 'floors-py-081', topics: ['floors-clients'] });
      assert.equal(fetched[0].partitions.find((p) => p.partition === 0)?.offset, '3');
    } finally {
      await admin.disconnect();
    }
  });

  test('kafka-python admin: describe_configs, list_consumer_group_offsets; its consumer\'s offsets_for_times', { skip: skipUnlessPresent(kafkaPython) }, async () => {
    await python('commit', '--topic', 'floors-clients', '--group', 'floors-py-admin', '--api-version', '0.8.2', '--offset', '2');
    const out = await python('admin', '--topic', 'floors-clients', '--group', 'floors-py-admin', '--timestamp', '0');
    assert.equal(out.configs['cleanup.policy'], 'delete');
    assert.equal(out.configs['retention.ms'], '604800000');
    assert.deepEqual(out.offsets, { 'floors-clients:0': 2 });
    assert.equal(out.groups[0].id, 'floors-py-admin');
    assert.equal(out.offsets_for_times.offset, 0);
  });

  test('kafkajs admin: topic offsets, offsets by timestamp, group offsets, configs', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets('floors-clients');
      assert.deepEqual(
        offsets.sort((a, b) => a.partition - b.partition).map((o) => [o.partition, o.low, o.high]),
        [
          [0, '0', '5'],
          [1, '0', '2'],
        ],
      );
      const byTime = await admin.fetchTopicOffsetsByTimestamp('floors-clients', 0);
      assert.deepEqual(byTime.sort((a, b) => a.partition - b.partition).map((o) => o.offset), ['0', '0']);
      await admin.setOffsets({ groupId: 'floors-kafkajs-group', topic: 'floors-clients', partitions: [{ partition: 1, offset: '1' }] });
      const group = await admin.fetchOffsets({ groupId: 'floors-kafkajs-group', topics: ['floors-clients'] });
      assert.equal(group[0].partitions.find((p) => p.partition === 1)?.offset, '1');
      const configs = await admin.describeConfigs({ resources: [{ type: 2, name: 'floors-clients' }], includeSynonyms: false });
      assert.equal(configs.resources[0].configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue, 'delete');
    } finally {
      await admin.disconnect();
    }
  });

  test('@platformatic/kafka admin: DescribeGroups with authorized operations', async (t) => {
    const node = findNodeForPlatformatic();
    if (node.path === null) return t.skip(node.reason);
    const [described] = await runPlatformaticAdmin(node.path, broker.bootstrap, [{ op: 'describeGroups', args: { groups: ['floors-kafkajs-group'], includeAuthorizedOperations: true } }]);
    assert.ok(described.ok, JSON.stringify(described));
    const groups = described.value as Record<string, { authorizedOperations: number }>;
    assert.equal(groups['floors-kafkajs-group'].authorizedOperations, AUTHORIZED_OPERATIONS.group);
  });
});

// Burrow (sarama-based) sends ListOffsets v0 for every partition's log end, and reads group
// offsets from __consumer_offsets; it keeps its own state in a ZooKeeper.
const burrow: Tool = { name: 'Burrow', aptPackage: 'burrow', present: () => spawnSync('Burrow', ['--version'], { stdio: 'ignore', timeout: 10_000 }).error === undefined };
const ZOOKEEPER_CLASSPATH = '/usr/share/java/*';
const zookeeper: Tool = {
  name: 'zookeeper',
  aptPackage: 'zookeeper',
  present: () => spawnSync('java', ['-cp', ZOOKEEPER_CLASSPATH, 'org.apache.zookeeper.Version'], { stdio: 'ignore', timeout: 30_000 }).status === 0,
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts connections on the port (ZooKeeper takes a few seconds to start). */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
}

describe('Burrow reports lag read through ListOffsets v0 and __consumer_offsets', { skip: skipUnlessPresent(burrow, zookeeper) }, () => {
  let broker: InProcessBroker;
  let zk: ChildProcess | undefined;
  let burrowProcess: ChildProcess | undefined;
  let burrowOutput = '';
  const dirs = tempDir('floors-burrow');

  after(async () => {
    await stopChild(burrowProcess);
    await stopChild(zk);
    await broker?.stop();
    dirs.cleanup();
  });

  test('a group that committed offset 2 of 5 lags by 3', { timeout: 120_000 }, async () => {
    broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0' });
    const client = await RawConnection.open(broker.broker.listeners[0].port);
    try {
      assert.equal(await createTopic(client, 'floors-burrow'), ErrorCode.NONE);
      for (let i = 0; i < 5; i++) await produceBatch(client, 'floors-burrow', 0, oneRecordBatch(`b${i}`));
    } finally {
      client.destroy();
    }
    const admin = new Kafka({ clientId: 'floors-burrow-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.setOffsets({ groupId: 'floors-burrow-group', topic: 'floors-burrow', partitions: [{ partition: 0, offset: '2' }] });
    await admin.disconnect();

    const zkPort = await freePort();
    mkdirSync(join(dirs.dir, 'zk'));
    zk = spawn('java', ['-cp', ZOOKEEPER_CLASSPATH, 'org.apache.zookeeper.server.ZooKeeperServerMain', String(zkPort), join(dirs.dir, 'zk')], { stdio: 'ignore' });
    await waitForPort(zkPort, 30_000);
    const httpPort = await freePort();
    writeFileSync(
      join(dirs.dir, 'burrow.toml'),
      `[general]
[logging]
level="info"
[zookeeper]
servers=["127.0.0.1:${zkPort}"]
timeout=6
root-path="/burrow"
[client-profile.sluice]
client-id="burrow-floors"
kafka-version="0.11.0"
[cluster.local]
class-name="kafka"
servers=["${broker.bootstrap}"]
client-profile="sluice"
topic-refresh=5
offset-refresh=2
[consumer.local]
class-name="kafka"
cluster="local"
servers=["${broker.bootstrap}"]
client-profile="sluice"
offsets-topic="__consumer_offsets"
start-latest=false
[httpserver.default]
address="127.0.0.1:${httpPort}"
[storage.default]
class-name="inmemory"
workers=4
intervals=5
expire-group=604800
min-distance=1
`,
    );
    // ZooKeeper accepts connections a moment before it serves sessions, and Burrow exits when its
    // first session fails: it is started again until it stays up.
    const startBurrow = (): void => {
      burrowProcess = spawn('Burrow', ['--config-dir', dirs.dir], { cwd: dirs.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      burrowProcess.stdout!.on('data', (d: Buffer) => (burrowOutput += d.toString()));
      burrowProcess.stderr!.on('data', (d: Buffer) => (burrowOutput += d.toString()));
    };
    startBurrow();

    const get = async (path: string): Promise<any> => {
      try {
        const res = await fetch(`http://127.0.0.1:${httpPort}${path}`);
        return res.ok ? await res.json() : null;
      } catch {
        return null;
      }
    };
    const deadline = Date.now() + 90_000;
    let topic: any = null;
    let lag: any = null;
    while (Date.now() < deadline) {
      topic = await get('/v3/kafka/local/topic/floors-burrow');
      lag = await get('/v3/kafka/local/consumer/floors-burrow-group/lag');
      if (topic?.offsets?.[0] === 5 && lag?.status?.totallag === 3) break;
      if (burrowProcess!.exitCode !== null) startBurrow();
      await sleep(1000);
    }
    assert.deepEqual(topic?.offsets, [5], `Burrow's log end offsets (ListOffsets v0): ${JSON.stringify(topic)}\n${burrowOutput.slice(-2000)}`);
    assert.equal(lag?.status?.partitions?.[0]?.end?.offset, 2, JSON.stringify(lag));
    assert.equal(lag?.status?.totallag, 3, JSON.stringify(lag));
  });
});

/**
 * Which real clients the test suite drives each API through (see the test files named in
 * docs/compatibility.md); "raw" is test/support/raw-connection.ts, Sluice's own requests aside.
 */
const CLIENTS_TESTED: Record<string, string> = {
  Produce: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka, kcat), kafka-python',
  Fetch: 'kafkajs, @platformatic/kafka (with incremental fetch sessions, KIP-227), librdkafka (confluent-kafka, kcat), kafka-python, Burrow (`__consumer_offsets`), raw (session epochs and errors, forgotten partitions, cache eviction)',
  ListOffsets: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka, kcat), kafka-python (v0 and v1+), Burrow (v0), raw (v0, MAX_TIMESTAMP)',
  Metadata: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka, kcat), kafka-python, Burrow, raw (v0, authorized operations)',
  OffsetCommit: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka), kafka-python (v0, v1, v2+), raw (v0, v1)',
  OffsetFetch: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka), kafka-python (v0, v1, v2+), raw (v0, v1)',
  FindCoordinator: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka), kafka-python (v0), raw (v0)',
  JoinGroup: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  Heartbeat: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  LeaveGroup: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  SyncGroup: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  DescribeGroups: 'kafkajs, @platformatic/kafka (authorized operations), librdkafka (confluent-kafka), kafka-python, raw (authorized operations)',
  ListGroups: 'kafkajs, librdkafka (confluent-kafka)',
  ApiVersions: 'all of them',
  CreateTopics: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka), kafka-python',
  DeleteTopics: 'kafkajs, @platformatic/kafka',
  DeleteRecords: 'kafkajs, @platformatic/kafka',
  InitProducerId: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  OffsetForLeaderEpoch: 'raw (v0-v4), Sluice followers',
  AddPartitionsToTxn: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka), Sluice brokers (v4, KIP-890)',
  AddOffsetsToTxn: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  EndTxn: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  WriteTxnMarkers: 'Sluice brokers, raw',
  TxnOffsetCommit: 'kafkajs, @platformatic/kafka, librdkafka (confluent-kafka)',
  DescribeConfigs: 'kafkajs, @platformatic/kafka, kafka-python',
  AlterConfigs: 'kafkajs, @platformatic/kafka',
  AlterReplicaLogDirs: 'raw',
  DescribeLogDirs: '@platformatic/kafka, raw',
  CreatePartitions: 'kafkajs, @platformatic/kafka',
  DeleteGroups: 'kafkajs, librdkafka (confluent-kafka)',
  ElectLeaders: 'raw',
  IncrementalAlterConfigs: '@platformatic/kafka',
  AlterPartitionReassignments: 'kafkajs',
  ListPartitionReassignments: 'kafkajs',
  OffsetDelete: '(none yet)',
  DescribeCluster: 'raw (authorized operations)',
  DescribeProducers: 'raw, `sluice transactions`',
  DescribeTransactions: 'raw, `sluice transactions`',
  ListTransactions: 'raw, `sluice transactions`',
  ConsumerGroupHeartbeat: '@platformatic/kafka (`groupProtocol: consumer`), librdkafka 2.15 (`group.protocol=consumer`)',
  ConsumerGroupDescribe: '@platformatic/kafka, raw',
  ShareGroupHeartbeat: 'librdkafka 2.15 share consumer, raw',
  ShareGroupDescribe: 'raw, `sluice share-group`',
  ShareFetch: 'librdkafka 2.15 share consumer, raw',
  ShareAcknowledge: 'librdkafka 2.15 share consumer, raw',
  ReadShareGroupState: 'Sluice brokers',
  WriteShareGroupState: 'Sluice brokers',
  DescribeShareGroupOffsets: 'raw, `sluice share-group`',
  AlterShareGroupOffsets: 'raw, `sluice share-group reset-offsets`',
  DeleteShareGroupOffsets: 'raw',
  SaslHandshake: 'librdkafka (confluent-kafka, kcat), kafkajs, @platformatic/kafka, kafka-python (v0, bare tokens)',
  SaslAuthenticate: 'librdkafka (confluent-kafka, kcat), kafkajs, librdkafka 2.15 (re-authentication), @platformatic/kafka, `sluice --command-config`',
  DescribeUserScramCredentials: "Sluice's client (`sluice user scram`)",
  AlterUserScramCredentials: "Sluice's client (`sluice user scram`)",
  DescribeAcls: 'kafkajs, raw, `sluice acl`',
  CreateAcls: 'kafkajs, raw, `sluice acl`',
  DeleteAcls: 'kafkajs, raw, `sluice acl`',
};

const COMPATIBILITY_DOC = join(import.meta.dirname, '../../docs/compatibility.md');
const TABLE_START = '<!-- versions table: generated by test/broker/version-floors.test.ts (UPDATE_DOCS=1 rewrites it) -->';
const TABLE_END = '<!-- end of versions table -->';

/** The table of docs/compatibility.md, from the handlers a broker registers. */
function compatibilityTable(served: { apiKey: number; minVersion: number; maxVersion: number }[]): string {
  const byKey = new Map(served.map((s) => [s.apiKey, s]));
  const range = (min: number, max: number): string => (min === max ? `v${min}` : `v${min}-${max}`);
  const rows = Object.values(apis)
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((api) => {
      const s = byKey.get(api.apiKey);
      const serves = s ? range(s.minVersion, s.maxVersion) + (api.name === 'Produce' ? ' (v0-2 advertised, refused)' : '') : 'not served';
      return `| ${api.apiKey} | ${api.name} | ${serves} | ${range(api.minVersion, api.maxVersion)} | ${s ? (CLIENTS_TESTED[api.name] ?? '(none yet)') : ''} |`;
    });
  return ['| key | API | Sluice serves | the codec knows | tested with |', '| ---: | --- | --- | --- | --- |', ...rows].join('\n');
}

describe('docs/compatibility.md', () => {
  test('its versions table is the broker\'s registered handlers', async () => {
    const broker = await startTestBroker();
    try {
      const table = compatibilityTable(broker.broker.router.supportedApis());
      const doc = readFileSync(COMPATIBILITY_DOC, 'utf8');
      const start = doc.indexOf(TABLE_START);
      const end = doc.indexOf(TABLE_END);
      assert.ok(start >= 0 && end > start, `${COMPATIBILITY_DOC} lacks the table markers`);
      const current = doc.slice(start + TABLE_START.length, end).trim();
      if (process.env.UPDATE_DOCS === '1' && current !== table) {
        writeFileSync(COMPATIBILITY_DOC, `${doc.slice(0, start + TABLE_START.length)}\n${table}\n${doc.slice(end)}`);
        return;
      }
      assert.equal(current, table, 'docs/compatibility.md is out of date: run this test with UPDATE_DOCS=1');
    } finally {
      await broker.stop();
    }
  });
});
