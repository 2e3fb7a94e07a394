import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Producer, type Transaction } from 'kafkajs';
import { findCoordinator } from '../../src/client/group-offsets.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { coordinatorPartitionFor } from '../../src/coordinator/coordinator-log.js';
import { TRANSACTION_STATE_TOPIC } from '../../src/coordinator/transactions/transaction-metadata.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { createTopic } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/librdkafka-groups.js';
import { confluentKafka, skipUnlessPresent } from '../support/tools.js';
import { exactlyOnceViolations, RawTxnProducer, readUntil, TxnProducer, writeSentinels, type ReadRecord, type TxnReport } from '../support/txn-workload.js';

/**
 * Transactions on 3 brokers: the transaction coordinator (leader of the transactional id's
 * __transaction_state partition) on one broker, the partitions written on others, so markers go
 * by WriteTxnMarkers and produce verification by AddPartitionsToTxn (verify only) between
 * brokers; then the coordinator and a partition leader SIGKILLed mid-transaction, and a
 * partition leader SIGSTOPped as its transaction commits. What a read_committed consumer
 * (librdkafka) then reads is checked against what the producers were told: every committed
 * record once, no aborted one, a transaction whose commit ended in doubt all or nothing.
 */

const SETTINGS = {
  ...FAST_CLUSTER,
  'transaction.state.log.num.partitions': '6',
  // Two replicas of each: a partition of __transaction_state then leaves one broker out, which a test can stop without stopping its coordinator's writes.
  'transaction.state.log.replication.factor': '2',
  // Transactions open past their timeout are aborted within half a second of it.
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': '500',
};

/** The node id of each partition's leader (-1: none), by partition, as Metadata says now. */
async function leaders(client: KafkaClient, topic: string): Promise<number[]> {
  const md = await client.metadata([topic]);
  const t = md.topics.find((x) => x.name === topic);
  if (!t || t.errorCode !== ErrorCode.NONE) throw new Error(`no topic ${topic} in the metadata (error ${t?.errorCode})`);
  return t.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => p.leaderId);
}

/** A transactional id (`prefix-N`) whose __transaction_state partition `coordinator` leads now. */
async function idCoordinatedBy(client: KafkaClient, coordinator: number, prefix: string): Promise<string> {
  const led = await leaders(client, TRANSACTION_STATE_TOPIC);
  for (let n = 0; n < 1000; n++) {
    const id = `${prefix}-${n}`;
    if (led[coordinatorPartitionFor(id, led.length)] === coordinator) return id;
  }
  throw new Error(`broker ${coordinator} leads no partition of ${TRANSACTION_STATE_TOPIC}: ${led}`);
}

/** Where one partition of __transaction_state is: its leader (the coordinator of its ids), its other replica, and the broker that holds none of it. */
interface Roles {
  partition: number;
  coordinator: number;
  replica: number;
  outside: number;
}

/** The roles of a partition of __transaction_state whose 2 replicas are both in sync (the first found). */
async function txnStateRoles(client: KafkaClient, brokers: number[]): Promise<Roles | null> {
  const md = await client.metadata([TRANSACTION_STATE_TOPIC]);
  const p = md.topics[0].partitions.find((x) => x.leaderId >= 0 && x.isrNodes.length === 2 && x.replicaNodes.length === 2);
  if (!p) return null;
  const replica = p.replicaNodes.find((b) => b !== p.leaderId)!;
  return { partition: p.partitionIndex, coordinator: p.leaderId, replica, outside: brokers.find((b) => !p.replicaNodes.includes(b))! };
}

/** A transactional id (`prefix-N`) that partition `partition` of __transaction_state holds. */
function idIn(partition: number, partitions: number, prefix: string): string {
  for (let n = 0; ; n++) if (coordinatorPartitionFor(`${prefix}-${n}`, partitions) === partition) return `${prefix}-${n}`;
}

/** FindCoordinator's node id for a transactional id. */
async function txnCoordinator(client: KafkaClient, id: string): Promise<number> {
  const conn = await findCoordinator(client, id, 'transaction');
  const md = await client.metadata([]);
  return md.brokers.find((b) => `${b.host}:${b.port}` === conn.address)!.nodeId;
}

