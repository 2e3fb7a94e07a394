import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { createTopic, withAdmin } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, startCluster, type TestCluster } from '../support/cluster.js';
import { assertHoldsExactly, deliveryOf } from '../support/deliveries.js';
import { KafkajsReader } from '../support/kafkajs-reader.js';
import { eventually } from '../support/librdkafka-groups.js';
import { consumePython, PythonProducer } from '../support/python-clients.js';
import { confluentKafka, skipUnlessPresent } from '../support/tools.js';

const TOPIC = 'steady';
const PARTITIONS = 6;
const SESSION_MS = Number(FAST_CLUSTER['broker.session.timeout.ms']);

/**
 * What Metadata from each broker says, every 25 ms for `ms`: the moments a broker was missing
 * from it or a partition of TOPIC had no leader.
 */
async function disturbances(cluster: TestCluster, ms: number): Promise<string[]> {
  const seen: string[] = [];
  const from = Date.now();
  await Promise.all(
    cluster.ids.map((id) =>
      withAdmin([cluster.address(id)], async (client) => {
        while (Date.now() - from < ms) {
          const md = await client.metadata([TOPIC]).catch(() => null);
          const brokers = md?.brokers.map((b) => b.nodeId).sort() ?? [];
          const leaderless = md?.topics[0].partitions.filter((p) => p.leaderId < 0).map((p) => p.partitionIndex) ?? [];
          if (md && (brokers.length < 3 || leaderless.length > 0)) seen.push(`broker ${id} at +${Date.now() - from} ms: brokers [${brokers}], partitions without a leader [${leaderless}]`);
          await sleep(25);
        }
      }),
    ),
  );
  return seen;
}

/**
 * Runs `outage` on a cluster of 3 while a confluent-kafka producer (idempotent, acks=all,
 * min.insync.replicas 2) and a kafkajs consumer run, then checks that writes go on, that
 * nothing acknowledged is lost or read out of order, and that every broker still runs.
 */
async function throughEtcdOutage(t: TestContext, outage: (cluster: TestCluster, producer: PythonProducer) => Promise<void>): Promise<void> {
  const cluster = await startCluster({ brokers: 3, overrides: { ...FAST_CLUSTER, 'sluice.console.listener': '127.0.0.1:0' } });
  let producer: PythonProducer | null = null;
  let reader: KafkajsReader | null = null;
  try {
    await withAdmin(cluster.bootstrap, async (client) => {
      const created = await createTopic(client, TOPIC, { partitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
      assert.equal(created.error, 'NONE', created.message ?? '');
    });
    reader = await KafkajsReader.start(cluster.bootstrap, TOPIC, 'steady-reader');
    producer = new PythonProducer({ library: 'confluent', bootstrap: cluster.bootstrap.join(','), topic: TOPIC, partitions: PARTITIONS, idempotence: 'on', rate: 200 }, 80_000);
    await producer.waitForAcks(300, 20_000);

    const stoppedAt = Date.now();
    await outage(cluster, producer);
    const ackedBefore = producer.acks.length;
    t.diagnostic(`etcd was away ${Date.now() - stoppedAt} ms`);
    const disturbed = await disturbances(cluster, 4000);
    await t.test('no broker seems to leave the cluster, and no partition its leader, as etcd comes back', () => assert.deepEqual(disturbed, []));
    await producer.waitForAcks(ackedBefore + 400, 40_000);
    // Metadata writes go on too, once every broker is registered again.
    await withAdmin(cluster.bootstrap, async (client) => {
      await eventually('every broker to be registered', async () => (await client.metadata([])).brokers.length === 3, 4 * SESSION_MS);
      const created = await createTopic(client, 'after-etcd', { partitions: 3, replicationFactor: 3 });
      assert.equal(created.error, 'NONE', created.message ?? '');
    });

    const run = await producer.finish();
    assert.deepEqual(run.failures, [], 'no delivery failed');
    assert.equal(run.summary.fatal, null);
    for (const id of cluster.ids) {
      const child = cluster.broker(id).child;
      assert.deepEqual({ exitCode: child.exitCode, signal: child.signalCode }, { exitCode: null, signal: null }, `broker ${id} still runs`);
      assert.deepEqual(await cluster.health(id), { status: 'ok', metadataStore: 'etcd', connected: true, writable: true, reason: null }, `broker ${id}'s /health`);
    }

    // The controller role and the ISRs settle: one controller, nothing under-replicated.
    await eventually(
      'one active controller, and every partition in sync',
      async () => {
        const controller = await cluster.controllerId();
        return isDeepStrictEqual(
          [await cluster.gauges(cluster.ids, 'kafka_controller_kafkacontroller_activecontrollercount'), await cluster.gauges(cluster.ids, 'kafka_server_replicamanager_underreplicatedpartitions')],
          [Object.fromEntries(cluster.ids.map((id) => [id, id === controller ? 1 : 0])), Object.fromEntries(cluster.ids.map((id) => [id, 0]))],
        );
      },
      4 * SESSION_MS,
    );

    const acked = deliveryOf(run).acked;
    await reader.assertReadAll(acked, 30_000);
    assertHoldsExactly(await consumePython('confluent', cluster.address(1), TOPIC), acked, TOPIC);
    t.diagnostic(`${run.acks.length} records acknowledged, ${run.acks.length - ackedBefore} after etcd was back; the consumer joined ${reader.joins} times`);
  } finally {
    await producer?.kill();
    await reader?.stop();
    await cluster.close();
  }
}

const skip = clusterSkip('loopback') || skipUnlessPresent(confluentKafka);

test(
  'etcd restarted under a running producer (acks=all) and consumer: nothing acknowledged is lost, no broker exits, and writes go on once it is back',
  { skip, timeout: 90_000 },
  (t) => throughEtcdOutage(t, (cluster) => cluster.restartEtcd()),
);

test(
  'etcd away for longer than the session timeout: nothing is acknowledged once no broker can prove it still leads, and everything goes on when it is back',
  { skip, timeout: 90_000 },
  (t) =>
    throughEtcdOutage(t, async (cluster, producer) => {
      await cluster.stopEtcd();
      // The registrations were last renewed at most a session timeout ago: past that, and the acknowledgements in flight, nothing more.
      await sleep(SESSION_MS + 1000);
      const fenced = producer.acks.length;
      for (const id of cluster.ids) {
        assert.deepEqual(
          await cluster.health(id),
          { status: 'ok', metadataStore: 'etcd', connected: false, writable: false, reason: 'etcd is unreachable and the registration lease may have lapsed' },
          `broker ${id}'s /health`,
        );
      }
      await sleep(SESSION_MS);
      assert.equal(producer.acks.length, fenced, 'records acknowledged while no broker could prove its registration');
      await cluster.startEtcd();
    }),
);
