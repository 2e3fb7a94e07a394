import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { coordinatorPartitionFor } from '../../src/coordinator/coordinator-log.js';
import { OFFSETS_TOPIC } from '../../src/coordinator/offsets-topic-records.js';
import { readTransactionLogRecord, TRANSACTION_STATE_TOPIC, TXN_STATE_NAMES } from '../../src/coordinator/transactions/transaction-metadata.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordBatch } from '../../src/protocol/records/record-batch.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, describeProducers, latestOffset, produceBatch } from '../support/raw-requests.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import {
  READ_COMMITTED,
  READ_UNCOMMITTED,
  addOffsets,
  addPartitions,
  committedOffset,
  describeTransaction,
  endTxn,
  eventually,
  fetchAll,
  fetchPartition,
  findCoordinator,
  initTxn,
  produceTxn,
  txnOffsetCommit,
  type TopicPartition,
  type TxnProducer,
} from '../support/txn-requests.js';

const { Kafka, logLevel } = kafkajs;

const TXN_PARTITIONS = 8;
const OFFSETS_PARTITIONS = 3;
const SETTINGS = {
  'transaction.state.log.num.partitions': String(TXN_PARTITIONS),
  'offsets.topic.num.partitions': String(OFFSETS_PARTITIONS),
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': '250',
  'group.initial.rebalance.delay.ms': '0',
};
/**
 * The timeout of the transaction left open across the kill: long enough for the kill, the
 * restart and a look at the held stable offset, short enough to wait out.
 */
const OPEN_TIMEOUT_MS = 15_000;
const TRANSACTION_KEY = 1;

/** A transactional id whose __transaction_state partition is `partition`. */
function tidIn(prefix: string, partition: (p: number) => boolean): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partition(coordinatorPartitionFor(id, TXN_PARTITIONS))) return id;
  }
}

/** The two transactions whose __transaction_state partitions are cut back have those partitions to themselves. */
const COMMIT_ID = tidIn('prepared-commit', (p) => p === 0);
const ABORT_ID = tidIn('prepared-abort', (p) => p === 1);
const other = (prefix: string): string => tidIn(prefix, (p) => p > 1);
/** The groups whose offsets those two transactions commit, each alone in its __consumer_offsets partition. */
function groupIn(prefix: string, partition: number): string {
  for (let i = 0; ; i++) if (coordinatorPartitionFor(`${prefix}-${i}`, OFFSETS_PARTITIONS) === partition) return `${prefix}-${i}`;
}
const COMMIT_GROUP = groupIn('prepared-commit-group', 0);
const ABORT_GROUP = groupIn('prepared-abort-group', 1);

interface FileBatch {
  position: number;
  batch: RecordBatch;
}

/** The batches of a partition's first segment file, as they lie on disk. */
function segmentBatches(dir: string, topic: string, partition: number): { path: string; batches: FileBatch[] } {
  const path = join(dir, `${topic}-${partition}`, `${'0'.padStart(20, '0')}.log`);
  const bytes = readFileSync(path);
  const batches = [...batchSpans(bytes)].map((s) => ({ position: s.offset, batch: decodeRecordBatch(bytes, { offset: s.offset }) }));
  return { path, batches };
}

/** The states a transactional id went through, in its __transaction_state partition, with where each lies. */
function stateRecords(dir: string, transactionalId: string): { path: string; states: { position: number; state: string }[] } {
  const { path, batches } = segmentBatches(dir, TRANSACTION_STATE_TOPIC, coordinatorPartitionFor(transactionalId, TXN_PARTITIONS));
  const states = batches.flatMap(({ position, batch }) =>
    batch.records.map((r) => {
      const { transactionalId: id, metadata } = readTransactionLogRecord(r.key!, r.value);
      assert.equal(id, transactionalId, 'the partition holds this transactional id only');
      return { position, state: metadata ? TXN_STATE_NAMES[metadata.state] : 'tombstone' };
    }),
  );
  return { path, states };
}

/**
 * Cuts a transactional id's __transaction_state partition back to before its first record of
 * `state`: the state a broker killed right before writing it leaves on disk (the writes before
 * are in the page cache, which a SIGKILL does not lose).
 */
function cutStateLogBefore(dir: string, transactionalId: string, state: string): void {
  const { path, states } = stateRecords(dir, transactionalId);
  const at = states.findIndex((s) => s.state === state);
  assert.ok(at > 0, `${transactionalId} reached ${state}: ${states.map((s) => s.state).join(', ')}`);
  truncateSync(path, states[at].position);
}