/** DescribeTransactions of `id` at broker `node`: its state, epoch and partitions, or the error's name. */
async function describeTxn(client: KafkaClient, node: number, id: string): Promise<{ state: string; producerEpoch: number; partitions: string[] } | { error: number }> {
  const res = await (await client.node(node)).send('DescribeTransactions', { transactionalIds: [id] });
  const s = res.transactionStates[0];
  if (s.errorCode !== ErrorCode.NONE) return { error: s.errorCode };
  return { state: s.transactionState, producerEpoch: s.producerEpoch, partitions: s.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p}`)).sort() };
}

/** ListOffsets LATEST at the partition's leader: the high watermark (read_uncommitted) or the last stable offset (read_committed). */
async function endOffset(client: KafkaClient, node: number, topic: string, partition: number, isolation: 'read_uncommitted' | 'read_committed'): Promise<bigint> {
  const res = await (await client.node(node)).send('ListOffsets', {
    replicaId: -1,
    isolationLevel: isolation === 'read_committed' ? 1 : 0,
    timeoutMs: 10_000,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }],
  });
  const p = res.topics[0].partitions[0];
  if (p.errorCode !== ErrorCode.NONE) throw new Error(`ListOffsets ${topic}-${partition} at broker ${node}: error ${p.errorCode}`);
  return p.offset;
}

/** Records of kafkajs transaction `txn` of `label`, in txn_workload.py's format ("label:txn:j"), record j to partition j % partitions. */
function txnMessages(label: string, txn: number, records: number, partitions: number): { partition: number; value: string }[] {
  return Array.from({ length: records }, (_, j) => ({ partition: j % partitions, value: `${label}:${txn}:${j}` }));
}

/** What the checker wants to know of a transaction run through kafkajs. */
const report = (txn: number, outcome: TxnReport['outcome'], records: number): TxnReport => ({ txn, outcome, records, ms: [0, 0] });

function assertExactlyOnce(producers: Map<string, TxnReport[]>, read: ReadRecord[]): void {
  const problems = exactlyOnceViolations(producers, read);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} exactly-once violations`);
}

