import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { log } from '../../src/log.js';
import type { ApiEntry } from '../../src/protocol/api-entry.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { encodeRequestFrame } from '../../src/protocol/headers.js';
import { RecordBatchHeader } from '../../src/protocol/records/batch-header.js';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { Prng, fuzzSeed, mutate } from '../support/fuzz.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, describeProducers, latestOffset } from '../support/raw-requests.js';
import { regionBytes, tempDir } from '../support/storage-fixtures.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import {
  READ_COMMITTED,
  READ_UNCOMMITTED,
  addOffsets,
  addPartitions,
  addPartitionsBatched,
  committedOffset,
  describeTransaction,
  endTxn,
  eventually,
  fetchPartition,
  findCoordinator,
  initTxn,
  listTransactions,
  produceTxn,
  resultsOf,
  txnOffsetCommit,
  type TopicPartition,
  type TxnProducer,
} from '../support/txn-requests.js';

const MAX_TIMEOUT_MS = 120_000;
const SETTINGS = {
  'transaction.state.log.num.partitions': '3',
  'offsets.topic.num.partitions': '3',
  'transaction.max.timeout.ms': String(MAX_TIMEOUT_MS),
  'group.initial.rebalance.delay.ms': '0',
};

const TRANSACTION_KEY = 1;

