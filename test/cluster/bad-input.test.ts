import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readIdentity } from '../../src/metadata/meta-properties.js';
import { createTopic, ongoingReassignments, partitionStates, reassign, topicExists, withAdmin, type Outcome } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/librdkafka-groups.js';
import { startBrokerProcess } from '../support/test-broker.js';

const SESSION_MS = Number(FAST_CLUSTER['broker.session.timeout.ms']);

describe('a cluster refuses what it cannot do, and says why', { skip: clusterSkip('loopback'), timeout: 90_000 }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await startCluster({ brokers: 3, overrides: FAST_CLUSTER });
    const created = await withAdmin(cluster.bootstrap, (client) => createTopic(client, 'placed', { assignment: [[1, 2]] }));
    assert.equal(created.error, 'NONE');
  });

  after(async () => {
    await cluster?.close();
  });

  /** Moves placed's partitions to these targets, and checks that each is refused as expected and that nothing changed. */
  async function refusedMoves(live: string[], moves: Map<number, number[]>, expected: Record<number, Outcome>): Promise<void> {
    await withAdmin(live, async (client) => {
      const before = await partitionStates(client, 'placed');
      assert.deepEqual(Object.fromEntries(await reassign(client, 'placed', moves)), expected);
      assert.deepEqual(await ongoingReassignments(client, 'placed'), [], 'no reassignment under way');
      assert.deepEqual(await partitionStates(client, 'placed'), before, 'the partition is as it was');
    });
  }

  const unregistered = (id: number): Outcome => ({ error: 'INVALID_REPLICA_ASSIGNMENT', message: `The manual partition assignment includes broker ${id}, but no such broker is registered.` });

  test('CreateTopics with a manual assignment naming an unknown broker: INVALID_REPLICA_ASSIGNMENT, and no topic', async () => {
    await withAdmin(cluster.bootstrap, async (client) => {
      const outcome = await createTopic(client, 'nowhere', { assignment: [[1, 2], [2, 42]] });
      assert.deepEqual(outcome, unregistered(42));
      assert.equal(await topicExists(client, 'nowhere'), false);
    });
  });

  test('a replication factor larger than the brokers: INVALID_REPLICATION_FACTOR, and no topic', async () => {
    await withAdmin(cluster.bootstrap, async (client) => {
      const outcome = await createTopic(client, 'too-many', { partitions: 3, replicationFactor: 4 });
      assert.deepEqual(outcome, { error: 'INVALID_REPLICATION_FACTOR', message: 'Replication factor: 4 larger than available brokers: 3.' });
      assert.equal(await topicExists(client, 'too-many'), false);
    });
  });

  test('AlterPartitionReassignments to a broker that was never registered: INVALID_REPLICA_ASSIGNMENT, the partition unchanged', async () => {
    await refusedMoves(cluster.bootstrap, new Map([[0, [1, 42]]]), { 0: unregistered(42) });
  });

  test('AlterPartitionReassignments naming a broker twice, no broker, or a partition that does not exist: each refused', async () => {
    await refusedMoves(cluster.bootstrap, new Map([[0, [2, 2]]]), {
      0: { error: 'INVALID_REPLICA_ASSIGNMENT', message: 'The manual partition assignment includes the broker 2 more than once.' },
    });
    await refusedMoves(cluster.bootstrap, new Map([[0, []]]), { 0: { error: 'INVALID_REPLICA_ASSIGNMENT', message: 'The manual partition assignment includes an empty replica list.' } });
    await refusedMoves(cluster.bootstrap, new Map([[5, [1, 2]]]), { 5: { error: 'UNKNOWN_TOPIC_OR_PARTITION', message: 'This server does not host this topic-partition.' } });
  });

  test('a second broker with the node.id of a live one refuses to start, saying so, and the first one stays', async (t) => {
    const dir = join(cluster.dir, 'impostor');
    const started = Date.now();
    const start = startBrokerProcess(dir, { ...FAST_CLUSTER, 'node.id': '2', 'sluice.metadata.store': cluster.metadataStore }, 0, { host: '127.0.0.30' });
    await assert.rejects(start, (e: Error) => {
      assert.match(e.message, /broker exited with [1-9]\d* before starting/);
      assert.match(e.message, new RegExp(`node\\.id 2 is already registered in /sluice by another live broker \\(${cluster.address(2).replace(/\./g, '\\.')}\\)`));
      return true;
    });
    // It first waits for the registration to lapse, in case it is a dead broker's, for about a session timeout.
    t.diagnostic(`refused ${Date.now() - started} ms after it was started`);
    await withAdmin([cluster.address(1)], async (client) => {
      const md = await client.metadata([]);
      assert.deepEqual(md.brokers.map((b) => `${b.nodeId} ${b.host}:${b.port}`).sort(), cluster.ids.map((id) => `${id} ${cluster.address(id)}`));
    });
  });

  test('a broker whose data directory belongs to another cluster refuses to start, naming both clusters', async () => {
    const dir = join(cluster.dir, 'stranger');
    const otherCluster = cluster.metadataStore.replace(/\/sluice$/, '/another-cluster');
    const stranger = await startBrokerProcess(dir, { ...FAST_CLUSTER, 'node.id': '4', 'sluice.metadata.store': otherCluster }, 0, { host: '127.0.0.31' });
    assert.equal(await stranger.stop(), 0);
    const theirs = readIdentity(dir).clusterId;
    const ours = await withAdmin(cluster.bootstrap, async (client) => (await client.metadata([])).clusterId);
    assert.ok(theirs !== null && ours !== null && theirs !== ours, `${theirs} and ${ours}`);

    await assert.rejects(startBrokerProcess(dir, { ...FAST_CLUSTER, 'node.id': '4', 'sluice.metadata.store': cluster.metadataStore }, 0, { host: '127.0.0.31' }), (e: Error) => {
      assert.match(e.message, /broker exited with [1-9]\d* before starting/);
      assert.ok(e.message.includes(`belongs to cluster ${theirs}, but the metadata store holds cluster ${ours}`), e.message);
      return true;
    });
    assert.equal(readIdentity(dir).clusterId, theirs, 'its directory is left as it was');
    await withAdmin(cluster.bootstrap, async (client) => assert.deepEqual((await client.metadata([])).brokers.map((b) => b.nodeId).sort(), [1, 2, 3], 'it never joined'));
  });

  test('with broker 3 dead: a reassignment onto it is refused, the partition unchanged; a replication factor of 3 is too large', async () => {
    await cluster.kill(3);
    const live = [cluster.address(1), cluster.address(2)];
    await withAdmin(live, (client) =>
      eventually('broker 3 to leave the metadata', async () => !(await client.metadata([])).brokers.some((b) => b.nodeId === 3), 4 * SESSION_MS),
    );
    await refusedMoves(live, new Map([[0, [1, 3]]]), { 0: unregistered(3) });
    await withAdmin(live, async (client) => {
      const outcome = await createTopic(client, 'three-copies', { partitions: 1, replicationFactor: 3 });
      assert.deepEqual(outcome, { error: 'INVALID_REPLICATION_FACTOR', message: 'Replication factor: 3 larger than available brokers: 2.' });
    });
  });
});
