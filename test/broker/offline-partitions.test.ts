import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { findCoordinator } from '../../src/client/group-offsets.js';
import { coordinatorPartitionFor } from '../../src/coordinator/coordinator-log.js';
import { OFFSETS_TOPIC } from '../../src/coordinator/offsets-topic-records.js';
import { log } from '../../src/log.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { rejection } from '../support/kafkajs-errors.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { kcat, skipUnlessPresent } from '../support/tools.js';

/**
 * A metadata image and a disk that disagree: the image gives `shrunk` six partitions, the disk
 * has the logs of three, and partition 5's directory cannot be made (a file is in its place).
 * The broker makes the missing logs 3 and 4 anew, as Kafka does, serves partition 5 as offline,
 * and answers everything else as before. One __consumer_offsets partition is offline too.
 */
const OFFSETS_PARTITIONS = 2;
const SETTINGS = {
  'offsets.topic.num.partitions': String(OFFSETS_PARTITIONS),
  'group.initial.rebalance.delay.ms': '0',
  'sluice.console.listener': '127.0.0.1:0',
};

/** A group id whose records go to __consumer_offsets partition `partition`. */
function groupOn(partition: number): string {
  for (let i = 0; ; i++) if (coordinatorPartitionFor(`group-${i}`, OFFSETS_PARTITIONS) === partition) return `group-${i}`;
}
const HEALTHY_GROUP = groupOn(0);
const STRANDED_GROUP = groupOn(1);

