import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, latestOffset, produceBatch } from '../support/raw-requests.js';
import { StorageError } from '../../src/storage/storage-error.js';
import { sluice } from '../cli/sluice-cli.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, startTestBroker, type InProcessBroker } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;

describe('answers as Kafka gives them, one broker', () => {
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

  test('a produce to a compacted topic lists every keyless record of the batch in recordErrors', async () => {
    assert.equal(await createTopic(client, 'compacted-answers', { 'cleanup.policy': 'compact' }), ErrorCode.NONE);
    const keys = ['a', null, 'c', null, null, 'f'];
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      records: keys.map((k, i) => ({ key: k === null ? null : Buffer.from(k), value: Buffer.from(`v${i}`), timestampDelta: i, headers: [] })),
    });
    const answer = await produceBatch(client, 'compacted-answers', 0, batch);
    assert.equal(answer.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(
      answer.recordErrors.map((e) => e.batchIndex),
      [1, 3, 4],
    );
    for (const e of answer.recordErrors) {
      assert.equal(e.batchIndexErrorMessage, 'Compacted topic cannot accept message without key in topic partition compacted-answers-0.');
    }
    assert.match(answer.errorMessage ?? '', /^One or more records have been rejected due to 3 record errors in total/);
    assert.equal(await latestOffset(client, 'compacted-answers', 0), 0n, 'nothing of the batch was written');

    // A batch with every record keyed goes in.
    const good = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      records: [{ key: Buffer.from('k'), value: Buffer.from('v'), timestampDelta: 0, headers: [] }],
    });
    const ok = await produceBatch(client, 'compacted-answers', 0, good);
    assert.equal(ok.errorCode, ErrorCode.NONE);
    assert.deepEqual(ok.recordErrors, []);
  });

  test('kafkajs sees INVALID_RECORD for keyless records to a compacted topic', async () => {
    const kafka = new Kafka({ clientId: 'kafka-answers', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await assert.rejects(
        producer.send({ topic: 'compacted-answers', messages: [{ key: 'x', value: '1' }, { value: '2' }] }),
        (e: Error & { type?: string }) => e.type === 'INVALID_RECORD' || /INVALID_RECORD|invalid/i.test(e.message),
      );
    } finally {
      await producer.disconnect();
    }
  });

  test('ElectLeaders: ELECTION_NOT_NEEDED where the preferred replica leads, UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist', async () => {
    assert.equal(await createTopic(client, 'elect-me', {}, 2), ErrorCode.NONE);
    for (const version of [0, 1, 2]) {
      const res = await client.request(apis.ElectLeaders, version, {
        electionType: 0,
        topicPartitions: [{ topic: 'elect-me', partitions: [0, 1, 7] }],
        timeoutMs: 5000,
      });
      assert.equal(res.errorCode, ErrorCode.NONE);
      assert.equal(res.replicaElectionResults.length, 1);
      const byPartition = new Map(res.replicaElectionResults[0].partitionResult.map((p) => [p.partitionId, p.errorCode]));
      assert.equal(byPartition.get(0), ErrorCode.ELECTION_NOT_NEEDED, `v${version}`);
      assert.equal(byPartition.get(1), ErrorCode.ELECTION_NOT_NEEDED, `v${version}`);
      assert.equal(byPartition.get(7), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `v${version}`);
    }
    // Unclean election of a partition that has a leader: not needed either.
    const unclean = await client.request(apis.ElectLeaders, 2, { electionType: 1, topicPartitions: [{ topic: 'elect-me', partitions: [0] }], timeoutMs: 5000 });
    assert.equal(unclean.replicaElectionResults[0].partitionResult[0].errorCode, ErrorCode.ELECTION_NOT_NEEDED);
    // Asked for every partition, Kafka lists only those an election concerned: none here.
    const all = await client.request(apis.ElectLeaders, 2, { electionType: 0, topicPartitions: null, timeoutMs: 5000 });
    assert.equal(all.errorCode, ErrorCode.NONE);
    assert.deepEqual(all.replicaElectionResults, []);
    const state = broker.broker.partitions.get('elect-me', 0)!;
    assert.equal(state.leaderId, 1);
  });

  test('AlterPartitionReassignments to the broker itself is a no-op, to another broker INVALID_REPLICA_ASSIGNMENT; none is listed in progress (kafkajs admin)', async () => {
    const kafka = new Kafka({ clientId: 'kafka-answers-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'reassign-me', numPartitions: 2 }] });
      const epochBefore = broker.broker.partitions.get('reassign-me', 0)!.partitionEpoch;
      await admin.alterPartitionReassignments({ topics: [{ topic: 'reassign-me', partitionAssignment: [{ partition: 0, replicas: [1] }] }] });
      const p = broker.broker.partitions.get('reassign-me', 0)!;
      assert.deepEqual(p.replicas, [1]);
      assert.equal(p.leaderId, 1);
      assert.ok(p.partitionEpoch >= epochBefore);
      assert.deepEqual((await admin.listPartitionReassignments({})).topics, []);
      assert.deepEqual((await admin.listPartitionReassignments({ topics: [{ topic: 'reassign-me', partitions: [0, 1] }] })).topics, []);

      await assert.rejects(
        admin.alterPartitionReassignments({ topics: [{ topic: 'reassign-me', partitionAssignment: [{ partition: 1, replicas: [2] }] }] }),
        (e: Error & { type?: string; errors?: { type?: string }[] }) =>
          e.type === 'INVALID_REPLICA_ASSIGNMENT' || (e.errors ?? []).some((x) => x.type === 'INVALID_REPLICA_ASSIGNMENT') || /INVALID_REPLICA_ASSIGNMENT|replica assignment/i.test(e.message),
      );
    } finally {
      await admin.disconnect();
    }
    // The same over the wire, each partition's code.
    const res = await client.request(apis.AlterPartitionReassignments, 0, {
      timeoutMs: 5000,
      topics: [
        {
          name: 'reassign-me',
          partitions: [
            { partitionIndex: 0, replicas: [1] },
            { partitionIndex: 1, replicas: [1, 2] },
          ],
        },
      ],
    });
    assert.equal(res.errorCode, ErrorCode.NONE);
    const codes = res.responses[0].partitions.map((p) => p.errorCode);
    assert.deepEqual(codes, [ErrorCode.NONE, ErrorCode.INVALID_REPLICA_ASSIGNMENT]);
    // Cancelling where nothing moves: NO_REASSIGNMENT_IN_PROGRESS, as Kafka answers.
    const cancel = await client.request(apis.AlterPartitionReassignments, 0, {
      timeoutMs: 5000,
      topics: [{ name: 'reassign-me', partitions: [{ partitionIndex: 0, replicas: null }] }],
    });
    assert.equal(cancel.responses[0].partitions[0].errorCode, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
    const list = await client.request(apis.ListPartitionReassignments, 0, { timeoutMs: 5000, topics: null });
    assert.equal(list.errorCode, ErrorCode.NONE);
    assert.deepEqual(list.topics, []);
    assert.deepEqual(broker.broker.partitions.get('reassign-me', 1)!.replicas, [1]);
  });
});

/** The log directory of each partition directory `<topic>-<p>` found, and any future or marked leftovers. */
function whereOnDisk(dirs: string[], name: string): { holders: string[]; leftovers: string[] } {
  const holders: string[] = [];
  const leftovers: string[] = [];
  for (const d of dirs) {
    for (const entry of readdirSync(d)) {
      if (entry === name) holders.push(d);
      else if (entry.startsWith(`${name}.`)) leftovers.push(join(d, entry));
    }
  }
  return { holders, leftovers };
}

async function alterLogDir(client: RawConnection, dir: string, topic: string, partitions: number[]): Promise<number[]> {
  const res = await client.request(apis.AlterReplicaLogDirs, apis.AlterReplicaLogDirs.maxVersion, { dirs: [{ path: dir, topics: [{ name: topic, partitions }] }] });
  return res.results.flatMap((t) => t.partitions.map((p) => p.errorCode));
}

/** DescribeLogDirs: by directory, the partitions of `topic` it holds (`p` or `p (future)`). */
async function logDirsOf(client: RawConnection, topic: string): Promise<Map<string, { code: number; partitions: string[] }>> {
  const res = await client.request(apis.DescribeLogDirs, 4, { topics: null });
  return new Map(
    res.results.map((r) => [
      r.logDir,
      { code: r.errorCode, partitions: r.topics.filter((t) => t.name === topic).flatMap((t) => t.partitions.map((p) => `${p.partitionIndex}${p.isFutureKey ? ' (future)' : ''}`)) },
    ]),
  );
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('AlterReplicaLogDirs: a partition moves between log.dirs, online', () => {
  test('kafkajs keeps producing and consuming while a partition moves there and back; DescribeLogDirs follows; a restart finds it in its new directory', async () => {
    const a = tempDir('move-a');
    const b = tempDir('move-b');
    const dirs = [realpathSync(a.dir), realpathSync(b.dir)];
    let broker = await startTestBroker({ 'log.dirs': dirs.join(','), 'log.segment.bytes': '4096' });
    let client = await RawConnection.open(broker.broker.listeners[0].port);
    const topic = 'mover';
    try {
      assert.equal(await createTopic(client, topic, { 'segment.bytes': '4096' }, 2), ErrorCode.NONE);
      const kafka = new Kafka({ clientId: 'mover', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 20, maxRetryTime: 200 } });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      const consumer = kafka.consumer({ groupId: 'mover-group', maxWaitTimeInMs: 50 });
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const consumed: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void consumed.push(message.value!.toString()) });
      const acked: string[] = [];
      let producing = true;
      const produced = (async () => {
        for (let i = 0; producing; i++) {
          const batch = Array.from({ length: 5 }, (_, j) => `m-${i}-${j}`);
          await producer.send({ topic, acks: -1, messages: batch.map((value) => ({ value, partition: 0 })) });
          acked.push(...batch);
          if (i % 10 === 0) await sleep(1);
        }
      })();
      await until('some records', async () => acked.length > 1000);

      const from = broker.broker.logs.dirOfLog(topic, 0)!;
      const to = dirs.find((d) => d !== from)!;
      for (const [target, label] of [
        [to, 'there'],
        [from, 'back'],
        [to, 'there again'],
      ] as const) {
        assert.deepEqual(await alterLogDir(client, target, topic, [0]), [ErrorCode.NONE], `move ${label}`);
        await until(`the move ${label}`, async () => (await logDirsOf(client, topic)).get(target)!.partitions.includes('0'));
        assert.equal(broker.broker.logs.dirOfLog(topic, 0), target);
        const onDisk = whereOnDisk(dirs, `${topic}-0`);
        assert.deepEqual(onDisk, { holders: [target], leftovers: [] }, `on disk after the move ${label}`);
        const before = acked.length;
        await until('more records after the move', async () => acked.length > before + 200);
      }
      // Already where it is asked to go: nothing to do.
      assert.deepEqual(await alterLogDir(client, to, topic, [0]), [ErrorCode.NONE]);
      producing = false;
      await produced;
      await until('everything acknowledged consumed', async () => consumed.length >= acked.length, 30_000);
      assert.deepEqual([...new Set(consumed)].sort(), [...acked].sort(), 'every acknowledged record consumed, nothing else');
      assert.equal(consumed.length, acked.length, 'nothing twice');
      await consumer.disconnect();
      await producer.disconnect();
      const end = await latestOffset(client, topic, 0);
      assert.equal(end, BigInt(acked.length));

      // The CLI: partition 1 to the other directory, and an unknown directory refused.
      const p1From = broker.broker.logs.dirOfLog(topic, 1)!;
      const p1To = dirs.find((d) => d !== p1From)!;
      const moved = await sluice(['topic', 'move-log-dir', topic, '1', p1To, '--brokers', broker.bootstrap]);
      assert.equal(moved.code, 0, moved.stderr);
      await until('partition 1 moved by the CLI', async () => broker.broker.logs.dirOfLog(topic, 1) === p1To);
      const refused = await sluice(['topic', 'move-log-dir', topic, '1', '/no/such/dir', '--brokers', broker.bootstrap]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /LOG_DIR_NOT_FOUND/);

      // Kafka's errors.
      assert.deepEqual(await alterLogDir(client, '/no/such/log/dir', topic, [0]), [ErrorCode.LOG_DIR_NOT_FOUND]);
      assert.deepEqual(await alterLogDir(client, from, topic, [9]), [ErrorCode.REPLICA_NOT_AVAILABLE]);
      assert.deepEqual(await alterLogDir(client, from, 'no-such-topic', [0]), [ErrorCode.REPLICA_NOT_AVAILABLE]);

      client.destroy();
      await broker.stop();
      broker = await startTestBroker({ 'log.dirs': dirs.join(',') });
      client = await RawConnection.open(broker.broker.listeners[0].port);
      assert.equal(broker.broker.logs.dirOfLog(topic, 0), to, 'after a restart the partition is in its new directory');
      assert.equal(await latestOffset(client, topic, 0), end);
      assert.equal(broker.broker.logs.dirOfLog(topic, 1), p1To);
      assert.deepEqual((await logDirsOf(client, topic)).get(to)!.partitions.sort(), to === p1To ? ['0', '1'] : ['0']);

      // A directory that failed: KAFKA_STORAGE_ERROR.
      (broker.broker.logs as unknown as { takeOffline(dir: string, e: StorageError): void }).takeOffline(from, new StorageError('io-error', 'a test failure'));
      assert.deepEqual(await alterLogDir(client, from, topic, [0]), [ErrorCode.KAFKA_STORAGE_ERROR]);
    } finally {
      client.destroy();
      await broker.stop();
      a.cleanup();
      b.cleanup();
    }
  });

  test('SIGKILL at any moment of moves leaves each partition whole in exactly one directory, every acknowledged record kept', async () => {
    const a = tempDir('move-crash-a');
    const b = tempDir('move-crash-b');
    const dirs = [realpathSync(a.dir), realpathSync(b.dir)];
    const topic = 'crash-mover';
    let acked = 0;
    /** The log end at the start of the round, and the records acknowledged in it. */
    let start = 0n;
    let ackedInRound = 0;
    try {
      // First a kill at each step of a move that matters, then at random moments.
      const steps = ['before-commit', 'after-commit', 'source-partly-deleted'];
      let expectedHolder: string | null = null;
      for (let round = 0; round < steps.length + 8; round++) {
        const step = steps[round - 1];
        if (step) process.env.SLUICE_TEST_KILL_IN_MOVE = step;
        else delete process.env.SLUICE_TEST_KILL_IN_MOVE;
        const broker = await startBrokerProcess(dirs[0], { 'log.dirs': dirs.join(','), 'log.segment.bytes': '8192' }).finally(() => {
          delete process.env.SLUICE_TEST_KILL_IN_MOVE;
        });
        const client = await RawConnection.open(broker.port);
        try {
          if (round === 0) assert.equal(await createTopic(client, topic, { 'segment.bytes': '8192' }, 1), ErrorCode.NONE);
          const end = await latestOffset(client, topic, 0);
          // A batch in flight at the kill may be there too, unacknowledged.
          assert.ok(end >= start + BigInt(ackedInRound) && end <= start + BigInt(ackedInRound + 20), `round ${round}: every acknowledged record is there after the kill (${end} vs ${start}+${ackedInRound})`);
          start = end;
          ackedInRound = 0;
          const onDisk = whereOnDisk(dirs, `${topic}-0`);
          assert.equal(onDisk.holders.length, 1, `round ${round}: in exactly one directory (${onDisk.holders.join(', ')})`);
          assert.deepEqual(onDisk.leftovers, [], `round ${round}: no future replica left`);
          if (expectedHolder !== null) assert.equal(onDisk.holders[0], expectedHolder, `round ${round}: where the move killed at ${steps[round - 2]} leaves it`);
          expectedHolder = null;
          let stop = false;
          const producing = (async () => {
            for (let i = 0; !stop; i++) {
              const values = Array.from({ length: 20 }, (_, j) => `r${round}-${i}-${j}`);
              const batch = encodeRecordBatch({
                baseTimestamp: BigInt(Date.now()),
                records: values.map((v, j) => ({ key: null, value: Buffer.from(v), timestampDelta: j, headers: [] })),
              });
              const answer = await produceBatch(client, topic, 0, batch).catch(() => null);
              if (answer === null) return;
              if (answer.errorCode === ErrorCode.NONE) {
                ackedInRound += values.length;
                acked += values.length;
              }
              else await sleep(2);
            }
          })();
          const killedAt = steps[round - 1];
          if (round === 0) {
            // The first round just produces, and stops cleanly.
            await sleep(50);
            stop = true;
            await producing;
            await broker.stop();
            continue;
          }
          if (killedAt) {
            // This broker kills itself at that step of its first move.
            await sleep(30);
            const here = onDisk.holders[0];
            const other = dirs.find((d) => d !== here)!;
            const exited = once(broker.child, 'exit');
            await alterLogDir(client, other, topic, [0]).catch(() => []);
            await exited;
            stop = true;
            await producing;
            expectedHolder = killedAt === 'before-commit' ? here : other;
            continue;
          }
          // Moves back and forth, then a kill after a random delay: before, during or after one.
          for (let moves = 0; moves < 3; moves++) {
            const here = onDisk.holders[0];
            const other = dirs.find((d) => d !== here)!;
            await alterLogDir(client, moves % 2 === 0 ? other : here, topic, [0]).catch(() => []);
            await sleep(Math.floor(Math.random() * 40));
          }
          await sleep(Math.floor(Math.random() * 30));
          stop = true;
          await broker.kill();
          await producing;
        } finally {
          client.destroy();
          if (broker.child.exitCode === null && broker.child.signalCode === null) await broker.kill();
        }
      }
      assert.ok(acked > 0);
    } finally {
      a.cleanup();
      b.cleanup();
    }
  });
});