/** Cuts a partition back to before its first transaction marker; returns how many batches it kept. */
function cutBeforeMarker(dir: string, tp: TopicPartition): number {
  const { path, batches } = segmentBatches(dir, tp.topic, tp.partition);
  const at = batches.findIndex((b) => b.batch.control);
  assert.ok(at > 0, `${tp.topic}-${tp.partition} has a marker after its records`);
  assert.equal(at, batches.length - 1, 'the marker is the last batch');
  truncateSync(path, batches[at].position);
  return at;
}

/** A batch without a producer, values as given. */
function plainBatch(values: string[]): Buffer {
  return encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: values.map((v, i) => ({ key: null, value: Buffer.from(v), timestampDelta: i })) });
}

/**
 * One broker history, its tests in order, each starting where the last left off (a process start
 * takes seconds): transactions left in every phase by a SIGKILL, the logs cut back to where a
 * kill at the worst moment leaves them, and a restart that must finish what was decided and
 * abort what was not.
 */
describe('transactions across a SIGKILL of the broker process', { timeout: 120_000 }, () => {
  const temp = tempDir('txn-recovery');
  let running: BrokerProcess | null = null;
  let client: RawConnection;
  let port = 0;

  // Transaction states before the kill, for the checks after.
  const commitTps = [
    { topic: 'prepared-commit', partition: 0 },
    { topic: 'prepared-commit', partition: 1 },
  ];
  const abortTp = { topic: 'prepared-abort', partition: 0 };
  const raceTp = { topic: 'racing-commit', partition: 0 };
  const openTp = { topic: 'left-open', partition: 0 };
  const indexedTp = { topic: 'aborted-index', partition: 0 };
  const fenceTp = { topic: 'fenced', partition: 0 };
  let committer: TxnProducer;
  let aborter: TxnProducer;
  let racer: TxnProducer;
  let opener: TxnProducer;
  let openedAt = 0;
  let openFirstOffset = 0n;
  /** Aborted transactions of `indexedTp`: the aborting producer's first offset of each. */
  const indexedAborts: bigint[] = [];
  const indexedCommitted: string[] = [];
  let indexedAborter: TxnProducer;
  let zombie: TxnProducer;
  let successor: TxnProducer;

  async function start(): Promise<void> {
    running = await startBrokerProcess(temp.dir, SETTINGS, port);
    port = running.port;
    client = await RawConnection.open(port);
  }

  /** What the broker processes logged at error level or above. */
  const errors: string[] = [];
  /** What they logged at warn level, for the diagnostics. */
  const warnings: string[] = [];

  function collectLog(broker: BrokerProcess): void {
    for (const line of broker.output) {
      let entry: { level?: number; msg?: string };
      try {
        entry = JSON.parse(line) as { level?: number; msg?: string };
      } catch {
        continue;
      }
      if ((entry.level ?? 0) >= 50) errors.push(line);
      else if (entry.level === 40) warnings.push(entry.msg ?? line);
    }
  }

  async function kill(): Promise<void> {
    client.destroy();
    await running!.kill();
    collectLog(running!);
    running = null;
  }

  async function stateOf(transactionalId: string): Promise<string> {
    return (await describeTransaction(client, transactionalId)).transactionState;
  }

  function reaches(transactionalId: string, state: string, timeoutMs = 10_000): Promise<true> {
    return eventually(`${transactionalId} in ${state}`, async () => ((await stateOf(transactionalId)) === state ? true : undefined), timeoutMs);
  }

  async function begin(transactionalId: string, timeoutMs = 60_000): Promise<TxnProducer> {
    const p = await eventually(`InitProducerId of ${transactionalId}`, async () => {
      const r = await initTxn(client, transactionalId, { timeoutMs });
      return r.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS || r.errorCode === ErrorCode.COORDINATOR_NOT_AVAILABLE || r.errorCode === ErrorCode.NOT_COORDINATOR ? undefined : r;
    });
    assert.equal(p.errorCode, ErrorCode.NONE);
    return p;
  }

  async function add(p: TxnProducer, tps: TopicPartition[]): Promise<void> {
    assert.deepEqual([...(await addPartitions(client, p, tps)).values()], tps.map(() => ErrorCode.NONE));
  }

  async function produce(p: TxnProducer, tp: TopicPartition, sequence: number, count: number, tag: string): Promise<bigint> {
    const r = await produceTxn(client, p, tp, { sequence, count, tag });
    assert.equal(r.errorCode, ErrorCode.NONE, `producing ${tag}`);
    return r.baseOffset;
  }

  after(async () => {
    client?.destroy();
    await running?.kill();
    temp.cleanup();
  });

  test('before the kill: transactions committed, aborted, racing, left open, and a producer fenced', async () => {
    await start();
    for (const [topic, partitions, configs] of [
      ['prepared-commit', 2, {}],
      ['prepared-abort', 1, {}],
      ['racing-commit', 1, {}],
      ['left-open', 1, {}],
      // Small segments: the aborted transactions' index entries spread over several of them.
      ['aborted-index', 1, { 'segment.bytes': '1000' }],
      ['fenced', 1, {}],
      ['consumed', 2, {}],
    ] as const) {
      assert.equal(await createTopic(client, topic, configs, partitions), ErrorCode.NONE);
    }
    assert.equal((await findCoordinator(client, COMMIT_ID, TRANSACTION_KEY)).errorCode, ErrorCode.NONE);

    // Committed, then (below) cut back to PrepareCommit with one of its two markers written.
    committer = await begin(COMMIT_ID);
    await add(committer, commitTps);
    await produce(committer, commitTps[0], 0, 2, 'c0');
    await produce(committer, commitTps[1], 0, 3, 'c1');
    assert.equal(await addOffsets(client, committer, COMMIT_GROUP), ErrorCode.NONE);
    assert.deepEqual(await txnOffsetCommit(client, committer, COMMIT_GROUP, 'consumed', [[0, 7n], [1, 8n]]), [ErrorCode.NONE, ErrorCode.NONE]);
    assert.equal(await endTxn(client, committer, true), ErrorCode.NONE);
    await reaches(COMMIT_ID, 'CompleteCommit');

    // Aborted, then cut back to PrepareAbort with no marker written.
    aborter = await begin(ABORT_ID);
    await add(aborter, [abortTp]);
    await produce(aborter, abortTp, 0, 2, 'a');
    assert.equal(await addOffsets(client, aborter, ABORT_GROUP), ErrorCode.NONE);
    assert.deepEqual(await txnOffsetCommit(client, aborter, ABORT_GROUP, 'consumed', [[0, 9n]]), [ErrorCode.NONE]);
    assert.equal(await endTxn(client, aborter, false), ErrorCode.NONE);
    await reaches(ABORT_ID, 'CompleteAbort');

    // Transactions that overlap in one partition, half of them aborted, over several segments.
    const indexedCommitter = await begin(other('index-commit'));
    indexedAborter = await begin(other('index-abort'));
    for (let round = 0, cSeq = 0, aSeq = 0; round < 5; round++) {
      await add(indexedCommitter, [indexedTp]);
      await add(indexedAborter, [indexedTp]);
      await produce(indexedCommitter, indexedTp, cSeq, 2, `c${round}a`);
      indexedAborts.push(await produce(indexedAborter, indexedTp, aSeq, 2, `a${round}`));
      await produce(indexedCommitter, indexedTp, cSeq + 2, 1, `c${round}b`);
      cSeq += 3;
      aSeq += 2;
      indexedCommitted.push(`c${round}a-0`, `c${round}a-1`, `c${round}b-0`);
      assert.equal(await endTxn(client, indexedCommitter, true), ErrorCode.NONE);
      assert.equal(await endTxn(client, indexedAborter, false), ErrorCode.NONE);
      await reaches(indexedCommitter.transactionalId, 'CompleteCommit');
      await reaches(indexedAborter.transactionalId, 'CompleteAbort');
    }

    // A producer fenced by a new session of its transactional id (which aborts its transaction).
    const fenceId = other('fenced');
    zombie = await begin(fenceId);
    await add(zombie, [fenceTp]);
    await produce(zombie, fenceTp, 0, 1, 'zombie');
    successor = await begin(fenceId);
    assert.equal(successor.producerId, zombie.producerId);
    assert.equal(successor.producerEpoch, zombie.producerEpoch + 2, 'one epoch for the fencing abort, one for the new session');
    assert.deepEqual([...(await addPartitions(client, zombie, [fenceTp])).values()], [ErrorCode.PRODUCER_FENCED]);

    // Left open: a record before it, then its records, and no EndTxn.
    assert.equal((await produceBatch(client, openTp.topic, 0, plainBatch(['before']))).baseOffset, 0n);
    opener = await begin(other('left-open'), OPEN_TIMEOUT_MS);
    await add(opener, [openTp]);
    openedAt = Date.now();
    openFirstOffset = await produce(opener, openTp, 0, 2, 'open');
    assert.equal(openFirstOffset, 1n);
    assert.equal((await fetchPartition(client, openTp, 0n, READ_COMMITTED)).data.lastStableOffset, 1n);

    // Committed, and killed as soon as the commit is answered: the markers may or may not be out.
    racer = await begin(other('racing-commit'));
    await add(racer, [raceTp]);
    await produce(racer, raceTp, 0, 3, 'race');
    assert.equal(await endTxn(client, racer, true), ErrorCode.NONE);
    await kill();

    // Where a kill at the worst moments leaves the logs: the commit decided (PrepareCommit
    // written and answered) with its marker in one partition only; the abort decided with no
    // marker out at all.
    cutStateLogBefore(temp.dir, COMMIT_ID, 'CompleteCommit');
    cutBeforeMarker(temp.dir, commitTps[1]);
    assert.ok(segmentBatches(temp.dir, commitTps[0].topic, 0).batches.at(-1)!.batch.control, 'the first partition keeps its COMMIT marker');
    cutBeforeMarker(temp.dir, { topic: OFFSETS_TOPIC, partition: 0 });
    cutStateLogBefore(temp.dir, ABORT_ID, 'CompleteAbort');
    cutBeforeMarker(temp.dir, abortTp);
    cutBeforeMarker(temp.dir, { topic: OFFSETS_TOPIC, partition: 1 });
    assert.deepEqual(stateRecords(temp.dir, COMMIT_ID).states.map((s) => s.state).at(-1), 'PrepareCommit');
    assert.deepEqual(stateRecords(temp.dir, ABORT_ID).states.map((s) => s.state).at(-1), 'PrepareAbort');
  });

  test('after the restart: a transaction left open holds the last stable offset at its first record', async () => {
    await start();
    assert.ok(Date.now() - openedAt < OPEN_TIMEOUT_MS - 2000, `the restart took too long (${Date.now() - openedAt} ms since the transaction began)`);
    // A record appended after it is not readable read_committed either, until the transaction ends.
    assert.equal((await produceBatch(client, openTp.topic, 0, plainBatch(['after']))).baseOffset, 3n);
    const held = await fetchPartition(client, openTp, 0n, READ_COMMITTED);
    assert.equal(held.data.errorCode, ErrorCode.NONE);
    assert.equal(held.data.highWatermark, 4n);
    assert.equal(held.data.lastStableOffset, openFirstOffset);
    assert.deepEqual(held.allValues, ['before']);
    assert.deepEqual(held.data.abortedTransactions, []);
    assert.deepEqual((await fetchPartition(client, openTp, 2n, READ_COMMITTED)).allValues, [], 'nothing past the stable offset');
    assert.deepEqual((await fetchPartition(client, openTp, 0n, READ_UNCOMMITTED)).allValues, ['before', 'open-0', 'open-1', 'after']);
    const { producers } = await describeProducers(client, openTp.topic, 0);
    assert.deepEqual(
      producers.filter((p) => p.producerId === opener.producerId).map((p) => p.currentTxnStartOffset),
      [openFirstOffset],
    );
    await reaches(opener.transactionalId, 'Ongoing', 1000);
  });

  test('after the restart: the commit prepared before the kill is completed, its markers written, its records readable', async () => {
    await reaches(COMMIT_ID, 'CompleteCommit');
    const described = await describeTransaction(client, COMMIT_ID);
    assert.deepEqual([described.producerId, described.producerEpoch], [committer.producerId, committer.producerEpoch]);
    const expected = [['c0-0', 'c0-1'], ['c1-0', 'c1-1', 'c1-2']];
    for (const [i, tp] of commitTps.entries()) {
      const read = await fetchPartition(client, tp, 0n, READ_COMMITTED);
      assert.equal(read.data.lastStableOffset, read.data.highWatermark, `${tp.topic}-${tp.partition} is stable`);
      assert.deepEqual(read.committedValues, expected[i]);
      assert.deepEqual(read.data.abortedTransactions, []);
      assert.ok(read.batches.at(-1)!.control, 'it ends with a COMMIT marker');
    }
    // Its offsets too, whose marker the kill had kept from __consumer_offsets.
    assert.equal((await committedOffset(client, COMMIT_GROUP, 'consumed', 0, true)).offset, 7n);
    assert.equal((await committedOffset(client, COMMIT_GROUP, 'consumed', 1, true)).offset, 8n);
    // The racing commit got there too, wherever the kill caught it.
    await reaches(racer.transactionalId, 'CompleteCommit');
    const raced = await fetchPartition(client, raceTp, 0n, READ_COMMITTED);
    assert.deepEqual(raced.committedValues, ['race-0', 'race-1', 'race-2']);
    // A second COMMIT marker when the kill came after the markers but before CompleteCommit.
    assert.equal(raced.data.lastStableOffset, raced.data.highWatermark);
    assert.ok(raced.data.lastStableOffset >= 4n);
    // A new session of the committed id starts from the epoch it had.
    const next = await begin(COMMIT_ID);
    assert.deepEqual([next.producerId, next.producerEpoch], [committer.producerId, committer.producerEpoch + 1]);
  });

  test('after the restart: the abort prepared before the kill is completed, its records never read committed', async () => {
    await reaches(ABORT_ID, 'CompleteAbort');
    const read = await fetchPartition(client, abortTp, 0n, READ_COMMITTED);
    assert.equal(read.data.lastStableOffset, 3n);
    assert.deepEqual(read.data.abortedTransactions?.map((a) => [a.producerId, a.firstOffset]), [[aborter.producerId, 0n]]);
    assert.deepEqual(read.committedValues, []);
    assert.deepEqual(read.allValues, ['a-0', 'a-1']);
    assert.deepEqual(await committedOffset(client, ABORT_GROUP, 'consumed', 0, true), { errorCode: ErrorCode.NONE, partitionError: ErrorCode.NONE, offset: -1n });
    assert.ok(existsSync(join(temp.dir, 'prepared-abort-0', `${'0'.padStart(20, '0')}.txnindex`)), 'the new marker has its index entry');
  });

  test('after the restart: the aborted transactions index survives, beside its segments, with nothing added twice', async () => {
    const dir = join(temp.dir, 'aborted-index-0');
    const names = readdirSync(dir);
    const indexes = names.filter((n) => n.endsWith('.txnindex')).sort();
    const segments = names.filter((n) => n.endsWith('.log')).sort();
    assert.ok(segments.length >= 3, `segments: ${segments.join(', ')}`);
    assert.ok(indexes.length >= 2, `transaction indexes: ${indexes.join(', ')}`);
    for (const name of indexes) assert.ok(segments.includes(name.replace('.txnindex', '.log')), `${name} sits beside its segment`);
    const entries = indexes.reduce((n, name) => n + statSync(join(dir, name)).size / 34, 0);
    assert.equal(entries, indexedAborts.length, 'one entry per aborted transaction');

    // Records without a producer roll more segments before anything reads the producer state.
    const end = await latestOffset(client, indexedTp.topic, 0);
    for (let i = 0; i < 4; i++) await produceBatch(client, indexedTp.topic, 0, plainBatch([`plain${i}-${'x'.repeat(400)}`]));
    const read = await fetchAll(client, indexedTp, 0n, READ_COMMITTED);
    assert.equal(read.data.lastStableOffset, end + 4n);
    assert.deepEqual(
      read.data.abortedTransactions?.map((a) => [a.producerId, a.firstOffset]),
      indexedAborts.map((o) => [indexedAborter.producerId, o]),
    );
    assert.deepEqual(read.committedValues.filter((v) => !v.startsWith('plain')), indexedCommitted);
    assert.equal(read.committedValues.filter((v) => v.startsWith('plain')).length, 4);
    // From inside the range: only the transactions it overlaps.
    const from = indexedAborts[3];
    const partial = await fetchPartition(client, indexedTp, from, READ_COMMITTED);
    assert.deepEqual(
      partial.data.abortedTransactions?.map((a) => a.firstOffset),
      indexedAborts.slice(3),
    );
    const after = readdirSync(dir).filter((n) => n.endsWith('.txnindex'));
    const entriesAfter = after.reduce((n, name) => n + statSync(join(dir, name)).size / 34, 0);
    assert.equal(entriesAfter, indexedAborts.length, `no entry written twice (${after.join(', ')})`);
  });

  test('after the restart: a fenced producer stays fenced', async () => {
    assert.deepEqual([...(await addPartitions(client, zombie, [fenceTp])).values()], [ErrorCode.PRODUCER_FENCED]);
    assert.equal(await endTxn(client, zombie, true), ErrorCode.PRODUCER_FENCED);
    const init = await initTxn(client, zombie.transactionalId, { version: 4, producerId: zombie.producerId, producerEpoch: zombie.producerEpoch });
    assert.equal(init.errorCode, ErrorCode.PRODUCER_FENCED);
    const end = await latestOffset(client, fenceTp.topic, 0);
    const late = await produceTxn(client, zombie, fenceTp, { sequence: 1, count: 1, tag: 'late-zombie' });
    assert.equal(late.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await latestOffset(client, fenceTp.topic, 0), end, 'nothing appended');
    // The partition remembers the epoch of the abort marker that fenced it.
    const { producers } = await describeProducers(client, fenceTp.topic, 0);
    assert.deepEqual(
      producers.map((p) => [p.producerId, p.producerEpoch, p.currentTxnStartOffset]),
      [[zombie.producerId, zombie.producerEpoch + 1, -1n]],
    );
    // The successor carries on where it was: its epoch is the current one.
    const bumped = await initTxn(client, successor.transactionalId, { version: 4, producerId: successor.producerId, producerEpoch: successor.producerEpoch });
    assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [ErrorCode.NONE, successor.producerId, successor.producerEpoch + 1]);
    const read = await fetchPartition(client, fenceTp, 0n, READ_COMMITTED);
    assert.deepEqual(read.committedValues, []);
    assert.deepEqual(read.allValues, ['zombie-0']);
  });

  test('after the restart: the open transaction is aborted at its timeout; read_committed then passes it and drops its records', async () => {
    await reaches(opener.transactionalId, 'CompleteAbort', OPEN_TIMEOUT_MS + 10_000);
    assert.ok(Date.now() - openedAt >= OPEN_TIMEOUT_MS, 'not aborted before its timeout');
    const read = await fetchPartition(client, openTp, 0n, READ_COMMITTED);
    assert.equal(read.data.lastStableOffset, 5n, 'past the ABORT marker');
    assert.equal(read.data.lastStableOffset, read.data.highWatermark);
    assert.deepEqual(read.data.abortedTransactions?.map((a) => [a.producerId, a.firstOffset]), [[opener.producerId, openFirstOffset]]);
    assert.deepEqual(read.committedValues, ['before', 'after']);
    // The abort fenced the producer that left it open.
    const described = await describeTransaction(client, opener.transactionalId);
    assert.equal(described.producerEpoch, opener.producerEpoch + 1);
    assert.deepEqual([...(await addPartitions(client, opener, [openTp])).values()], [ErrorCode.PRODUCER_FENCED]);
    const late = await produceTxn(client, opener, openTp, { sequence: 2, count: 1, tag: 'late' });
    assert.equal(late.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  });

  test('kafkajs, reading committed, gets exactly the committed records of every partition', async () => {
    const kafka = new Kafka({ clientId: 'txn-recovery', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: 'txn-recovery-reader', maxWaitTimeInMs: 200, readUncommitted: false });
    const seen = new Map<string, string[]>();
    const topics = [openTp.topic, indexedTp.topic, abortTp.topic, commitTps[0].topic];
    const expected = new Map([
      [openTp.topic, ['before', 'after']],
      [indexedTp.topic, [...indexedCommitted, ...[0, 1, 2, 3].map((i) => `plain${i}-${'x'.repeat(400)}`)]],
      [abortTp.topic, []],
      [`${commitTps[0].topic}-0`, ['c0-0', 'c0-1']],
      [`${commitTps[0].topic}-1`, ['c1-0', 'c1-1', 'c1-2']],
    ]);
    await consumer.connect();
    try {
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const key = topic === commitTps[0].topic ? `${topic}-${partition}` : topic;
          seen.set(key, [...(seen.get(key) ?? []), message.value!.toString()]);
        },
      });
      const count = (m: Map<string, string[]>) => [...m.values()].reduce((n, v) => n + v.length, 0);
      await eventually('kafkajs read every committed record', async () => (count(seen) >= count(expected) ? true : undefined), 20_000, 100);
      // A moment more: anything aborted would come now.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await consumer.disconnect();
    }
    for (const [key, values] of expected) assert.deepEqual(seen.get(key) ?? [], values, key);
  });

  test('the broker logged no errors', async (t) => {
    await kill();
    t.diagnostic(`warnings: ${[...new Set(warnings)].join(' | ')}`);
    assert.deepEqual(errors, []);
  });
});
