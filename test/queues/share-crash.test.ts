import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { ack, acquired, setGroupConfigs, ShareMember } from '../support/share-requests.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';

const ACCEPT = 1;
const REJECT = 3;
const RECORDS = 60;
const GROUP = 'crashers';

/**
 * A share group with a dead-letter topic, its broker killed with SIGKILL while acknowledgements
 * are in flight, again and again: every rejected record lands in the dead-letter topic exactly
 * once, every accepted one is done, and the share-partition reaches the end (nothing stuck).
 */
test('dead letters across SIGKILLs of the broker: each rejected record is dead-lettered once, nothing is lost or stuck', { timeout: 240_000 }, async (t) => {
  const temp = tempDir('share-crash');
  let broker: BrokerProcess | null = null;
  let client: KafkaClient | null = null;
  let port = 0;
  const start = async (): Promise<KafkaClient> => {
    broker = await startBrokerProcess(temp.dir, { 'auto.create.topics.enable': 'false' }, port);
    port = broker.port;
    client = new KafkaClient({ brokers: [broker.bootstrap], clientId: 'share-crash', retries: 20 });
    return client;
  };
  try {
    let c = await start();
    for (const name of ['work', 'dlq.work']) {
      const created = await c.call(() => c.any(), 'CreateTopics', { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
      assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    }
    const topicId = (await c.metadata(['work'])).topics[0].topicId;
    assert.equal((await setGroupConfigs(c, GROUP, { 'errors.deadletterqueue.topic.name': 'dlq.work', 'share.auto.offset.reset': 'earliest', 'share.delivery.count.limit': '10' })).errorCode, ErrorCode.NONE);
    const kafka = new Kafka({ brokers: [broker!.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    // Batches of five: acquisition takes whole batches, and a round should take a few of them.
    for (let i = 0; i < RECORDS; i += 5) await producer.send({ topic: 'work', acks: -1, messages: Array.from({ length: 5 }, (_, j) => ({ value: `v${i + j}` })) });
    await producer.disconnect();

    // The group's coordinator answers DescribeShareGroupOffsets; FindCoordinator makes its topic.
    await c.call(() => c.any(), 'FindCoordinator', { key: '', keyType: 0, coordinatorKeys: [GROUP] }, 4);
    const startOffset = async (): Promise<bigint> => {
      const res = await c.call(() => c.any(), 'DescribeShareGroupOffsets', { groups: [{ groupId: GROUP, topics: [{ topicName: 'work', partitions: [0] }] }] }, 0);
      return res.groups[0].topics[0]?.partitions[0]?.startOffset ?? -1n;
    };
    let kills = 0;
    for (let round = 0; (await startOffset()) < BigInt(RECORDS); round++) {
      assert.ok(round < 40, 'the share-partition never reached the end');
      const m = new ShareMember(c, () => c.any(), GROUP, `member-${round}`, topicId);
      const got = acquired(await m.fetch([], { maxRecords: 7 }));
      if (got.ranges.length === 0) continue;
      const acks = got.ranges.flatMap(([first, last]) => Array.from({ length: last - first + 1 }, (_, i) => first + i)).map((o) => ack(o, o, o % 2 === 0 ? REJECT : ACCEPT));
      const sent = m.acknowledge(acks).catch(() => [ErrorCode.UNKNOWN_SERVER_ERROR]);
      if (round % 2 === 0) {
        // Kill while the acknowledgement (and its dead letters) may be half way.
        await new Promise((r) => setTimeout(r, (round * 7) % 25));
        await client!.close().catch(() => {});
        await broker!.kill();
        kills++;
        c = await start();
      } else {
        assert.deepEqual(await sent, [ErrorCode.NONE, ErrorCode.NONE]);
      }
    }
    t.diagnostic(`${kills} SIGKILLs`);
    assert.ok(kills >= 3);

    // Every even record in the dead-letter topic, each once; nothing else.
    const consumer = new Kafka({ brokers: [broker!.bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: 'dlq-reader' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'dlq.work', fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    const expected = Array.from({ length: RECORDS / 2 }, (_, i) => `v${i * 2}`);
    const deadline = Date.now() + 30_000;
    while (seen.length < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();
    const end = await c.call(() => c.any(), 'ListOffsets', { replicaId: -1, isolationLevel: 0, timeoutMs: 10_000, topics: [{ name: 'dlq.work', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] });
    assert.equal(Number(end.topics[0].partitions[0].offset), expected.length, 'no dead letter written twice');
    assert.deepEqual([...seen].sort(), [...expected].sort());
  } finally {
    await (client as KafkaClient | null)?.close().catch(() => {});
    await (broker as BrokerProcess | null)?.kill();
    temp.cleanup();
  }
});
