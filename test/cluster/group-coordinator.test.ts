import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OFFSETS_TOPIC } from '../../src/coordinator/offsets-topic-records.js';
import { allCommitted, commitProgress, coordinatorOf, createTopic, electPreferred, partitionStates, withAdmin } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, startCluster } from '../support/cluster.js';
import { assignments, consumers, eventually, GroupConsumer, readAgainWithoutHandover, splitEvenly, untilConsumed } from '../support/librdkafka-groups.js';
import { producePython, type Ack } from '../support/python-clients.js';
import { confluentKafka, skipUnlessPresent } from '../support/tools.js';

const TOPIC = 'orders';
const GROUP = 'order-handlers';
const PARTITIONS = 6;

test(
  'a group of 3 confluent-kafka members keeps its committed offsets while its coordinator stops cleanly, starts again and takes the group back',
  { skip: clusterSkip('loopback') || skipUnlessPresent(confluentKafka), timeout: 120_000 },
  async (t) => {
    const cluster = await startCluster({ brokers: 3, overrides: FAST_CLUSTER });
    const members: GroupConsumer[] = [];
    try {
      await withAdmin(cluster.bootstrap, async (client) => assert.equal((await createTopic(client, TOPIC, { partitions: PARTITIONS, replicationFactor: 3 })).error, 'NONE'));
      const acks: Ack[] = [];
      const produce = async (bootstrap: string): Promise<Ack[]> => {
        const run = await producePython({ library: 'confluent', bootstrap, topic: TOPIC, partitions: PARTITIONS, count: 300, first: acks.length, idempotence: 'on' });
        assert.deepEqual(run.failures, []);
        acks.push(...run.acks);
        return run.acks;
      };
      let committed: string[] = [];
      /** Every record so far consumed, and committed: nothing is left for a member to read again. */
      const drained = async (bootstrap: string[], what: string): Promise<void> => {
        await untilConsumed(members, acks, 30_000);
        await withAdmin(bootstrap, (client) =>
          eventually(
            `the group to commit everything ${what}`,
            async () => allCommitted((committed = await commitProgress(client, GROUP, TOPIC))),
            15_000,
            () => committed.join(' '),
          ),
        );
      };
      /** What a coordinator that just took the group over answers for its offsets: all of them, before anyone commits again. */
      const sameOffsets = async (bootstrap: string[], coordinator: number): Promise<void> => {
        const found = await withAdmin(bootstrap, (client) => commitProgress(client, GROUP, TOPIC));
        assert.deepEqual(found, committed, `the committed offsets as broker ${coordinator} has them (committed/end per partition)`);
      };

      await produce(cluster.address(1));
      // Each member bootstraps from a different broker.
      for (const id of cluster.ids) members.push(new GroupConsumer(`member-${id}`, { bootstrap: cluster.address(id), group: GROUP, topic: TOPIC, sessionTimeoutMs: 6000 }));
      await eventually('each member to hold two partitions', () => splitEvenly(members, PARTITIONS, 2), 30_000, () => assignments(members));
      await drained(cluster.bootstrap, 'before the coordinator stops');

      const coordinator = await withAdmin(cluster.bootstrap, (client) => coordinatorOf(client, GROUP));
      const others = cluster.ids.filter((id) => id !== coordinator).map((id) => cluster.address(id));
      t.diagnostic(`coordinator: broker ${coordinator}`);
      assert.equal(await cluster.stop(coordinator), 0, 'the coordinator stops cleanly on SIGTERM');

      const successor = await withAdmin(others, async (client) => {
        let id = coordinator;
        await eventually('another broker to coordinate the group', async () => (id = await coordinatorOf(client, GROUP)) !== coordinator, 15_000);
        return id;
      });
      t.diagnostic(`coordinator while broker ${coordinator} is away: broker ${successor}`);
      await sameOffsets(others, successor);
      await produce(others[0]);
      await drained(others, `with broker ${coordinator} away`);

      await cluster.start(coordinator);
      await withAdmin(cluster.bootstrap, async (client) => {
        // Preferred elections over all of __consumer_offsets give the restarted broker back what it led, the group's partition with it.
        const offsets = await partitionStates(client, OFFSETS_TOPIC);
        await eventually(`broker ${coordinator} to be in sync again on ${OFFSETS_TOPIC}`, async () => (await partitionStates(client, OFFSETS_TOPIC)).every((p) => p.isr.length === 3), 20_000);
        const elected = await electPreferred(
          client,
          OFFSETS_TOPIC,
          offsets.map((p) => p.partition),
        );
        const moved = [...elected].filter(([, o]) => o.error === 'NONE').map(([p]) => p);
        assert.deepEqual(
          moved,
          offsets.filter((p) => p.replicas[0] === coordinator).map((p) => p.partition),
          `the partitions whose preferred replica is broker ${coordinator} move back to it: ${JSON.stringify([...elected])}`,
        );
        await eventually(`broker ${coordinator} to coordinate the group again`, async () => (await coordinatorOf(client, GROUP)) === coordinator, 15_000);
      });
      await sameOffsets(cluster.bootstrap, coordinator);
      await produce(cluster.address(coordinator));
      await drained(cluster.bootstrap, `with broker ${coordinator} back as coordinator`);
      // A member slow to find the returned coordinator can be rebalanced out and back: wait for the group to settle.
      await eventually('each member to hold two partitions again', () => splitEvenly(members, PARTITIONS, 2), 30_000, () => assignments(members));
      // Every stop came after everything read was committed: a member that read anything again, without a rebalance taking
      // the partition from its first reader in between, was handed an offset older than the group's.
      const twice = readAgainWithoutHandover(members);
      assert.deepEqual(twice.slice(0, 10), [], `${twice.length} records read again without a handover; ${members.map((m) => m.recent()).join(' | ')}`);
      t.diagnostic(`records read again after a handover (auto-commit's at-least-once): ${[...consumers(members).values()].filter((names) => names.length > 1).length}`);
      t.diagnostic(`rebalances seen: ${members.map((m) => `${m.name} ${m.rebalances().length}`).join(', ')}`);

      // New members start where the group's committed offsets say: after everything, and on the records that came since.
      await Promise.all(members.map((m) => m.stop()));
      const since = await produce(cluster.address(1));
      const successors = cluster.ids.map((id) => new GroupConsumer(`successor-${id}`, { bootstrap: cluster.address(id), group: GROUP, topic: TOPIC, sessionTimeoutMs: 6000 }));
      members.push(...successors);
      await untilConsumed(successors, since, 30_000);
      const read = successors.flatMap((m) => m.messages().map((e) => `${e.partition}:${e.offset}`));
      assert.deepEqual(read.sort(), since.map((a) => `${a.partition}:${a.offset}`).sort(), 'the new members read only what came after the committed offsets, once');
    } finally {
      await Promise.all(members.map((m) => m.kill()));
      await cluster.close();
    }
  },
);
