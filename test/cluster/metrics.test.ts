import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTopic, withAdmin } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, startCluster } from '../support/cluster.js';
import { eventually } from '../support/librdkafka-groups.js';

const ACTIVE_CONTROLLER = 'kafka_controller_kafkacontroller_activecontrollercount';
const UNDER_REPLICATED = 'kafka_server_replicamanager_underreplicatedpartitions';
const FETCH_SESSIONS = 'kafka_server_fetchsessioncache_numincrementalfetchsessions';
const SESSION_PARTITIONS = 'kafka_server_fetchsessioncache_numincrementalfetchpartitionscached';
const INCREMENTAL_FETCHES = 'sluice_fetch_session_requests_total{kind="incremental"}';
const FULL_FETCHES = 'sluice_fetch_session_requests_total{kind="full"}';
const SESSION_MS = Number(FAST_CLUSTER['broker.session.timeout.ms']);
const LAG_MS = Number(FAST_CLUSTER['replica.lag.time.max.ms']);

const sum = (values: Record<number, number>): number => Object.values(values).reduce((a, b) => a + b, 0);

test(
  "each broker's /metrics and /health: one active controller, under-replicated partitions while a broker is away, the metadata store writable",
  { skip: clusterSkip('loopback'), timeout: 90_000 },
  async (t) => {
    const cluster = await startCluster({ brokers: 3, overrides: { ...FAST_CLUSTER, 'sluice.console.listener': '127.0.0.1:0' } });
    try {
      for (const id of cluster.ids) {
        assert.deepEqual(await cluster.health(id), { status: 'ok', metadataStore: 'etcd', connected: true, writable: true, reason: null }, `broker ${id}'s /health`);
      }
      const controller = await cluster.controllerId();
      assert.deepEqual(await cluster.gauges(cluster.ids, ACTIVE_CONTROLLER), Object.fromEntries(cluster.ids.map((id) => [id, id === controller ? 1 : 0])));

      await withAdmin(cluster.bootstrap, async (client) => assert.equal((await createTopic(client, 'watched', { partitions: 6, replicationFactor: 3 })).error, 'NONE'));
      assert.equal(sum(await cluster.gauges(cluster.ids, UNDER_REPLICATED)), 0, 'every partition fully in sync');

      // Followers fetch in sessions (KIP-227): one per follower and leader, holding every
      // partition it follows there, and after the first fetch only incremental ones.
      // A session opens with the answer to its first fetch, which waits for records up to replica.fetch.wait.max.ms.
      let partitionsHeld = 0;
      await eventually(
        "the 6 partitions' 12 followers in sessions",
        async () => (partitionsHeld = sum(await cluster.gauges(cluster.ids, SESSION_PARTITIONS))) >= 12,
        10_000,
        () => String(partitionsHeld),
      );
      assert.ok(sum(await cluster.gauges(cluster.ids, FETCH_SESSIONS)) <= cluster.ids.length * (cluster.ids.length - 1), 'at most a session per follower and leader');
      const [incremental0, full0] = [sum(await cluster.gauges(cluster.ids, INCREMENTAL_FETCHES)), sum(await cluster.gauges(cluster.ids, FULL_FETCHES))];
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const [incremental1, full1] = [sum(await cluster.gauges(cluster.ids, INCREMENTAL_FETCHES)), sum(await cluster.gauges(cluster.ids, FULL_FETCHES))];
      assert.ok(incremental1 - incremental0 >= 3, `followers keep fetching incrementally: ${incremental0} -> ${incremental1}`);
      assert.equal(full1, full0, 'without reopening their sessions');

      // Every partition has a replica on the broker that goes away.
      const away = cluster.ids.find((id) => id !== controller)!;
      const live = cluster.ids.filter((id) => id !== away);
      await cluster.kill(away);
      let seen: Record<number, number> = {};
      await eventually(
        `the live brokers to count 6 under-replicated partitions`,
        async () => sum((seen = await cluster.gauges(live, UNDER_REPLICATED))) === 6,
        SESSION_MS + LAG_MS + 5000,
        () => JSON.stringify(seen),
      );
      t.diagnostic(`with broker ${away} away: ${JSON.stringify(seen)}`);

      await cluster.start(away);
      await eventually(
        `no partition under-replicated once broker ${away} is back`,
        async () => sum((seen = await cluster.gauges(cluster.ids, UNDER_REPLICATED))) === 0,
        30_000,
        () => JSON.stringify(seen),
      );
      assert.equal(sum(await cluster.gauges(cluster.ids, ACTIVE_CONTROLLER)), 1, 'still one active controller');
      assert.equal(await cluster.gauge(controller, ACTIVE_CONTROLLER), 1);
    } finally {
      await cluster.close();
    }
  },
);
