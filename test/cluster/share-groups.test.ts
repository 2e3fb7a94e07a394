import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { createTopic, partitionStates, withAdmin } from '../support/cluster-admin.js';
import { clusterSkip, FAST_CLUSTER, startCluster } from '../support/cluster.js';
import { eventually } from '../support/librdkafka-groups.js';
import { ack, acquired, ShareMember } from '../support/share-requests.js';

test(
  'a share-partition moves with the leadership of its topic partition: the new leader goes on from the stored state',
  { skip: clusterSkip('loopback'), timeout: 120_000 },
  async (t) => {
    const cluster = await startCluster({ brokers: 3, overrides: FAST_CLUSTER });
    try {
      await withAdmin(cluster.bootstrap, async (client) => {
        assert.equal((await createTopic(client, 'jobs', { partitions: 1, replicationFactor: 3 })).error, 'NONE');
        const topicId = (await client.metadata(['jobs'])).topics[0].topicId;
        const a = new ShareMember(client, () => client.leader('jobs', 0), 'workers', 'member-a', topicId);
        // The first fetch makes the share-partition, at the end of the log (share.auto.offset.reset=latest).
        await eventually('the first share fetch to be served', async () => (await a.fetch([], { maxWaitMs: 0 })).responses[0]?.partitions[0]?.errorCode === ErrorCode.NONE, 30_000);
        const kafka = new Kafka({ brokers: cluster.bootstrap, logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({ topic: 'jobs', acks: -1, messages: ['j0', 'j1', 'j2', 'j3', 'j4', 'j5'].map((value) => ({ value })) });
        await producer.disconnect();
        let got = acquired(await a.fetch([], { maxWaitMs: 5000 }));
        assert.deepEqual(got.ranges, [[0, 5, 1]]);
        // Accepting half stores the state, acquisitions of the rest included.
        assert.deepEqual(await a.acknowledge([ack(0, 2, 1)]), [ErrorCode.NONE, ErrorCode.NONE]);

        const leader = (await partitionStates(client, 'jobs'))[0].leaderId;
        t.diagnostic(`jobs-0 led by broker ${leader}; killing it`);
        await cluster.kill(leader);
        await eventually('another leader for jobs-0', async () => {
          const now = (await partitionStates(client, 'jobs'))[0].leaderId;
          return now >= 0 && now !== leader;
        }, 30_000);

        const b = new ShareMember(client, () => client.leader('jobs', 0), 'workers', 'member-b', topicId);
        await eventually(
          'the new leader to hand out what member-a held',
          async () => {
            const res = await b.fetch([], { maxWaitMs: 1000 });
            const p = res.responses[0]?.partitions[0];
            if (res.errorCode !== ErrorCode.NONE || !p || p.errorCode !== ErrorCode.NONE) {
              b.epoch = 0;
              return false;
            }
            got = acquired(res);
            return got.ranges.length > 0;
          },
          60_000,
        );
        assert.deepEqual(got.ranges, [[3, 5, 2]], 'accepted records stay done; held ones come back on their second delivery');
        assert.deepEqual(got.values, ['j3', 'j4', 'j5']);
      });
    } finally {
      await cluster.close();
    }
  },
);
