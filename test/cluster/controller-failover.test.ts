import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTopic, partitionStates, withAdmin } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, kafkajsRoundTripRecords, startCluster } from '../support/cluster.js';
import { eventually } from '../support/librdkafka-groups.js';
import { logged } from '../support/storage-faults.js';

const SESSION_MS = Number(FAST_CLUSTER['broker.session.timeout.ms']);

test(
  'the controller is SIGKILLed: another broker takes over within a few session timeouts, moves the leaderships, and a topic created right after works',
  { skip: clusterSkip('loopback'), timeout: 90_000 },
  async (t) => {
    const cluster = await startCluster({ brokers: 3, overrides: FAST_CLUSTER });
    try {
      await withAdmin(cluster.bootstrap, async (client) => assert.equal((await createTopic(client, 'before', { partitions: 6, replicationFactor: 3 })).error, 'NONE'));
      const controller = await cluster.controllerId();
      assert.ok(cluster.ids.includes(controller), `controller ${controller}`);
      const live = cluster.ids.filter((id) => id !== controller);
      const bootstrap = live.map((id) => cluster.address(id));

      const killedAt = Date.now();
      await cluster.kill(controller);
      let successor = controller;
      await eventually('another controller', async () => live.includes((successor = await cluster.controllerId())), 4 * SESSION_MS);
      const tookOver = Date.now() - killedAt;
      t.diagnostic(`broker ${successor} became the controller ${tookOver} ms after broker ${controller} was killed`);
      assert.ok(tookOver < 3 * SESSION_MS, `${tookOver} ms: more than 3 session timeouts`);
      // Its own log says so a moment after the others' watches do.
      await eventually(`broker ${successor} to log that it is the controller`, () => logged(cluster.broker(successor).output, 'this broker is the controller').length === 1, 5000);
      for (const id of live) assert.equal(await withAdmin([cluster.address(id)], async (client) => (await client.metadata([])).controllerId), successor, `as broker ${id} says`);

      await withAdmin(bootstrap, async (client) => {
        await eventually(
          `the leaderships of broker ${controller} to move`,
          async () => (await partitionStates(client, 'before')).every((p) => live.includes(p.leaderId) && !p.isr.includes(controller)),
          2 * SESSION_MS,
        );
        const created = await createTopic(client, 'after', { partitions: 6, replicationFactor: 2 });
        assert.equal(created.error, 'NONE', created.message ?? '');
        for (const p of await partitionStates(client, 'after')) assert.deepEqual([...p.replicas].sort(), live, `the replicas of after-${p.partition} are on the live brokers`);
      });
      const read = await kafkajsRoundTripRecords(bootstrap, 'after', 200);
      assert.deepEqual(
        read.map((r) => r.v).sort(),
        Array.from({ length: 200 }, (_, i) => `v${i}`).sort(),
        'each record once',
      );

      // Back, the old controller is an ordinary member: the role does not move again.
      await cluster.start(controller);
      await eventually(`broker ${controller} to be listed again`, async () => withAdmin(bootstrap, async (client) => (await client.metadata([])).brokers.length === 3), 4 * SESSION_MS);
      assert.equal(await cluster.controllerId(), successor);
    } finally {
      await cluster.close();
    }
  },
);