describe('partitions the metadata lists but the broker cannot serve', { skip: skipUnlessPresent(kcat) }, () => {
  let temp: ReturnType<typeof tempDir>;
  let broker: InProcessBroker;
  let client: KafkaClient;
  // The inconsistencies are made on purpose: their warnings are kept for the checks, not printed.
  const warn = mock.method(log, 'warn', () => {});
  const error = mock.method(log, 'error', () => {});
  let startWarnings: string[] = [];
  const warnings = (): string[] => warn.mock.calls.map((c) => c.arguments.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  const kafka = (): Kafka => new Kafka({ clientId: 'offline-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });

  async function commitOffset(groupId: string, topic: string, partitionIndex: number): Promise<number> {
    // As clients do: the coordinator first (which creates __consumer_offsets on first use).
    const res = await client.call(() => findCoordinator(client, groupId), 'OffsetCommit', {
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: topic, partitions: [{ partitionIndex, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }],
    });
    return res.topics[0].partitions[0].errorCode;
  }

  before(async () => {
    temp = tempDir('offline');
    const dir = join(temp.dir, 'data');
    broker = await startTestBroker(SETTINGS, dir);
    const admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'shrunk', numPartitions: 3 }, { topic: 'fine', numPartitions: 2 }] });
    await admin.disconnect();
    client = new KafkaClient({ brokers: [broker.bootstrap], retries: 0 });
    for (const groupId of [HEALTHY_GROUP, STRANDED_GROUP]) assert.equal(await commitOffset(groupId, 'fine', 0), ErrorCode.NONE);
    await client.close();
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({ topic: 'shrunk', messages: [0, 1, 2].map((partition) => ({ partition, value: `kept ${partition}` })) });
    await producer.disconnect();
    await broker.stop();

    const imagePath = join(dir, 'sluice-metadata.json');
    const image = JSON.parse(readFileSync(imagePath, 'utf8')) as { topics: { name: string; partitions: number }[] };
    image.topics.find((t) => t.name === 'shrunk')!.partitions = 6;
    writeFileSync(imagePath, JSON.stringify(image));
    writeFileSync(join(dir, 'shrunk-5'), 'not a partition directory\n');
    rmSync(join(dir, `${OFFSETS_TOPIC}-1`), { recursive: true });
    writeFileSync(join(dir, `${OFFSETS_TOPIC}-1`), 'not a partition directory\n');

    warn.mock.resetCalls();
    broker = await startTestBroker(SETTINGS, dir);
    startWarnings = warnings();
    warn.mock.resetCalls();
    client = new KafkaClient({ brokers: [broker.bootstrap], retries: 0 });
  });

  after(async () => {
    await client.close();
    await broker.stop();
    warn.mock.restore();
    error.mock.restore();
    temp.cleanup();
  });

  test('the start says which logs it made anew and which partitions are offline', () => {
    const about = (text: string): string[] => startWarnings.filter((w) => w.includes(text));
    assert.equal(about('created empty').length, 1, startWarnings.join('\n'));
    assert.match(about('created empty')[0], /"topic":"shrunk","partitions":\[3,4\]/);
    const offline = about('offline');
    assert.equal(offline.length, 2, startWarnings.join('\n'));
    assert.ok(offline.some((w) => w.includes('"topic":"shrunk","partitions":[5]')));
    assert.ok(offline.some((w) => w.includes(`"topic":"${OFFSETS_TOPIC}","partitions":[1]`)));
  });

  test('kcat -L lists every topic, the offline partition with an error and no leader', async () => {
    const r = await runCommand('kcat', ['-b', broker.bootstrap, '-L', '-J'], { timeoutMs: 30_000 });
    assertSucceeded(r, 'kcat -L -J');
    const topics = (JSON.parse(r.stdout) as { topics: { topic: string; error?: string; partitions: { partition: number; leader: number; error?: string }[] }[] }).topics;
    const shrunk = topics.find((t) => t.topic === 'shrunk')!;
    assert.equal(shrunk.error, undefined);
    const byIndex = [...shrunk.partitions].sort((a, b) => a.partition - b.partition);
    assert.deepEqual(
      byIndex.map((p) => p.leader),
      [1, 1, 1, 1, 1, -1],
    );
    assert.match(byIndex[5].error ?? '', /leader not available/i);
    assert.ok(byIndex.slice(0, 5).every((p) => p.error === undefined));
    const fine = topics.find((t) => t.topic === 'fine')!;
    assert.ok(fine.partitions.every((p) => p.leader === 1 && p.error === undefined));
  });

  test('kafkajs: healthy topics and partitions work; the broken topic gets a clear error', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      const [fine] = (await admin.fetchTopicMetadata({ topics: ['fine'] })).topics;
      assert.equal(fine.partitions.length, 2);
      assert.deepEqual(await rejection(admin.fetchTopicMetadata({ topics: ['shrunk'] })), ['LEADER_NOT_AVAILABLE']);
    } finally {
      await admin.disconnect();
    }
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({ topic: 'fine', messages: [{ partition: 1, value: 'fine' }] });
    await producer.disconnect();

    const consumer = new Kafka({ clientId: 'offline-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: HEALTHY_GROUP });
    await consumer.connect();
    await consumer.subscribe({ topic: 'fine', fromBeginning: true });
    const got = await new Promise<string>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) }));
    await consumer.disconnect();
    assert.equal(got, 'fine');
  });

  test('the served partitions of the broken topic keep their records; the ones made anew start empty', async () => {
    const offsets = await client.call(() => client.any(), 'ListOffsets', {
      replicaId: -1,
      isolationLevel: 0,
      timeoutMs: 10_000,
      topics: [{ name: 'shrunk', partitions: [0, 3, 5].map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 })) }],
    });
    assert.deepEqual(
      offsets.topics[0].partitions.map((p) => [p.partitionIndex, p.errorCode, p.errorCode === ErrorCode.NONE ? Number(p.offset) : null]),
      [
        [0, ErrorCode.NONE, 1],
        [3, ErrorCode.NONE, 0],
        [5, ErrorCode.KAFKA_STORAGE_ERROR, null],
      ],
    );
  });

  test('the other partition requests answer the offline partition with KAFKA_STORAGE_ERROR, and commits to it are kept', async () => {
    const records = await client.call(() => client.any(), 'DeleteRecords', { topics: [{ name: 'shrunk', partitions: [{ partitionIndex: 5, offset: -1n }] }], timeoutMs: 10_000 });
    assert.equal(records.topics[0].partitions[0].errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    const producers = await client.call(() => client.any(), 'DescribeProducers', { topics: [{ name: 'shrunk', partitionIndexes: [5] }] });
    assert.equal(producers.topics[0].partitions[0].errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    const commit = await commitOffset(HEALTHY_GROUP, 'shrunk', 5);
    assert.equal(commit, ErrorCode.NONE);
  });

  test('a group whose __consumer_offsets partition is offline has no coordinator; the others do', async () => {
    const res = await client.call(() => client.any(), 'FindCoordinator', { key: '', keyType: 0, coordinatorKeys: [HEALTHY_GROUP, STRANDED_GROUP] });
    assert.deepEqual(
      res.coordinators.map((c) => [c.key, c.errorCode]),
      [
        [HEALTHY_GROUP, ErrorCode.NONE],
        [STRANDED_GROUP, ErrorCode.COORDINATOR_NOT_AVAILABLE],
      ],
    );
    // Sent here anyway, its requests are not this broker's to take: it coordinates no group of an offline partition.
    const commit = await client.call(() => client.any(), 'OffsetCommit', {
      groupId: STRANDED_GROUP,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: 'fine', partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }],
    });
    assert.equal(commit.topics[0].partitions[0].errorCode, ErrorCode.NOT_COORDINATOR);
  });

  test('a group on the offline partition is not coordinated here, and the broker serves on', async () => {
    const join = await client.call(() => client.any(), 'JoinGroup', {
      groupId: STRANDED_GROUP,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      reason: null,
    });
    assert.equal(join.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal((await client.metadata(['fine'])).topics[0].errorCode, ErrorCode.NONE, 'the broker still serves');
  });

  test('the console shows the offline partition and refuses to read it', async () => {
    const base = `http://127.0.0.1:${broker.broker.consolePort}/api`;
    const topics = (await (await fetch(`${base}/topics`)).json()) as { name: string; offline: number }[];
    assert.equal(topics.find((t) => t.name === 'shrunk')?.offline, 1);
    assert.equal(topics.find((t) => t.name === 'fine')?.offline, 0);
    const detail = (await (await fetch(`${base}/topics/shrunk`)).json()) as { partitionDetails: { partition: number; error?: string; logEndOffset?: number }[] };
    assert.deepEqual(detail.partitionDetails[5], { partition: 5, error: 'KAFKA_STORAGE_ERROR' });
    assert.equal(detail.partitionDetails[0].logEndOffset, 1);
    const read = await fetch(`${base}/topics/shrunk/partitions/5/records`);
    assert.equal(read.status, 503);
    assert.match(((await read.json()) as { error: string }).error, /offline/);
  });

  test('nothing of this is logged again, however often clients ask', () => {
    assert.deepEqual(
      warnings().filter((w) => w.includes('shrunk') || w.includes(OFFSETS_TOPIC)),
      [],
    );
  });
});
