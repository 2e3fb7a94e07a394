import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { coordinatorPartitionFor } from '../../src/coordinator/coordinator-log.js';
import { OFFSETS_TOPIC } from '../../src/coordinator/offsets-topic-records.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { createFetchRequest, createFetchRequestFetchPartition, createFetchRequestFetchTopic } from '../../src/protocol/generated/messages/fetch-request.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { runCommand } from '../support/commands.js';
import { assertHoldsExactly, deliveryOf, kcatProduce, type Placed } from '../support/deliveries.js';
import { consumePython, producePython } from '../support/python-clients.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, produceBatch, topicMetadata } from '../support/raw-requests.js';
import { makeBatch, tempDir } from '../support/storage-fixtures.js';
import { logged, mountExt4, skipUnlessMountable, type Ext4Image } from '../support/storage-faults.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { confluentKafka, kcat, skipUnlessPresent } from '../support/tools.js';

const TOPIC = 'spread';
const PARTITIONS = 6;
const FAILED = 'log directory failed and is offline until a restart';

/** DescribeLogDirs v4 of everything: each directory's error code and the partitions of TOPIC it holds. */
async function logDirs(client: RawConnection, topic = TOPIC): Promise<Map<string, { errorCode: number; partitions: number[] }>> {
  const res = await client.request(apis.DescribeLogDirs, 4, { topics: null });
  return new Map(
    res.results.map((r) => [
      r.logDir,
      {
        errorCode: r.errorCode,
        partitions: r.topics
          .filter((t) => t.name === topic)
          .flatMap((t) => t.partitions.map((p) => p.partitionIndex))
          .sort((a, b) => a - b),
      },
    ]),
  );
}

/** Fetch v12 of one partition from offset 0: its error code. */
async function fetchError(client: RawConnection, partition: number): Promise<number> {
  const req = createFetchRequest();
  req.topics = [{ ...createFetchRequestFetchTopic(), topic: TOPIC, partitions: [{ ...createFetchRequestFetchPartition(), partition, partitionMaxBytes: 1 << 20 }] }];
  const res = await client.request(apis.Fetch, 12, req);
  return res.responses[0].partitions[0].errorCode;
}