describe('transactions across 3 brokers', { skip: clusterSkip('loopback') || skipUnlessPresent(confluentKafka), timeout: 150_000 }, () => {
  let cluster: TestCluster;
  let client: KafkaClient;
  const kafkajsProducers: Producer[] = [];
  const workloads: TxnProducer[] = [];

  const kafka = (): Kafka => new Kafka({ clientId: 'txn-test', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, retries: 12 } });

  async function kafkajsProducer(transactionalId: string, transactionTimeout = 30_000): Promise<Producer> {
    const producer = kafka().producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout, allowAutoTopicCreation: false });
    kafkajsProducers.push(producer);
    await producer.connect();
    return producer;
  }

  before(async () => {
    cluster = await startCluster({ brokers: 3, overrides: SETTINGS });
    client = new KafkaClient({ brokers: cluster.bootstrap, clientId: 'txn-test-admin', retries: 8 });
    // The first FindCoordinator for a transactional id creates __transaction_state.
    await findCoordinator(client, 'create-it', 'transaction').catch(() => {});
    await eventually(`${TRANSACTION_STATE_TOPIC} to have a leader for each partition`, async () => (await leaders(client, TRANSACTION_STATE_TOPIC).catch(() => [-1])).every((l) => l >= 0), 20_000);
  });

  after(async () => {
    await Promise.all(workloads.map((w) => w.kill()));
    await Promise.all(kafkajsProducers.map((p) => p.disconnect().catch(() => {})));
    await client?.close();
    await cluster?.close();
  });

  test('kafkajs: commit, abort and sendOffsets with the coordinator on broker 1 and the partitions led by brokers 2 and 3; read_committed sees exactly the committed records', async (t) => {
    const topic = 'txn-basic';
    const group = 'basic-group';
    assert.equal((await createTopic(client, topic, { assignment: [[2, 1, 3], [3, 1, 2]], configs: { 'min.insync.replicas': '2' } })).error, 'NONE');
    const id = await idCoordinatedBy(client, 1, 'basic');
    assert.equal(await txnCoordinator(client, id), 1);
    assert.deepEqual(await leaders(client, topic), [2, 3]);
    t.diagnostic(`transactional id ${id}, coordinator broker 1, ${topic} led by brokers 2 and 3`);

    const producer = await kafkajsProducer(id);
    const admin = kafka().admin();
    await admin.connect();
    const groupOffset = async (): Promise<string> => (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions.find((p) => p.partition === 0)!.offset;
    const stable = async (): Promise<boolean> =>
      (await Promise.all([0, 1].map(async (p) => (await endOffset(client, 2 + p, topic, p, 'read_committed')) === (await endOffset(client, 2 + p, topic, p, 'read_uncommitted'))))).every(Boolean);
    const outcomes: TxnReport[] = [];
    try {
      for (const [txn, ending] of [
        [0, 'commit'],
        [1, 'abort'],
        [2, 'commit'],
      ] as const) {
        const before = await endOffset(client, 2, topic, 0, 'read_uncommitted');
        const tx: Transaction = await producer.transaction();
        await tx.send({ topic, acks: -1, messages: txnMessages('basic', txn, 10, 2) });
        await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: String(txn + 1) }] }] });
        // Open: the records are in the log, but the last stable offset stays where the transaction began, and the group's offset is not visible.
        assert.equal(await endOffset(client, 2, topic, 0, 'read_uncommitted'), before + 5n);
        assert.equal(await endOffset(client, 2, topic, 0, 'read_committed'), before, 'the last stable offset stops at the open transaction');
        const described = await describeTxn(client, 1, id);
        assert.ok('state' in described && described.state === 'Ongoing', JSON.stringify(described));
        assert.deepEqual(described.partitions, ['__consumer_offsets-' + coordinatorPartitionFor(group, 10), `${topic}-0`, `${topic}-1`]);
        const expectedOffset = ending === 'commit' ? String(txn + 1) : '1';
        assert.equal(await groupOffset(), txn === 0 ? '-1' : '1', 'the offset sent into the open transaction is not visible yet');
        if (ending === 'commit') await tx.commit();
        else await tx.abort();
        outcomes.push(report(txn, ending === 'commit' ? 'committed' : 'aborted', 10));
        // The markers go to brokers 2 and 3 after EndTxn is answered.
        await eventually(`the markers of transaction ${txn} in both partitions`, stable, 10_000);
        await eventually(`the group's offset after transaction ${txn} (${ending})`, async () => (await groupOffset()) === expectedOffset, 10_000, () => `expected ${expectedOffset}`);
        const complete = ending === 'commit' ? 'CompleteCommit' : 'CompleteAbort';
        let done: Awaited<ReturnType<typeof describeTxn>> | null = null;
        await eventually(`${id} to be ${complete}`, async () => (done = await describeTxn(client, 1, id)) && 'state' in done && done.state === complete, 10_000, () => JSON.stringify(done));
      }
    } finally {
      await admin.disconnect();
    }

    await writeSentinels(cluster.bootstrap, topic, 2, 'END');
    const committed = await readUntil(cluster.bootstrap.join(','), topic, 'read_committed', 'END');
    assertExactlyOnce(new Map([['basic', outcomes]]), committed);
    assert.deepEqual(
      committed.filter((r) => r.v !== 'END').map((r) => r.v!.split(':')[1]).sort(),
      Array(10).fill('0').concat(Array(10).fill('2')),
      'read_committed: the 20 records of transactions 0 and 2',
    );
    // The aborted records are in the log all the same: read_uncommitted sees all 30.
    const uncommitted = await readUntil(cluster.bootstrap.join(','), topic, 'read_uncommitted', 'END');
    assert.equal(uncommitted.filter((r) => r.v?.startsWith('basic:')).length, 30);
  });

  test('SIGKILL of the coordinator while confluent-kafka and kafkajs producers are in transactions: its successor replays __transaction_state, completes and aborts; exactly once', async (t) => {
    const topic = 'txn-load';
    const coordinator = 2;
    assert.equal((await createTopic(client, topic, { assignment: [[1, 2, 3], [3, 2, 1], [1, 3, 2]], configs: { 'min.insync.replicas': '2' } })).error, 'NONE');
    assert.deepEqual(await leaders(client, topic), [1, 3, 1]);
    const ids = { a: await idCoordinatedBy(client, coordinator, 'load-a'), b: await idCoordinatedBy(client, coordinator, 'load-b') };
    const openId = await idCoordinatedBy(client, coordinator, 'open');
    const abandonedId = await idCoordinatedBy(client, coordinator, 'abandoned');
    for (const id of [ids.a, ids.b, openId, abandonedId]) assert.equal(await txnCoordinator(client, id), coordinator, id);
    t.diagnostic(`transactional ids ${[ids.a, ids.b, openId, abandonedId].join(', ')} on coordinator broker ${coordinator}; ${topic} led by brokers 1 and 3`);

    // Two confluent-kafka producers in transactions back to back (every third aborted, each with its group's offset).
    for (const [label, id] of Object.entries(ids)) {
      workloads.push(new TxnProducer({ bootstrap: cluster.bootstrap.join(','), topic, partitions: 3, transactionalId: id, label, records: 6, abortEvery: 3, offsetsGroup: `load-${label}` }));
    }
    // kafkajs: one transaction open across the crash and committed after it, one open and then left to time out.
    const open = await kafkajsProducer(openId);
    const openTx = await open.transaction();
    await openTx.send({ topic, acks: -1, messages: txnMessages('open', 0, 6, 3) });
    const abandoned = await kafkajsProducer(abandonedId, 6000);
    const abandonedTx = await abandoned.transaction();
    await abandonedTx.send({ topic, acks: -1, messages: txnMessages('abandoned', 0, 6, 3) });
    const abandonedBefore = await describeTxn(client, coordinator, abandonedId);
    assert.ok('state' in abandonedBefore && abandonedBefore.state === 'Ongoing', JSON.stringify(abandonedBefore));
    await Promise.all(workloads.map((w) => w.untilCommitted(3, 30_000)));

    const killedAt = Date.now();
    await cluster.kill(coordinator);
    t.diagnostic(`broker ${coordinator} killed with ${workloads.map((w) => `${w.label}: ${w.txns.length} transactions done`).join(', ')}`);
    let successor = coordinator;
    await eventually('another broker to coordinate the transactional ids', async () => (successor = await txnCoordinator(client, openId).catch(() => coordinator)) !== coordinator, 20_000);
    t.diagnostic(`broker ${successor} coordinates ${openId} now, ${Date.now() - killedAt} ms after the kill`);
    // Started again only now: a broker back within its session timeout could be elected again, as the first in-sync replica.
    const restarted = cluster.start(coordinator);

    // The transaction open across the crash commits through the new coordinator, which has it from the log.
    await openTx.commit();
    // The abandoned one is aborted when its timeout passes, with its producer's epoch bumped (fenced).
    const seen: { state: Awaited<ReturnType<typeof describeTxn>> | null } = { state: null };
    await eventually(
      `${abandonedId} to be aborted by its new coordinator`,
      async () => {
        const node = await txnCoordinator(client, abandonedId).catch(() => coordinator);
        seen.state = node === coordinator ? null : await describeTxn(client, node, abandonedId);
        return seen.state !== null && 'state' in seen.state && seen.state.state === 'CompleteAbort';
      },
      20_000,
      () => JSON.stringify(seen.state),
    );
    const abandonedAfter = seen.state!;
    assert.ok('state' in abandonedBefore && 'producerEpoch' in abandonedAfter && abandonedAfter.producerEpoch > abandonedBefore.producerEpoch, 'the abandoned producer is fenced');
    await assert.rejects(abandonedTx.commit(), 'the abandoned producer cannot commit after its transaction was aborted');
    // A new producer of the id takes over (InitProducerId again) and commits.
    const again = await kafkajsProducer(abandonedId, 6000);
    const againTx = await again.transaction();
    await againTx.send({ topic, acks: -1, messages: txnMessages('abandoned', 1, 6, 3) });
    await againTx.commit();

    await Promise.all(workloads.map((w) => w.untilCommitted(3, 40_000, Date.now())));
    // Producer b dies mid-transaction (SIGKILL) and a new one takes its transactional id over: the transaction it was in may have committed or not, but all or nothing.
    const [a, b] = workloads;
    await b.kill();
    const inFlight = b.txns.length;
    const bAgain = new TxnProducer({ ...b.options, first: inFlight + 1 });
    workloads.push(bAgain);
    await bAgain.untilCommitted(3, 30_000);
    await Promise.all([a.finish(), bAgain.finish()]);
    await restarted;
    for (const w of [a, b, bAgain]) {
      const after = w.txns.filter((x) => x.ms[0] >= killedAt);
      t.diagnostic(`${w.label}: ${JSON.stringify(w.summary)}; after the kill ${after.filter((x) => x.outcome === 'committed').length} committed, longest transaction ${Math.max(...w.txns.map((x) => x.ms[1] - x.ms[0]))} ms`);
    }

    await writeSentinels(cluster.bootstrap, topic, 3, 'END');
    const read = await readUntil(cluster.bootstrap.join(','), topic, 'read_committed', 'END');
    assertExactlyOnce(
      new Map([
        ['a', a.txns],
        ['b', [...b.txns, report(inFlight, 'unknown', 6), ...bAgain.txns]],
        ['open', [report(0, 'committed', 6)]],
        ['abandoned', [report(0, 'aborted', 6), report(1, 'committed', 6)]],
      ]),
      read,
    );
    workloads.length = 0;
  });

  test('SIGKILL of a partition leader mid-transaction: the markers reach its new leader and read_committed moves on; then of the coordinator: its successor finishes the prepared commit and abort once the last partition is back', async (t) => {
    const move = 'txn-move';
    const pinned = 'txn-pinned';
    // Broker 2 came back in the test before: a partition of __transaction_state with both replicas in sync, whose leader (the coordinator) and replica (the survivor) stay up; the third broker leads the data.
    let roles: Roles | null = null;
    await eventually(`a partition of ${TRANSACTION_STATE_TOPIC} in sync`, async () => (roles = await txnStateRoles(client, cluster.ids)) !== null, 30_000);
    const { coordinator, replica: survivor, outside: leader, partition } = roles!;
    const inSync = async (topic: string): Promise<boolean> => (await client.metadata([topic])).topics[0].partitions.every((p) => p.isrNodes.length === p.replicaNodes.length);
    assert.equal((await createTopic(client, move, { assignment: [[leader, survivor, coordinator], [survivor, leader, coordinator]], configs: { 'min.insync.replicas': '1' } })).error, 'NONE');
    // A single replica: while its broker is down the partition has no leader, and a marker for it has to wait.
    assert.equal((await createTopic(client, pinned, { assignment: [[leader]] })).error, 'NONE');
    await eventually(`${move} and ${pinned} to have their leaders`, async () => (await leaders(client, move)).join() === `${leader},${survivor}` && (await leaders(client, pinned)).join() === `${leader}`, 10_000);
    await eventually(`${move} in sync`, () => inSync(move), 10_000);
    const txnPartitions = (await leaders(client, TRANSACTION_STATE_TOPIC)).length;
    const ids = { commit: idIn(partition, txnPartitions, 'moving-commit'), abort: idIn(partition, txnPartitions, 'moving-abort') };
    for (const id of Object.values(ids)) assert.equal(await txnCoordinator(client, id), coordinator);
    t.diagnostic(`transactional ids ${ids.commit}, ${ids.abort} on coordinator broker ${coordinator}; ${move} led by ${leader} and ${survivor}, ${pinned} only on ${leader}`);

    // Record j goes to txn-move-0, txn-move-1 or txn-pinned-0 as j % 3 says.
    const open = async (label: string, id: string): Promise<Transaction> => {
      const tx = await (await kafkajsProducer(id)).transaction();
      const all = Array.from({ length: 9 }, (_, j) => ({ j, value: `${label}:0:${j}` }));
      await tx.send({ topic: move, acks: -1, messages: all.filter((r) => r.j % 3 < 2).map((r) => ({ partition: r.j % 3, value: r.value })) });
      await tx.send({ topic: pinned, acks: -1, messages: all.filter((r) => r.j % 3 === 2).map((r) => ({ partition: 0, value: r.value })) });
      return tx;
    };
    const committing = await open('mc', ids.commit);
    const aborting = await open('ma', ids.abort);
    assert.equal(await endOffset(client, leader, move, 0, 'read_committed'), 0n, 'the open transactions hold the last stable offset');

    await cluster.kill(leader);
    await eventually(`broker ${survivor} to lead ${move}-0`, async () => (await leaders(client, move))[0] === survivor, 20_000);
    await Promise.all([committing.commit(), aborting.abort()]);
    // The markers reach the new leader of txn-move-0: its last stable offset moves up to its end.
    await eventually(
      `the markers in ${move} at broker ${survivor}`,
      async () => {
        for (const p of [0, 1]) if ((await endOffset(client, survivor, move, p, 'read_committed')) !== (await endOffset(client, survivor, move, p, 'read_uncommitted'))) return false;
        return true;
      },
      10_000,
    );
    for (const [id, state] of [
      [ids.commit, 'PrepareCommit'],
      [ids.abort, 'PrepareAbort'],
    ] as const) {
      const d = await describeTxn(client, coordinator, id);
      assert.ok('state' in d && d.state === state, `${id} waits for ${pinned}-0, which has no leader: ${JSON.stringify(d)}`);
    }
    // A read_committed consumer of txn-move is not held up by the partition that waits.
    await writeSentinels([cluster.address(survivor), cluster.address(coordinator)], move, 2, 'END');
    const moved = await readUntil(`${cluster.address(survivor)},${cluster.address(coordinator)}`, move, 'read_committed', 'END');
    assert.deepEqual(
      moved.map((r) => r.v).sort(),
      ['END', 'END', ...[0, 1, 3, 4, 6, 7].map((j) => `mc:0:${j}`)].sort(),
      `read_committed ${move}: the committed transaction's records, none of the aborted one`,
    );

    // The coordinator goes too: the survivor takes __transaction_state over, finds both transactions prepared, and goes on with their markers.
    await cluster.kill(coordinator);
    await eventually(`broker ${survivor} to coordinate ${ids.commit}`, async () => (await txnCoordinator(client, ids.commit).catch(() => -1)) === survivor, 20_000);
    for (const [id, state] of [
      [ids.commit, 'PrepareCommit'],
      [ids.abort, 'PrepareAbort'],
    ] as const) {
      const d = await describeTxn(client, survivor, id);
      assert.ok('state' in d && d.state === state, `broker ${survivor} has ${id} from the log: ${JSON.stringify(d)}`);
    }
    await Promise.all([cluster.start(leader), cluster.start(coordinator)]);
    for (const [id, state] of [
      [ids.commit, 'CompleteCommit'],
      [ids.abort, 'CompleteAbort'],
    ] as const) {
      const seen: { d: unknown } = { d: null };
      await eventually(`${id} to be ${state} once ${pinned}-0 is back`, async () => (seen.d = await describeTxn(client, survivor, id)) && (seen.d as { state?: string }).state === state, 30_000, () => JSON.stringify(seen.d));
    }
    await writeSentinels(cluster.bootstrap, pinned, 1, 'END');
    const read = [...moved, ...(await readUntil(cluster.bootstrap.join(','), pinned, 'read_committed', 'END'))];
    assertExactlyOnce(
      new Map([
        ['mc', [report(0, 'committed', 9)]],
        ['ma', [report(0, 'aborted', 9)]],
      ]),
      read,
    );
  });

  test('SIGSTOP of a partition leader as a transaction commits: its markers go to the new leader once the paused one has not answered for a while, and read_committed moves on while it is still paused', async (t) => {
    const topic = 'txn-paused';
    let roles: Roles | null = null;
    await eventually(`a partition of ${TRANSACTION_STATE_TOPIC} in sync`, async () => (roles = await txnStateRoles(client, cluster.ids)) !== null, 30_000);
    const { coordinator, replica, outside: paused, partition } = roles!;
    assert.equal((await createTopic(client, topic, { assignment: [[paused, replica, coordinator]], configs: { 'min.insync.replicas': '1' } })).error, 'NONE');
    await eventually(`${topic} led by broker ${paused} and in sync`, async () => {
      const p = (await client.metadata([topic])).topics[0].partitions[0];
      return p.leaderId === paused && p.isrNodes.length === 3;
    }, 10_000);
    const id = idIn(partition, (await leaders(client, TRANSACTION_STATE_TOPIC)).length, 'paused');
    assert.equal(await txnCoordinator(client, id), coordinator);
    t.diagnostic(`transactional id ${id} on coordinator broker ${coordinator} (replica ${replica}); ${topic} led by broker ${paused}, which is paused`);

    // A client that never picks the paused broker for what it asks the cluster.
    const awake = [coordinator, replica].map((b) => cluster.address(b));
    const others = new KafkaClient({ brokers: awake, clientId: 'txn-test-awake', retries: 8 });
    try {
      const producer = await RawTxnProducer.init(others, id);
      await producer.add([{ topic, partition: 0 }]);
      await producer.produce(topic, 0, ['paused:0:0', 'paused:0:1']);
      cluster.pause(paused);
      const pausedAt = Date.now();
      // The coordinator writes PrepareCommit (the paused broker holds no replica of it) and sends the marker to the paused leader, which never answers.
      assert.equal(await producer.end(true), ErrorCode.NONE);
      let ends = '';
      await eventually(
        `the commit marker at ${topic}-0's new leader while broker ${paused} is still paused`,
        async () => {
          const leader = (await others.metadata([topic])).topics[0].partitions[0].leaderId;
          if (leader === paused || leader < 0) return false;
          const [lso, hw] = [await endOffset(others, leader, topic, 0, 'read_committed'), await endOffset(others, leader, topic, 0, 'read_uncommitted')];
          ends = `broker ${leader}: last stable offset ${lso}, high watermark ${hw}`;
          return lso === hw && hw >= 3n;
        },
        25_000,
        () => ends,
      );
      t.diagnostic(`${ends}, ${Date.now() - pausedAt} ms after the pause`);
      await writeSentinels(awake, topic, 1, 'END');
      const read = await readUntil(awake.join(','), topic, 'read_committed', 'END');
      assertExactlyOnce(new Map([['paused', [report(0, 'committed', 2)]]]), read);
    } finally {
      cluster.resume(paused);
      await others.close();
    }
  });
});

