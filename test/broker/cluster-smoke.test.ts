import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { clusterSkip, kafkajsRoundTrip, startCluster, type Addresses, type TestCluster } from '../support/cluster.js';
import { logged } from '../support/storage-faults.js';

for (const addresses of ['loopback', 'netns'] as Addresses[]) {
  describe(`a cluster of 3 brokers (${addresses})`, { skip: clusterSkip(addresses), timeout: 180_000 }, () => {
    let cluster: TestCluster;

    before(async () => {
      cluster = await startCluster({ brokers: 3, addresses });
    });

    after(async () => {
      await cluster?.close();
    });

    test('each broker lists all three at their addresses, and the same controller, which says so in its log', async () => {
      const controllers = new Set<number>();
      for (const id of cluster.ids) {
        const admin = new Kafka({ clientId: 'cluster-smoke', brokers: [cluster.address(id)], logLevel: logLevel.NOTHING }).admin();
        await admin.connect();
        try {
          const described = await admin.describeCluster();
          assert.deepEqual(described.brokers.map((b) => `${b.nodeId} ${b.host}:${b.port}`).sort(), cluster.ids.map((i) => `${i} ${cluster.address(i)}`), `as broker ${id} says`);
          controllers.add(described.controller!);
        } finally {
          await admin.disconnect();
        }
      }
      const controller = await cluster.controllerId();
      assert.deepEqual([...controllers], [controller]);
      assert.equal(logged(cluster.broker(controller).output, 'this broker is the controller').length, 1);
    });

    test('a topic of 6 partitions with 3 replicas each takes records and gives them back', async () => {
      const admin = new Kafka({ clientId: 'cluster-smoke', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        assert.equal(await admin.createTopics({ topics: [{ topic: 'smoke', numPartitions: 6, replicationFactor: 3 }], waitForLeaders: true }), true);
        const [topic] = (await admin.fetchTopicMetadata({ topics: ['smoke'] })).topics;
        assert.equal(topic.partitions.length, 6);
        for (const p of topic.partitions) assert.deepEqual([...p.replicas].sort(), [1, 2, 3], `replicas of smoke-${p.partitionId}`);
        assert.deepEqual(new Set(topic.partitions.map((p) => p.leader)), new Set([1, 2, 3]), 'leaders are spread over the brokers');
      } finally {
        await admin.disconnect();
      }
      const values = await kafkajsRoundTrip(cluster.bootstrap, 'smoke', 60);
      assert.deepEqual(values, Array.from({ length: 60 }, (_, i) => `v${i}`).sort());
    });
  });
}