describe('transaction protocol edges, one broker in this process', () => {
  const temp = tempDir('txn-protocol');
  let broker: InProcessBroker;
  let client: RawConnection;
  let port = 0;
  let topicCount = 0;
  let idCount = 0;
  /** `log.error` calls while the broker ran: a handler that threw, or a background failure. */
  const errors: unknown[][] = [];
  const originalError = log.error.bind(log);

  /** A fresh topic of `partitions` partitions. */
  async function newTopic(partitions = 2): Promise<string> {
    const topic = `txn-${++topicCount}`;
    assert.equal(await createTopic(client, topic, {}, partitions), ErrorCode.NONE);
    return topic;
  }

  /** A new transactional id and its first producer id and epoch. */
  async function newProducer(timeoutMs = 60_000): Promise<TxnProducer> {
    const transactionalId = `tid-${++idCount}`;
    const p = await initTxn(client, transactionalId, { timeoutMs });
    assert.equal(p.errorCode, ErrorCode.NONE);
    return p;
  }

  /** ListOffsets v7 LATEST of partition 0 in the given isolation level. */
  async function endOffset(topic: string, isolationLevel: number): Promise<bigint> {
    const res = await client.request(apis.ListOffsets, 7, {
      replicaId: -1,
      isolationLevel,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }],
      timeoutMs: 5000,
    });
    assert.equal(res.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    return res.topics[0].partitions[0].offset;
  }

  async function stateOf(transactionalId: string): Promise<string> {
    return (await describeTransaction(client, transactionalId)).transactionState;
  }

  /** Waits until the coordinator has the transaction completed (its markers all written). */
  function completed(transactionalId: string, state: 'CompleteCommit' | 'CompleteAbort'): Promise<string> {
    return eventually(`${transactionalId} in ${state}`, async () => ((await stateOf(transactionalId)) === state ? state : undefined));
  }

  before(async () => {
    (log as unknown as { error: (...args: unknown[]) => void }).error = (...args: unknown[]) => {
      errors.push(args);
      (originalError as (...a: unknown[]) => void)(...args);
    };
    broker = await startTestBroker(SETTINGS, temp.dir);
    port = broker.broker.listeners[0].port;
    client = await RawConnection.open(port);
    // __transaction_state is created on first use; its partitions are then loaded.
    const found = await findCoordinator(client, 'warm-up', TRANSACTION_KEY);
    assert.equal(found.errorCode, ErrorCode.NONE);
    await eventually('the transaction coordinator is loaded', async () => ((await initTxn(client, 'warm-up')).errorCode === ErrorCode.NONE ? true : undefined));
  });

  after(async () => {
    client?.destroy();
    await broker?.stop();
    (log as unknown as { error: unknown }).error = originalError;
    temp.cleanup();
  });

  test('FindCoordinator: key type 1 answers this broker in both forms; an unknown key type is INVALID_REQUEST', async () => {
    const batched = await findCoordinator(client, 'some-transactional-id', TRANSACTION_KEY);
    assert.deepEqual(batched, { errorCode: ErrorCode.NONE, nodeId: 1, port });
    const single = await client.request(apis.FindCoordinator, 2, { key: 'some-transactional-id', keyType: TRANSACTION_KEY, coordinatorKeys: [] });
    assert.equal(single.errorCode, ErrorCode.NONE);
    assert.equal(single.nodeId, 1);
    assert.equal(single.port, port);
    const unknown = await findCoordinator(client, 'some-transactional-id', 7);
    assert.equal(unknown.errorCode, ErrorCode.INVALID_REQUEST);
    const unknownSingle = await client.request(apis.FindCoordinator, 2, { key: 'x', keyType: 2, coordinatorKeys: [] });
    assert.equal(unknownSingle.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('InitProducerId: the epoch goes up with every init of a transactional id, the producer id stays', async () => {
    const first = await newProducer();
    assert.equal(first.producerEpoch, 0);
    const second = await initTxn(client, first.transactionalId);
    const third = await initTxn(client, first.transactionalId, { version: 2 });
    assert.deepEqual([second.errorCode, second.producerId, second.producerEpoch], [ErrorCode.NONE, first.producerId, 1]);
    assert.deepEqual([third.errorCode, third.producerId, third.producerEpoch], [ErrorCode.NONE, first.producerId, 2]);
    // Another transactional id gets another producer id.
    const other = await newProducer();
    assert.notEqual(other.producerId, first.producerId);
  });

  test('InitProducerId KIP-360: the current id and epoch keep the id and bump the epoch; an older epoch is fenced', async () => {
    const p = await newProducer();
    const bumped = await initTxn(client, p.transactionalId, { version: 3, producerId: p.producerId, producerEpoch: p.producerEpoch });
    assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [ErrorCode.NONE, p.producerId, 1]);
    const again = await initTxn(client, p.transactionalId, { version: 4, producerId: p.producerId, producerEpoch: 1 });
    assert.deepEqual([again.errorCode, again.producerId, again.producerEpoch], [ErrorCode.NONE, p.producerId, 2]);
    // A retry naming the epoch just bumped from gets the current one back, no new bump.
    const retry = await initTxn(client, p.transactionalId, { version: 4, producerId: p.producerId, producerEpoch: 1 });
    assert.deepEqual([retry.errorCode, retry.producerId, retry.producerEpoch], [ErrorCode.NONE, p.producerId, 2]);
    // Older than that: a zombie, fenced (PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH before).
    const fenced = await initTxn(client, p.transactionalId, { version: 4, producerId: p.producerId, producerEpoch: 0 });
    assert.deepEqual([fenced.errorCode, fenced.producerId, fenced.producerEpoch], [ErrorCode.PRODUCER_FENCED, -1n, -1]);
    const fencedV3 = await initTxn(client, p.transactionalId, { version: 3, producerId: p.producerId, producerEpoch: 0 });
    assert.equal(fencedV3.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    // Another producer id than the transactional id's is fenced as well.
    const stranger = await initTxn(client, p.transactionalId, { version: 4, producerId: p.producerId + 1000n, producerEpoch: 2 });
    assert.equal(stranger.errorCode, ErrorCode.PRODUCER_FENCED);
    // None of that changed the id's epoch.
    assert.equal((await describeTransaction(client, p.transactionalId)).producerEpoch, 2);
  });

  test('InitProducerId: a transaction timeout over transaction.max.timeout.ms (or not positive) is INVALID_TRANSACTION_TIMEOUT', async () => {
    for (const timeoutMs of [MAX_TIMEOUT_MS + 1, 0, -5]) {
      const res = await initTxn(client, `too-long-${timeoutMs}`, { timeoutMs });
      assert.equal(res.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT, `timeout ${timeoutMs}`);
      assert.equal(res.producerId, -1n);
    }
    const ok = await initTxn(client, `just-right`, { timeoutMs: MAX_TIMEOUT_MS });
    assert.equal(ok.errorCode, ErrorCode.NONE);
    assert.equal((await describeTransaction(client, 'too-long-0')).errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
  });

  test('AddPartitionsToTxn v3: partitions join the transaction; an unknown one fails the request, the others OPERATION_NOT_ATTEMPTED', async () => {
    const topic = await newTopic(3);
    const p = await newProducer();
    const refused = await addPartitions(client, p, [
      { topic, partition: 0 },
      { topic, partition: 7 },
      { topic: 'no-such-topic', partition: 0 },
    ]);
    assert.deepEqual(
      refused,
      new Map([
        [`${topic}-0`, ErrorCode.OPERATION_NOT_ATTEMPTED],
        [`${topic}-7`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ['no-such-topic-0', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ]),
    );
    assert.equal(await stateOf(p.transactionalId), 'Empty', 'nothing was added');

    const added = await addPartitions(client, p, [
      { topic, partition: 0 },
      { topic, partition: 2 },
    ]);
    assert.deepEqual([...added.values()], [ErrorCode.NONE, ErrorCode.NONE]);
    // Adding one again, with a new one, in an older request version.
    const more = await addPartitions(client, p, [{ topic, partition: 2 }, { topic, partition: 1 }], 1);
    assert.deepEqual([...more.values()], [ErrorCode.NONE, ErrorCode.NONE]);
    const described = await describeTransaction(client, p.transactionalId);
    assert.equal(described.transactionState, 'Ongoing');
    assert.deepEqual(described.topics.map((t) => [t.topic, t.partitions]), [[topic, [0, 1, 2]]]);
    assert.ok(described.transactionStartTimeMs > 0n);
    assert.equal(described.transactionTimeoutMs, 60_000);
  });

  test('AddPartitionsToTxn v3: a wrong producer id is INVALID_PRODUCER_ID_MAPPING, an old epoch PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2)', async () => {
    const topic = await newTopic(1);
    const p = await newProducer();
    const tp = [{ topic, partition: 0 }];
    assert.deepEqual([...(await addPartitions(client, { ...p, producerId: p.producerId + 77n }, tp)).values()], [ErrorCode.INVALID_PRODUCER_ID_MAPPING]);
    assert.deepEqual([...(await addPartitions(client, { ...p, transactionalId: 'never-initialised' }, tp)).values()], [ErrorCode.INVALID_PRODUCER_ID_MAPPING]);
    const next = await initTxn(client, p.transactionalId);
    assert.equal(next.producerEpoch, p.producerEpoch + 1);
    assert.deepEqual([...(await addPartitions(client, p, tp)).values()], [ErrorCode.PRODUCER_FENCED]);
    assert.deepEqual([...(await addPartitions(client, p, tp, 1)).values()], [ErrorCode.INVALID_PRODUCER_EPOCH]);
    // An epoch from the future is not fenced, but not valid either.
    assert.deepEqual([...(await addPartitions(client, { ...next, producerEpoch: next.producerEpoch + 1 }, tp)).values()], [ErrorCode.INVALID_PRODUCER_EPOCH]);
    assert.equal(await stateOf(p.transactionalId), 'Empty');
  });

  test('AddPartitionsToTxn v4/v5: transactions batched, each answered on its own; verifyOnly adds nothing', async () => {
    const topic = await newTopic(3);
    const a = await newProducer();
    const b = await newProducer();
    for (const version of [4, 5]) {
      const res = await addPartitionsBatched(
        client,
        [
          { ...a, partitions: [{ topic, partition: version - 4 }] },
          { ...b, producerId: b.producerId + 1n, partitions: [{ topic, partition: 0 }] },
        ],
        version,
      );
      assert.equal(res.errorCode, ErrorCode.NONE);
      assert.deepEqual(resultsOf(res, a.transactionalId), new Map([[`${topic}-${version - 4}`, ErrorCode.NONE]]));
      assert.deepEqual(resultsOf(res, b.transactionalId), new Map([[`${topic}-0`, ErrorCode.INVALID_PRODUCER_ID_MAPPING]]));
    }
    assert.deepEqual((await describeTransaction(client, a.transactionalId)).topics.map((t) => t.partitions), [[0, 1]]);

    // verifyOnly: NONE for partitions in the open transaction, INVALID_TXN_STATE for any other.
    const verify = await addPartitionsBatched(client, [
      { ...a, verifyOnly: true, partitions: [{ topic, partition: 0 }, { topic, partition: 1 }] },
      { ...a, transactionalId: a.transactionalId, verifyOnly: true, partitions: [{ topic, partition: 2 }] },
    ]);
    const [inTxn, notInTxn] = verify.resultsByTransaction;
    assert.deepEqual(inTxn.topicResults[0].resultsByPartition.map((r) => r.partitionErrorCode), [ErrorCode.NONE, ErrorCode.NONE]);
    assert.deepEqual(notInTxn.topicResults[0].resultsByPartition.map((r) => r.partitionErrorCode), [ErrorCode.INVALID_TXN_STATE]);
    // b has no transaction open: nothing of it verifies.
    const none = await addPartitionsBatched(client, [{ ...b, verifyOnly: true, partitions: [{ topic, partition: 0 }] }], 5);
    assert.deepEqual(resultsOf(none, b.transactionalId), new Map([[`${topic}-0`, ErrorCode.INVALID_TXN_STATE]]));
    assert.deepEqual((await describeTransaction(client, a.transactionalId)).topics.map((t) => t.partitions), [[0, 1]]);
    assert.equal(await stateOf(b.transactionalId), 'Empty');
    // Unknown partitions in the batched form, as in v3.
    const unknown = await addPartitionsBatched(client, [{ ...b, partitions: [{ topic, partition: 0 }, { topic, partition: 9 }] }]);
    assert.deepEqual(
      resultsOf(unknown, b.transactionalId),
      new Map([
        [`${topic}-0`, ErrorCode.OPERATION_NOT_ATTEMPTED],
        [`${topic}-9`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ]),
    );
  });

  test('KIP-890: a transactional batch for a partition not in the transaction is refused and not appended; after AddPartitionsToTxn it is taken; after EndTxn a late one is refused', async () => {
    const topic = await newTopic(2);
    const p = await newProducer();
    const tp0 = { topic, partition: 0 };
    const tp1 = { topic, partition: 1 };
    // No transaction open at all.
    const early = await produceTxn(client, p, tp0, { sequence: 0, count: 2 });
    assert.equal(early.errorCode, ErrorCode.INVALID_TXN_STATE);
    // A transaction open, but on another partition.
    assert.deepEqual([...(await addPartitions(client, p, [tp1])).values()], [ErrorCode.NONE]);
    const elsewhere = await produceTxn(client, p, tp0, { sequence: 0, count: 2 });
    assert.equal(elsewhere.errorCode, ErrorCode.INVALID_TXN_STATE);
    assert.equal(await latestOffset(client, topic, 0), 0n, 'nothing appended');
    // A batch from an unknown producer id of the transactional id.
    const stranger = await produceTxn(client, { ...p, producerId: p.producerId + 55n }, tp1, { sequence: 0, count: 1 });
    assert.equal(stranger.errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    assert.equal(await latestOffset(client, topic, 1), 0n);

    assert.deepEqual([...(await addPartitions(client, p, [tp0])).values()], [ErrorCode.NONE]);
    const taken = await produceTxn(client, p, tp0, { sequence: 0, count: 2 });
    assert.equal(taken.errorCode, ErrorCode.NONE);
    assert.equal(taken.baseOffset, 0n);
    const second = await produceTxn(client, p, tp0, { sequence: 2, count: 1 });
    assert.equal(second.baseOffset, 2n);
    assert.equal(await endTxn(client, p, true), ErrorCode.NONE);
    await completed(p.transactionalId, 'CompleteCommit');
    assert.equal(await latestOffset(client, topic, 0), 4n, 'three records and the COMMIT marker');

    const late = await produceTxn(client, p, tp0, { sequence: 3, count: 1 });
    assert.equal(late.errorCode, ErrorCode.INVALID_TXN_STATE);
    assert.equal(await latestOffset(client, topic, 0), 4n, 'the late batch was not appended');
    // Nothing hangs: read_committed reads everything the transaction committed.
    const read = await fetchPartition(client, tp0, 0n, READ_COMMITTED);
    assert.equal(read.data.lastStableOffset, 4n);
    assert.deepEqual(read.committedValues, ['s0-0', 's0-1', 's2-0']);
  });

  test('EndTxn: commit of nothing is INVALID_TXN_STATE, abort of nothing NONE, a repeated commit NONE, an abort after a commit refused', async () => {
    const topic = await newTopic(1);
    const tp = { topic, partition: 0 };
    const p = await newProducer();
    assert.equal(await endTxn(client, p, true), ErrorCode.INVALID_TXN_STATE);
    assert.equal(await endTxn(client, p, false), ErrorCode.NONE);
    assert.equal(await stateOf(p.transactionalId), 'Empty');

    assert.deepEqual([...(await addPartitions(client, p, [tp])).values()], [ErrorCode.NONE]);
    assert.equal((await produceTxn(client, p, tp, { sequence: 0, count: 1 })).errorCode, ErrorCode.NONE);
    // The commit and an abort (and a retry of the commit) in flight together: the abort is
    // refused whichever phase the commit is in.
    const [commit, abort, retried] = await Promise.all([endTxn(client, p, true), endTxn(client, p, false), endTxn(client, p, true)]);
    assert.equal(commit, ErrorCode.NONE);
    assert.ok(abort === ErrorCode.CONCURRENT_TRANSACTIONS || abort === ErrorCode.INVALID_TXN_STATE, `abort during the commit: ${abort}`);
    assert.ok(retried === ErrorCode.CONCURRENT_TRANSACTIONS || retried === ErrorCode.NONE, `commit retried during the commit: ${retried}`);
    await completed(p.transactionalId, 'CompleteCommit');
    assert.equal(await endTxn(client, p, true), ErrorCode.NONE, 'a retry of the completed commit');
    assert.equal(await endTxn(client, p, false), ErrorCode.INVALID_TXN_STATE, 'an abort of the committed transaction');
    assert.equal(await endTxn(client, p, true, 1), ErrorCode.NONE);
    // Fenced and unknown producers.
    assert.equal(await endTxn(client, { ...p, producerId: p.producerId + 3n }, true), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const next = await initTxn(client, p.transactionalId);
    assert.equal(await endTxn(client, p, false), ErrorCode.PRODUCER_FENCED);
    assert.equal(await endTxn(client, p, false, 1), ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await endTxn(client, next, false), ErrorCode.NONE);
    const read = await fetchPartition(client, tp, 0n, READ_COMMITTED);
    assert.deepEqual(read.committedValues, ['s0-0']);
  });

  test('TxnOffsetCommit: offsets are invisible to OffsetFetch until the commit (UNSTABLE_OFFSET_COMMIT when stable ones are required), and gone after an abort', async () => {
    const topic = await newTopic(2);
    const group = `txn-group-${topicCount}`;
    const p = await newProducer();
    assert.equal(await addOffsets(client, p, group), ErrorCode.NONE);
    assert.equal((await describeTransaction(client, p.transactionalId)).topics[0]?.topic, '__consumer_offsets');
    assert.deepEqual(
      await txnOffsetCommit(client, p, group, topic, [
        [0, 10n],
        [1, 20n],
      ]),
      [ErrorCode.NONE, ErrorCode.NONE],
    );
    const before = await committedOffset(client, group, topic, 0);
    assert.deepEqual(before, { errorCode: ErrorCode.NONE, partitionError: ErrorCode.NONE, offset: -1n });
    // A consumer that requires stable offsets (KIP-447) is told to wait for the transaction.
    const unstable = await committedOffset(client, group, topic, 0, true);
    assert.deepEqual(unstable, { errorCode: ErrorCode.NONE, partitionError: ErrorCode.UNSTABLE_OFFSET_COMMIT, offset: -1n });
    assert.equal(await endTxn(client, p, true), ErrorCode.NONE);
    await completed(p.transactionalId, 'CompleteCommit');
    assert.equal((await committedOffset(client, group, topic, 0)).offset, 10n);
    assert.equal((await committedOffset(client, group, topic, 1)).offset, 20n);
    assert.deepEqual(await committedOffset(client, group, topic, 1, true), { errorCode: ErrorCode.NONE, partitionError: ErrorCode.NONE, offset: 20n });

    // The next transaction moves them on, then aborts: the committed ones stay.
    assert.equal(await addOffsets(client, p, group), ErrorCode.NONE);
    assert.deepEqual(await txnOffsetCommit(client, p, group, topic, [[0, 15n]]), [ErrorCode.NONE]);
    assert.equal((await committedOffset(client, group, topic, 0)).offset, 10n);
    assert.equal((await committedOffset(client, group, topic, 0, true)).partitionError, ErrorCode.UNSTABLE_OFFSET_COMMIT);
    assert.deepEqual(await committedOffset(client, group, topic, 1, true), { errorCode: ErrorCode.NONE, partitionError: ErrorCode.NONE, offset: 20n }, 'another partition is stable');
    assert.equal(await endTxn(client, p, false), ErrorCode.NONE);
    await completed(p.transactionalId, 'CompleteAbort');
    assert.equal((await committedOffset(client, group, topic, 0)).offset, 10n);
    assert.equal((await committedOffset(client, group, topic, 0, true)).offset, 10n);

    // An offset no log can reach, past what the coordinator stores exactly, is refused, not mangled.
    assert.deepEqual(await txnOffsetCommit(client, p, group, topic, [[0, 2n ** 63n - 1n]]), [ErrorCode.INVALID_COMMIT_OFFSET_SIZE]);

    // A fenced producer's offsets are refused.
    const next = await initTxn(client, p.transactionalId);
    assert.equal(await addOffsets(client, p, group), ErrorCode.PRODUCER_FENCED);
    assert.equal(await addOffsets(client, p, group, 1), ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await addOffsets(client, next, ''), ErrorCode.INVALID_GROUP_ID);
  });

  test('ListTransactions filters by state, producer id and duration; unknown states are named back. DescribeTransactions of an unknown id is TRANSACTIONAL_ID_NOT_FOUND', async () => {
    const topic = await newTopic(1);
    const ongoing = await newProducer();
    const committed = await newProducer();
    const empty = await newProducer();
    assert.deepEqual([...(await addPartitions(client, ongoing, [{ topic, partition: 0 }])).values()], [ErrorCode.NONE]);
    assert.deepEqual([...(await addPartitions(client, committed, [{ topic, partition: 0 }])).values()], [ErrorCode.NONE]);
    assert.equal(await endTxn(client, committed, true), ErrorCode.NONE);
    await completed(committed.transactionalId, 'CompleteCommit');
    const ours = new Set([ongoing, committed, empty].map((p) => p.transactionalId));
    const listed = async (filters: Parameters<typeof listTransactions>[1], version = 1): Promise<string[]> => {
      const res = await listTransactions(client, filters, version);
      assert.equal(res.errorCode, ErrorCode.NONE);
      return res.transactionStates
        .filter((s) => ours.has(s.transactionalId))
        .map((s) => `${s.transactionalId}:${s.transactionState}`)
        .sort();
    };
    const all = await listed({});
    assert.deepEqual(all, [`${ongoing.transactionalId}:Ongoing`, `${committed.transactionalId}:CompleteCommit`, `${empty.transactionalId}:Empty`].sort());
    assert.deepEqual(await listed({ states: ['Ongoing'] }), [`${ongoing.transactionalId}:Ongoing`]);
    assert.deepEqual(await listed({ states: ['Empty', 'CompleteCommit'] }), [`${committed.transactionalId}:CompleteCommit`, `${empty.transactionalId}:Empty`].sort());
    assert.deepEqual(await listed({ producerIds: [committed.producerId, 999_999_999n] }), [`${committed.transactionalId}:CompleteCommit`]);
    assert.deepEqual(await listed({ states: ['Ongoing'], producerIds: [committed.producerId] }), []);
    // Duration: transactions open longer than the filter (only the open one has a start).
    await sleep(250);
    assert.deepEqual(await listed({ durationMs: 100n }), [`${ongoing.transactionalId}:Ongoing`]);
    assert.deepEqual(await listed({ durationMs: 3_600_000n }), []);
    // v0, which has no duration filter.
    assert.deepEqual(await listed({}, 0), all);
    // Unknown states are named in unknownStateFilters, and match nothing.
    const unknown = await listTransactions(client, { states: ['Ongoing', 'Bogus', 'ongoing'] });
    assert.deepEqual(unknown.unknownStateFilters, ['Bogus', 'ongoing']);
    assert.deepEqual(
      unknown.transactionStates.filter((s) => ours.has(s.transactionalId)).map((s) => s.transactionalId),
      [ongoing.transactionalId],
    );
    const onlyUnknown = await listTransactions(client, { states: ['Bogus'] });
    assert.deepEqual(onlyUnknown.unknownStateFilters, ['Bogus']);
    assert.deepEqual(onlyUnknown.transactionStates, []);

    const described = await client.request(apis.DescribeTransactions, 0, { transactionalIds: [ongoing.transactionalId, 'nobody-has-this-id'] });
    assert.equal(described.transactionStates[0].errorCode, ErrorCode.NONE);
    assert.equal(described.transactionStates[0].transactionState, 'Ongoing');
    assert.equal(described.transactionStates[0].producerId, ongoing.producerId);
    assert.deepEqual(described.transactionStates[0].topics.map((t) => [t.topic, t.partitions]), [[topic, [0]]]);
    assert.equal(described.transactionStates[1].errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    assert.equal(described.transactionStates[1].transactionalId, 'nobody-has-this-id');
    assert.equal(await endTxn(client, ongoing, false), ErrorCode.NONE);
  });

  test('DescribeProducers shows the first offset of an open transaction, and -1 once it ends', async () => {
    const topic = await newTopic(1);
    const tp = { topic, partition: 0 };
    const p = await newProducer();
    // Another transaction first, committed: offsets 0-1 and its marker at 2.
    assert.deepEqual([...(await addPartitions(client, p, [tp])).values()], [ErrorCode.NONE]);
    assert.equal((await produceTxn(client, p, tp, { sequence: 0, count: 2 })).errorCode, ErrorCode.NONE);
    assert.equal(await endTxn(client, p, true), ErrorCode.NONE);
    await completed(p.transactionalId, 'CompleteCommit');
    assert.deepEqual([...(await addPartitions(client, p, [tp])).values()], [ErrorCode.NONE]);
    assert.equal((await produceTxn(client, p, tp, { sequence: 2, count: 1 })).baseOffset, 3n);
    assert.equal((await produceTxn(client, p, tp, { sequence: 3, count: 1 })).baseOffset, 4n);
    const open = await describeProducers(client, topic, 0);
    assert.equal(open.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      open.producers.map((x) => [x.producerId, x.producerEpoch, x.lastSequence, x.currentTxnStartOffset]),
      [[p.producerId, p.producerEpoch, 3, 3n]],
    );
    const stable = await fetchPartition(client, tp, 0n, READ_COMMITTED);
    assert.equal(stable.data.lastStableOffset, 3n);
    // ListOffsets LATEST is the stable offset for read_committed, the high watermark otherwise.
    assert.equal(await endOffset(topic, READ_COMMITTED), 3n);
    assert.equal(await endOffset(topic, READ_UNCOMMITTED), 5n);
    assert.equal(await endTxn(client, p, false), ErrorCode.NONE);
    await completed(p.transactionalId, 'CompleteAbort');
    const ended = await describeProducers(client, topic, 0);
    assert.deepEqual(
      ended.producers.map((x) => [x.producerId, x.currentTxnStartOffset]),
      [[p.producerId, -1n]],
    );
    const read = await fetchPartition(client, tp, 0n, READ_COMMITTED);
    assert.equal(read.data.lastStableOffset, 6n);
    assert.deepEqual(read.data.abortedTransactions?.map((a) => [a.producerId, a.firstOffset]), [[p.producerId, 3n]]);
    assert.deepEqual(read.committedValues, ['s0-0', 's0-1']);
    assert.deepEqual((await fetchPartition(client, tp, 0n, READ_UNCOMMITTED)).allValues, ['s0-0', 's0-1', 's2-0', 's3-0']);
    assert.equal(await endOffset(topic, READ_COMMITTED), 6n);
  });

  test('WriteTxnMarkers: a marker ends the producer\'s transaction in the partition; a stale epoch or an unknown partition is refused', async () => {
    const topic = await newTopic(1);
    const tp = { topic, partition: 0 };
    const p = await newProducer();
    assert.deepEqual([...(await addPartitions(client, p, [tp])).values()], [ErrorCode.NONE]);
    assert.equal((await produceTxn(client, p, tp, { sequence: 0, count: 2 })).errorCode, ErrorCode.NONE);
    const write = (producerEpoch: number, transactionResult: boolean, partitions = [0]) =>
      client.request(apis.WriteTxnMarkers, 1, {
        markers: [{ producerId: p.producerId, producerEpoch, transactionResult, coordinatorEpoch: 0, topics: [{ name: topic, partitionIndexes: partitions }] }],
      });
    // As a coordinator fencing the producer would: an ABORT marker with the epoch bumped.
    const fenced = await write(p.producerEpoch + 1, false, [0, 5]);
    assert.deepEqual(
      fenced.markers[0].topics[0].partitions.map((x) => [x.partitionIndex, x.errorCode]),
      [
        [0, ErrorCode.NONE],
        [5, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    );
    const read = await fetchPartition(client, tp, 0n, READ_COMMITTED);
    assert.equal(read.data.lastStableOffset, 3n);
    assert.deepEqual(read.data.abortedTransactions?.map((a) => [a.producerId, a.firstOffset]), [[p.producerId, 0n]]);
    assert.deepEqual(read.committedValues, []);
    // The partition now knows the bumped epoch: a marker of the older one is stale.
    const stale = await write(p.producerEpoch, true);
    assert.equal(stale.markers[0].topics[0].partitions[0].errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await latestOffset(client, topic, 0), 3n, 'the stale marker was not appended');
    // And so is a batch of the older epoch.
    assert.equal((await produceTxn(client, p, tp, { sequence: 2, count: 1 })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await latestOffset(client, topic, 0), 3n);
  });

  test('WriteTxnMarkers from a coordinator older than the one that wrote the last marker is refused (TRANSACTION_COORDINATOR_FENCED)', async () => {
    const topic = await newTopic(1);
    const tp = { topic, partition: 0 };
    const p = await newProducer();
    const write = (coordinatorEpoch: number, transactionResult: boolean) =>
      client.request(apis.WriteTxnMarkers, 1, {
        markers: [{ producerId: p.producerId, producerEpoch: p.producerEpoch, transactionResult, coordinatorEpoch, topics: [{ name: topic, partitionIndexes: [0] }] }],
      });
    assert.deepEqual([...(await addPartitions(client, p, [tp])).values()], [ErrorCode.NONE]);
    assert.equal((await produceTxn(client, p, tp, { sequence: 0, count: 1 })).errorCode, ErrorCode.NONE);
    assert.equal((await write(7, true)).markers[0].topics[0].partitions[0].errorCode, ErrorCode.NONE);
    // A paused coordinator of epoch 6 wakes up and ends what it thinks is still open: refused, nothing appended.
    const stale = await write(6, false);
    assert.equal(stale.markers[0].topics[0].partitions[0].errorCode, ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    assert.equal(await latestOffset(client, topic, 0), 2n);
    const described = await client.request(apis.DescribeProducers, 0, { topics: [{ name: topic, partitionIndexes: [0] }] });
    assert.equal(described.topics[0].partitions[0].activeProducers[0].coordinatorEpoch, 7);
  });

  describe('fuzzed bodies of the transaction APIs', () => {
    /** Api key and version: a mutation leaves them, so it reaches the body decoder. */
    const KEEP = 4;
    /** The whole request header: api key, version, correlation id, client id ('txn-fuzz'). */
    const HEADER = 4 + 4 + 2 + 'txn-fuzz'.length;
    /** FUZZ_SCALE=20 for a deeper local hunt; CI runs the default. */
    const CASES = Math.round(1500 * Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1));

    function withSizePrefix(body: Buffer): Buffer {
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      return Buffer.concat([size, body]);
    }

    /** Valid requests of every transaction API, naming the fuzz topic and a live transaction. */
    function seeds(p: TxnProducer, tp: TopicPartition): Buffer[] {
      const frame = <Req, Res>(api: ApiEntry<Req, Res>, version: number, body: Req): Buffer =>
        encodeRequestFrame({ correlationId: 7, clientId: 'txn-fuzz' }, api.apiKey, version, body).subarray(4);
      const apt = (version: number, verifyOnly: boolean) =>
        frame(
          apis.AddPartitionsToTxn,
          version,
          version >= 4
            ? {
                transactions: [{ transactionalId: p.transactionalId, producerId: p.producerId, producerEpoch: p.producerEpoch, verifyOnly, topics: [{ name: tp.topic, partitions: [tp.partition, 1] }] }],
                v3AndBelowTransactionalId: '',
                v3AndBelowProducerId: 0n,
                v3AndBelowProducerEpoch: 0,
                v3AndBelowTopics: [],
              }
            : {
                transactions: [],
                v3AndBelowTransactionalId: p.transactionalId,
                v3AndBelowProducerId: p.producerId,
                v3AndBelowProducerEpoch: p.producerEpoch,
                v3AndBelowTopics: [{ name: tp.topic, partitions: [tp.partition, 1] }],
              },
        );
      const offsets = { transactionalId: p.transactionalId, producerId: p.producerId, producerEpoch: p.producerEpoch, groupId: 'fuzz-group' };
      const end = (committed: boolean) => ({ transactionalId: p.transactionalId, producerId: p.producerId, producerEpoch: p.producerEpoch, committed });
      const txnOffsets = {
        ...offsets,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [{ name: tp.topic, partitions: [{ partitionIndex: 0, committedOffset: 3n, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
      };
      const markers = (transactionResult: boolean) => ({
        markers: [{ producerId: p.producerId + 10_000n, producerEpoch: 0, transactionResult, topics: [{ name: tp.topic, partitionIndexes: [tp.partition] }], coordinatorEpoch: 0 }],
      });
      const init = { transactionalId: p.transactionalId, transactionTimeoutMs: 60_000, producerId: p.producerId, producerEpoch: p.producerEpoch };
      return [
        apt(1, false),
        apt(3, false),
        apt(4, false),
        apt(4, true),
        apt(5, true),
        frame(apis.AddOffsetsToTxn, 1, offsets),
        frame(apis.AddOffsetsToTxn, 3, offsets),
        frame(apis.EndTxn, 1, end(false)),
        frame(apis.EndTxn, 3, end(true)),
        frame(apis.TxnOffsetCommit, 1, txnOffsets),
        frame(apis.TxnOffsetCommit, 3, txnOffsets),
        frame(apis.WriteTxnMarkers, 0, markers(false)),
        frame(apis.WriteTxnMarkers, 1, markers(true)),
        frame(apis.DescribeTransactions, 0, { transactionalIds: [p.transactionalId, 'x'] }),
        frame(apis.ListTransactions, 0, { stateFilters: ['Ongoing'], producerIdFilters: [p.producerId], durationFilter: -1n }),
        frame(apis.ListTransactions, 1, { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [], durationFilter: 5n }),
        frame(apis.InitProducerId, 1, { ...init, producerId: -1n, producerEpoch: -1 }),
        frame(apis.InitProducerId, 4, init),
        frame(apis.InitProducerId, 5, { ...init, transactionalId: null }),
      ];
    }

    /**
     * Well-formed requests with hostile values (empty and huge ids, negative and huge partitions,
     * the internal topics, epochs at their limits): they reach the handlers' logic, not only the
     * decoders.
     */
    function randomRequest(rng: Prng, p: TxnProducer, topic: string): Buffer {
      const frame = <Req, Res>(api: ApiEntry<Req, Res>, version: number, body: Req): Buffer =>
        encodeRequestFrame({ correlationId: rng.int(1 << 30), clientId: 'txn-fuzz' }, api.apiKey, version, body).subarray(4);
      const tid = () => rng.pick([p.transactionalId, p.transactionalId, '', 'x'.repeat(1 + rng.int(400)), `tid-${rng.int(1000)}`, '\u0000\u00ff']);
      const pid = () => rng.pick([p.producerId, p.producerId, -1n, 0n, p.producerId + 1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(rng.uint32())]);
      const epoch = () => rng.pick([p.producerEpoch, p.producerEpoch, -1, 0, 32767, -32768, p.producerEpoch + 1]);
      const partition = () => rng.pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), rng.int(5)]);
      const name = () => rng.pick([topic, topic, '', '__consumer_offsets', '__transaction_state', 'no-such-topic']);
      const list = <T>(make: () => T, max = 4): T[] => Array.from({ length: rng.int(max + 1) }, make);
      const int32 = () => rng.pick([0, -1, 1, 2 ** 31 - 1, -(2 ** 31), rng.int(1_000_000)]);
      const int64 = () => rng.pick([0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(rng.uint32())]);
      const topics = () => list(() => ({ name: name(), partitions: list(partition) }));
      switch (rng.int(8)) {
        case 0: {
          const version = rng.int(6);
          return frame(
            apis.AddPartitionsToTxn,
            version,
            version >= 4
              ? {
                  transactions: list(() => ({ transactionalId: tid(), producerId: pid(), producerEpoch: epoch(), verifyOnly: rng.chance(0.5), topics: topics() })),
                  v3AndBelowTransactionalId: '',
                  v3AndBelowProducerId: 0n,
                  v3AndBelowProducerEpoch: 0,
                  v3AndBelowTopics: [],
                }
              : { transactions: [], v3AndBelowTransactionalId: tid(), v3AndBelowProducerId: pid(), v3AndBelowProducerEpoch: epoch(), v3AndBelowTopics: topics() },
          );
        }
        case 1:
          return frame(apis.AddOffsetsToTxn, rng.int(5), { transactionalId: tid(), producerId: pid(), producerEpoch: epoch(), groupId: rng.pick(['', 'fuzz-group', 'x'.repeat(300)]) });
        case 2:
          return frame(apis.EndTxn, rng.int(5), { transactionalId: tid(), producerId: pid(), producerEpoch: epoch(), committed: rng.chance(0.5) });
        case 3: {
          const version = rng.int(5);
          return frame(apis.TxnOffsetCommit, version, {
            transactionalId: tid(),
            groupId: rng.pick(['', 'fuzz-group', 'other-group']),
            producerId: pid(),
            producerEpoch: epoch(),
            generationId: version >= 3 ? int32() : -1,
            memberId: version >= 3 ? rng.pick(['', 'member']) : '',
            groupInstanceId: version >= 3 ? rng.pick([null, 'instance']) : null,
            topics: list(() => ({
              name: name(),
              partitions: list(() => ({ partitionIndex: partition(), committedOffset: int64(), committedLeaderEpoch: version >= 2 ? int32() : -1, committedMetadata: rng.pick([null, '', 'meta']) })),
            })),
          });
        }
        case 4:
          return frame(apis.WriteTxnMarkers, rng.int(2), {
            markers: list(() => ({
              // Markers go to the fuzz topic and __consumer_offsets only: the witness stays untouched.
              producerId: rng.pick([-1n, 0n, 2n ** 63n - 1n, BigInt(rng.uint32()) + 1_000_000n]),
              producerEpoch: epoch(),
              transactionResult: rng.chance(0.5),
              topics: list(() => ({ name: rng.pick([topic, '', 'no-such-topic', '__consumer_offsets']), partitionIndexes: list(partition) })),
              coordinatorEpoch: int32(),
            })),
          });
        case 5:
          return frame(apis.DescribeTransactions, 0, { transactionalIds: list(tid, 6) });
        case 6: {
          const version = rng.int(2);
          const states = ['Empty', 'Ongoing', 'PrepareCommit', 'CompleteAbort', 'Dead', 'PrepareEpochFence', '', 'Bogus'];
          return frame(apis.ListTransactions, version, { stateFilters: list(() => rng.pick(states)), producerIdFilters: list(pid), durationFilter: version >= 1 ? int64() : -1n });
        }
        default: {
          const version = rng.int(6);
          const named = version >= 3 && rng.chance(0.5);
          return frame(apis.InitProducerId, version, {
            transactionalId: rng.pick([null, tid()]),
            transactionTimeoutMs: int32(),
            producerId: named ? pid() : -1n,
            producerEpoch: named ? epoch() : -1,
          });
        }
      }
    }

    /**
     * Every batch of every partition here reads back with a good CRC and offsets in order, and the
     * log ends where its last batch does: what the fuzzing wrote (markers, offsets) is whole.
     */
    function checkLogs(): number {
      let batches = 0;
      const header = new RecordBatchHeader();
      for (const partition of broker.broker.partitions.all()) {
        const log = partition.log;
        let next = log.logStartOffset;
        while (next < log.logEndOffset) {
          const bytes = regionBytes(log.read(next, 64 * 1024 * 1024)!);
          let progressed = false;
          for (const span of batchSpans(bytes)) {
            header.reset(bytes, span.offset);
            assert.equal(header.computeCrc(), header.crc, `${partition.key}: CRC of the batch at ${header.baseOffset}`);
            decodeRecordBatch(bytes, { offset: span.offset });
            assert.ok(Number(header.baseOffset) >= next, `${partition.key}: batch at ${header.baseOffset} after ${next}`);
            next = Number(header.baseOffset) + header.lastOffsetDelta + 1;
            progressed = true;
            batches++;
          }
          assert.ok(progressed, `${partition.key}: no batch at ${next}`);
        }
        assert.equal(next, log.logEndOffset, `${partition.key} ends where its last batch does`);
      }
      return batches;
    }

    /** Sends one frame on a connection of its own: answered, or the connection closed; never silence. */
    async function play(body: Buffer): Promise<'answered' | 'closed'> {
      const conn = await RawConnection.open(port);
      try {
        conn.send(withSizePrefix(body));
        const answer = await conn.nextFrame(5000);
        if (answer !== null) return 'answered';
        assert.ok(conn.peerClosed, `no answer and no close for ${body.toString('hex')}`);
        return 'closed';
      } finally {
        conn.destroy();
      }
    }

    test('never crash the broker or damage its logs: it serves transactions afterwards, and after a restart', async (t) => {
      // A committed transaction before, to be found intact after.
      const witnessTopic = await newTopic(2);
      const witness = await newProducer();
      const wtp = { topic: witnessTopic, partition: 0 };
      await addPartitions(client, witness, [wtp]);
      assert.equal((await produceTxn(client, witness, wtp, { sequence: 0, count: 3, tag: 'witness' })).errorCode, ErrorCode.NONE);
      assert.equal(await endTxn(client, witness, true), ErrorCode.NONE);
      await completed(witness.transactionalId, 'CompleteCommit');

      // The target: a transaction open on a topic of its own.
      const fuzzTopic = await newTopic(2);
      const target = await newProducer();
      const ftp = { topic: fuzzTopic, partition: 0 };
      await addPartitions(client, target, [ftp]);
      assert.equal((await produceTxn(client, target, ftp, { sequence: 0, count: 1 })).errorCode, ErrorCode.NONE);

      const seed = fuzzSeed();
      t.diagnostic(`FUZZ_SEED=${seed}`);
      const rng = new Prng(seed);
      const corpus = seeds(target, ftp);
      // The valid ones first, as they are: all answered.
      for (const body of corpus) assert.equal(await play(body), 'answered', `valid ${body.readInt16BE(0)} v${body.readInt16BE(2)}`);
      // Mutations that spare the request header reach the body decoder; the others the header's.
      const bodies = Array.from({ length: CASES }, (_, i) => {
        if (i % 3 === 0) return mutate(rng, rng.pick(corpus), KEEP);
        if (i % 3 === 1) return mutate(rng, rng.pick(corpus), HEADER);
        return rng.chance(0.2) ? mutate(rng, randomRequest(rng, target, fuzzTopic), HEADER) : randomRequest(rng, target, fuzzTopic);
      });
      const outcomes = { answered: 0, closed: 0 };
      for (let i = 0; i < bodies.length; i += 16) {
        for (const o of await Promise.all(bodies.slice(i, i + 16).map(play))) outcomes[o]++;
      }
      t.diagnostic(`${CASES} fuzzed bodies: ${outcomes.answered} answered, ${outcomes.closed} connections closed`);
      assert.deepEqual(errors, [], 'the broker logged errors');
      t.diagnostic(`${checkLogs()} batches in the logs, all whole`);

      // Still serving: a new transaction commits, and the witness reads back whole.
      const after = await newProducer();
      const atp = { topic: witnessTopic, partition: 1 };
      assert.deepEqual([...(await addPartitions(client, after, [atp])).values()], [ErrorCode.NONE]);
      assert.equal((await produceTxn(client, after, atp, { sequence: 0, count: 2, tag: 'after' })).errorCode, ErrorCode.NONE);
      assert.equal(await endTxn(client, after, true), ErrorCode.NONE);
      await completed(after.transactionalId, 'CompleteCommit');
      assert.deepEqual((await fetchPartition(client, atp, 0n, READ_COMMITTED)).committedValues, ['after-0', 'after-1']);
      assert.deepEqual((await fetchPartition(client, wtp, 0n, READ_COMMITTED)).committedValues, ['witness-0', 'witness-1', 'witness-2']);

      // And from disk: the logs load, __transaction_state replays to the same states.
      client.destroy();
      await broker.stop();
      broker = await startTestBroker(SETTINGS, temp.dir);
      port = broker.broker.listeners[0].port;
      client = await RawConnection.open(port);
      await eventually('the transaction coordinator is loaded again', async () => ((await describeTransaction(client, witness.transactionalId)).errorCode === ErrorCode.NONE ? true : undefined));
      assert.equal(await stateOf(witness.transactionalId), 'CompleteCommit');
      assert.equal(await stateOf(after.transactionalId), 'CompleteCommit');
      assert.deepEqual((await fetchPartition(client, wtp, 0n, READ_COMMITTED)).committedValues, ['witness-0', 'witness-1', 'witness-2']);
      assert.deepEqual((await fetchPartition(client, atp, 0n, READ_COMMITTED)).committedValues, ['after-0', 'after-1']);
      checkLogs();
      assert.deepEqual(errors, [], 'the broker logged errors');
    });
  });
});
