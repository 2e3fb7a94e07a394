import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { createTopic, electPreferred, ongoingReassignments, partitionStates, withAdmin, type Ongoing } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, startCluster } from '../support/cluster.js';
import { deliveryOf } from '../support/deliveries.js';
import { KafkajsReader } from '../support/kafkajs-reader.js';
import { eventually } from '../support/librdkafka-groups.js';
import { producePython, PythonProducer } from '../support/python-clients.js';
import { confluentKafka, skipUnlessPresent } from '../support/tools.js';

const TOPIC = 'moving';
/** Replicas of partitions 0, 1 and 2, preferred leader first. */
const ASSIGNMENT = [
  [1, 2],
  [2, 3],
  [3, 1],
];
const VALUE_BYTES = 1000;
const PREFILL = 5000;
/** replica.fetch.max.bytes of broker 3. */
const COPY_STEP = 32 * 1024;

test(
  'leaderships moved by AlterPartitionReassignments and ElectLeaders under a running producer and consumer: no error, every record read in order',
  { skip: clusterSkip('loopback') || skipUnlessPresent(confluentKafka), timeout: 120_000 },
  async (t) => {
    // No automatic preferred elections: leadership moves only when the test moves it. Broker 3
    // copies in small steps, so that the move to it lasts long enough to be seen.
    const cluster = await startCluster({
      brokers: 3,
      overrides: (id) => ({ ...FAST_CLUSTER, 'auto.leader.rebalance.enable': 'false', ...(id === 3 ? { 'replica.fetch.max.bytes': String(COPY_STEP) } : {}) }),
    });
    let producer: PythonProducer | null = null;
    let reader: KafkajsReader | null = null;
    try {
      await withAdmin(cluster.bootstrap, async (client) => assert.equal((await createTopic(client, TOPIC, { assignment: ASSIGNMENT })).error, 'NONE'));
      // Megabytes in partition 0, in batches no larger than broker 3 copies at a time.
      const base = { library: 'confluent', bootstrap: cluster.address(1), topic: TOPIC, idempotence: 'on', valueBytes: VALUE_BYTES } as const;
      const prefill = await producePython({ ...base, partitions: 1, count: PREFILL, settings: { 'batch.size': String(COPY_STEP / 2) } });
      assert.deepEqual(prefill.failures, []);

      reader = await KafkajsReader.start(cluster.bootstrap, TOPIC, 'moving-reader');
      producer = new PythonProducer({ ...base, partitions: ASSIGNMENT.length, first: PREFILL, rate: 200 }, 110_000);
      await producer.waitForAcks(200, 20_000);

      // kafkajs's admin moves the replicas and lists the moves, through the controller.
      const admin = new Kafka({ clientId: 'mover', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const movedAt = Date.now();
      try {
        let moving = true;
        const seen: Ongoing[] = [];
        const list = async (): Promise<void> => {
          // At run time kafkajs gives { name, partitions: [{ partition, ... }] }, whatever its types say.
          const { topics } = (await admin.listPartitionReassignments({ topics: [{ topic: TOPIC, partitions: [0, 1, 2] }] })) as unknown as {
            topics: { name: string; partitions: { partition: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[] }[];
          };
          for (const p of topics.find((t) => t.name === TOPIC)?.partitions ?? []) seen.push({ partition: p.partition, replicas: p.replicas, adding: p.addingReplicas, removing: p.removingReplicas });
        };
        const watching = (async () => {
          while (moving) await list();
        })();
        // Partition 0 leaves its leader, broker 1, for broker 3; partition 1 gains broker 1 as its preferred replica.
        await admin
          .alterPartitionReassignments({
            topics: [
              {
                topic: TOPIC,
                partitionAssignment: [
                  { partition: 0, replicas: [3, 2] },
                  { partition: 1, replicas: [1, 2] },
                ],
              },
            ],
          })
          .finally(() => (moving = false));
        await Promise.all([list(), watching]);
        assert.ok(
          seen.some((o) => o.partition === 0 && o.adding.join() === '3' && o.removing.join() === '1' && o.replicas.join() === '3,2,1'),
          `ListPartitionReassignments showed partition 0 moving from [1,2] to [3,2]: ${JSON.stringify(seen.slice(0, 5))}`,
        );
      } finally {
        await admin.disconnect();
      }

      await withAdmin(cluster.bootstrap, async (client) => {
        await eventually('both moves to finish', async () => (await ongoingReassignments(client, TOPIC)).length === 0, 30_000);
        t.diagnostic(`the moves took ${Date.now() - movedAt} ms or less`);
        const moved = await partitionStates(client, TOPIC);
        assert.deepEqual(
          moved.map((p) => ({ replicas: p.replicas, leader: p.leaderId })),
          [
            { replicas: [3, 2], leader: 3 },
            { replicas: [1, 2], leader: 2 },
            { replicas: [3, 1], leader: 3 },
          ],
        );
        await producer!.waitForAcks(producer!.acks.length + 200, 20_000);

        // Broker 1 is partition 1's preferred replica but does not lead it: a preferred election gives it the leadership.
        await eventually('broker 1 to be in sync on partition 1', async () => (await partitionStates(client, TOPIC))[1].isr.includes(1), 20_000);
        const elected = await electPreferred(client, TOPIC, [0, 1, 2]);
        assert.deepEqual(Object.fromEntries([...elected].map(([p, o]) => [p, o.error])), { 0: 'ELECTION_NOT_NEEDED', 1: 'NONE', 2: 'ELECTION_NOT_NEEDED' });
        await eventually('broker 1 to lead partition 1', async () => (await partitionStates(client, TOPIC))[1].leaderId === 1, 10_000);
      });
      await producer.waitForAcks(producer.acks.length + 200, 20_000);

      const run = await producer.finish();
      assert.deepEqual(run.failures, [], 'the producer saw no error');
      assert.equal(run.summary.fatal, null);
      const acked = [...deliveryOf(prefill, VALUE_BYTES).acked, ...deliveryOf(run, VALUE_BYTES).acked];
      // kafkajs rejoins its group when a leader moves, and reads again what it had not committed yet.
      await reader.assertReadAll(acked, 30_000);
    } finally {
      await producer?.kill();
      await reader?.stop();
      await cluster.close();
    }
  },
);