test('the exactly-once checker finds what it is there for', () => {
  const txns: TxnReport[] = [
    { txn: 0, outcome: 'committed', records: 2, acks: [[0, 0], [1, 0]], ms: [0, 0] },
    { txn: 1, outcome: 'aborted', records: 2, ms: [0, 0] },
    { txn: 2, outcome: 'unknown', records: 2, ms: [0, 0] },
  ];
  const good: ReadRecord[] = [
    { p: 0, o: 0, v: 'x:0:0' },
    { p: 1, o: 0, v: 'x:0:1' },
    { p: 0, o: 4, v: 'x:2:0' },
    { p: 1, o: 4, v: 'x:2:1' },
    { p: 0, o: 9, v: 'y:0:0' },
    { p: 0, o: 10, v: 'END' },
  ];
  const producers = new Map([['x', txns]]);
  assert.deepEqual(exactlyOnceViolations(producers, good), []);
  assert.deepEqual(exactlyOnceViolations(producers, good.slice(0, 2)), [], 'an unknown transaction may be all gone');
  const check = (read: ReadRecord[]): string[] => exactlyOnceViolations(producers, read);
  assert.match(check([...good, { p: 0, o: 11, v: 'x:0:0' }]).join(), /record 0 read 2 times/);
  assert.match(check(good.filter((r) => r.v !== 'x:0:1')).join(), /only 1 of its 2 records visible/);
  assert.match(check([...good, { p: 0, o: 2, v: 'x:1:0' }]).join(), /transaction 1 \(aborted\): 1 of its records visible/);
  assert.match(check(good.filter((r) => r.v !== 'x:2:1')).join(), /not all or nothing/);
  assert.match(check([...good.slice(1), { p: 0, o: 7, v: 'x:0:0' }]).join(), /acknowledged at 0:0 but read at 0:7/);
  assert.match(check([...good, { p: 0, o: 12, v: 'x:3:0' }]).join(), /transaction 3: read, but never reported/);
});