/** kcat -C of one whole partition: its values, by offset. */
async function kcatConsume(bootstrap: string, partition: number): Promise<Placed[]> {
  const r = await runCommand('kcat', ['-b', bootstrap, '-C', '-t', TOPIC, '-p', String(partition), '-o', 'beginning', '-e', '-f', '%o %s\\n'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `kcat -C of partition ${partition}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => ({ partition, offset: Number(l.slice(0, l.indexOf(' '))), value: l.slice(l.indexOf(' ') + 1) }));
}

interface Setup {
  disk: Ext4Image;
  /** The healthy directory and the one on the disk that will fail. */
  good: string;
  bad: string;
  overrides: Record<string, string>;
  broker: BrokerProcess;
  admin: RawConnection;
  onGood: number[];
  onBad: number[];
}

/**
 * A broker on two log directories, the second on an ext4 image that can be made to fail, with
 * TOPIC spread over both. Everything is released after the test, whatever happened.
 */
async function twoDirBroker(t: TestContext, name: string, settings: Record<string, string> = {}): Promise<Setup> {
  const disk = mountExt4(name, 32);
  const healthy = tempDir(`${name}-healthy`);
  const setup = { disk } as Setup;
  t.after(async () => {
    setup.admin?.destroy();
    await setup.broker?.kill();
    disk.dispose();
    healthy.cleanup();
  });
  // The healthy directory first: the metadata and producer ids live in the first one.
  setup.good = join(healthy.dir, 'data');
  setup.bad = join(disk.dir, 'data');
  // Sync flush: what was acknowledged before the disk failed is on it, not in dirty pages the
  // failed file system will never write back.
  setup.overrides = { 'log.dirs': `${setup.good},${setup.bad}`, 'sluice.log.flush.mode': 'sync', ...settings };
  setup.broker = await startBrokerProcess(setup.good, setup.overrides);
  setup.admin = await RawConnection.open(setup.broker.port);
  assert.equal(await createTopic(setup.admin, TOPIC, {}, PARTITIONS), ErrorCode.NONE);
  const placed = await logDirs(setup.admin);
  setup.onGood = placed.get(setup.good)?.partitions ?? [];
  setup.onBad = placed.get(setup.bad)?.partitions ?? [];
  assert.ok(setup.onGood.length > 0 && setup.onBad.length > 0, `partitions in both directories: ${JSON.stringify([...placed])}`);
  return setup;
}

test(
  'a failed log directory goes offline alone, and a restart brings it back',
  { skip: skipUnlessMountable() || skipUnlessPresent(kcat, confluentKafka), timeout: 120_000 },
  async (t) => {
    const setup = await twoDirBroker(t, 'log-dir-failure');
    const { disk, good, bad, overrides, admin, onGood, onBad } = setup;
    let broker = setup.broker;

    const run = await producePython({ library: 'confluent', bootstrap: broker.bootstrap, topic: TOPIC, partitions: PARTITIONS, count: 1200, idempotence: 'on' });
    assert.deepEqual(run.failures, []);
    const acked = deliveryOf(run).acked;
    assertHoldsExactly(await consumePython('confluent', broker.bootstrap, TOPIC), acked, TOPIC);

    disk.fail();

    // The first write into the failed directory finds out; then all of its partitions answer so.
    for (const p of onBad) {
      const answer = await produceBatch(admin, TOPIC, p, makeBatch(`after-failure-${p}`, 3, Date.now()));
      assert.equal(answer.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, `produce to partition ${p} in the failed directory`);
      assert.equal(await fetchError(admin, p), ErrorCode.KAFKA_STORAGE_ERROR, `fetch from partition ${p} in the failed directory`);
    }

    // The other directory serves on, to a real client, reads and writes.
    for (const [i, p] of onGood.entries()) {
      const more = await kcatProduce(broker.bootstrap, TOPIC, p, 10_000 * (i + 1), 50);
      assert.deepEqual(more.failures, [], `kcat to partition ${p} in the healthy directory`);
      acked.push(...more.acked);
      const read = await kcatConsume(broker.bootstrap, p);
      assert.deepEqual(read.slice(-50), more.acked, `kcat reads back partition ${p}`);
    }
    const afterFailure = await logDirs(admin);
    assert.deepEqual(afterFailure.get(bad), { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, partitions: [] });
    assert.deepEqual(afterFailure.get(good), { errorCode: ErrorCode.NONE, partitions: onGood });

    // A topic created now has nowhere to go but the healthy directory.
    assert.equal(await createTopic(admin, 'created-after', {}, 2), ErrorCode.NONE);
    assert.deepEqual((await logDirs(admin, 'created-after')).get(good)?.partitions, [0, 1]);
    assert.deepEqual((await kcatProduce(broker.bootstrap, 'created-after', 1, 0, 10)).failures, []);

    assert.equal(logged(broker.output, FAILED).length, 1, `"${FAILED}" is logged once`);
    const metadata = await topicMetadata(admin, TOPIC);
    assert.equal(broker.child.exitCode, null, 'the broker is running');
    assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM, a directory down');

    // The disk is repaired (here: checked and mounted read-write again), and the broker restarted.
    disk.unmount();
    assert.ok([0, 1].includes(disk.fsck()), 'e2fsck repairs the file system');
    disk.mount();
    broker = setup.broker = await startBrokerProcess(good, overrides);
    const again = await RawConnection.open(broker.port);
    assert.deepEqual(
      [...(await logDirs(again)).values()].map((d) => d.errorCode),
      [ErrorCode.NONE, ErrorCode.NONE],
    );
    again.destroy();
    assertHoldsExactly(await consumePython('confluent', broker.bootstrap, TOPIC), acked, TOPIC);
    assert.equal(await broker.stop(), 0);

    // Last, so that everything above is checked meanwhile: partitions in the failed directory
    // show offline in Metadata, the others led by this broker as before.
    assert.deepEqual(
      metadata.partitions.map((p) => ({ partition: p.partitionIndex, errorCode: p.errorCode, leader: p.leaderId, offline: p.offlineReplicas })),
      metadata.partitions.map((p) =>
        onBad.includes(p.partitionIndex)
          ? { partition: p.partitionIndex, errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leader: -1, offline: [1] }
          : { partition: p.partitionIndex, errorCode: ErrorCode.NONE, leader: 1, offline: [] },
      ),
      'Metadata while the directory was offline',
    );
  },
);

test(
  'a failure found by background work (a checkpoint write) takes the directory offline too',
  { skip: skipUnlessMountable(), timeout: 60_000 },
  async (t) => {
    const { disk, bad, broker, admin, onBad } = await twoDirBroker(t, 'log-dir-background', { 'log.flush.offset.checkpoint.interval.ms': '100' });
    disk.fail();
    // No request writes to the failed disk: only the broker's own checkpoint writes meet it.
    const deadline = Date.now() + 5000;
    while ((await logDirs(admin)).get(bad)?.errorCode === ErrorCode.NONE && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await logDirs(admin)).get(bad)?.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, 'DescribeLogDirs of the failed directory');
    assert.equal(await fetchError(admin, onBad[0]), ErrorCode.KAFKA_STORAGE_ERROR, 'fetch from the failed directory');
    assert.equal(logged(broker.output, FAILED).length, 1, `"${FAILED}" is logged once`);
  },
);

test(
  'the last member leaving a group whose offsets partition is on the failed disk does not bring the broker down',
  { skip: skipUnlessMountable(), timeout: 60_000 },
  async (t) => {
    const overrides = { 'group.initial.rebalance.delay.ms': '0', 'offsets.topic.num.partitions': '2' };
    const { disk, bad, broker, admin, onGood } = await twoDirBroker(t, 'log-dir-groups', overrides);
    // The first FindCoordinator creates __consumer_offsets, a partition in each directory.
    await admin.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['standalone'] });
    const commit = await admin.request(apis.OffsetCommit, 8, {
      groupId: 'standalone',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }],
    });
    assert.equal(commit.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    const offsetsOnBad = (await logDirs(admin, OFFSETS_TOPIC)).get(bad)?.partitions ?? [];
    assert.equal(offsetsOnBad.length, 1, `one ${OFFSETS_TOPIC} partition in the directory that will fail`);
    const groupId = Array.from({ length: 100 }, (_, i) => `group-${i}`).find((g) => coordinatorPartitionFor(g, 2) === offsetsOnBad[0])!;

    const kafka = new Kafka({ clientId: 'log-dir-groups', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId, retry: { retries: 0 } });
    t.after(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({ eachMessage: async () => {} });
    await joined;

    let stderr = '';
    broker.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    disk.fail();
    // The group empties: the coordinator records that in the failed directory, and fails to.
    await consumer.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(broker.child.exitCode, null, `the broker is running; it wrote:\n${stderr.slice(0, 1500)}`);
    const answer = await produceBatch(admin, TOPIC, onGood[0], makeBatch('still-here', 1, Date.now()));
    assert.equal(answer.errorCode, ErrorCode.NONE, 'the healthy directory serves on');
    assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM');
  },
);
