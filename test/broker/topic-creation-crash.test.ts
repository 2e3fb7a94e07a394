import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { check, KafkaClient } from '../../src/client/kafka-client.js';
import { ZERO_UUID } from '../../src/protocol/codec-runtime.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { kcat, skipUnlessPresent } from '../support/tools.js';

const PARTITIONS = 1000;
const ROUNDS = 17;
/** Rounds whose kill comes right after the answer: the topic must then be there. */
const ANSWERED_ROUNDS = 2;
/** Partitions a record goes through in each complete topic: the first, one inside, the last. */
const PROBED = [0, 567, PARTITIONS - 1];

interface Listing {
  topics: { topic: string; error?: string; partitions: { leader: number; error?: string }[] }[];
}

async function admin<T>(broker: BrokerProcess, use: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = new KafkaClient({ brokers: [broker.bootstrap], retries: 0 });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

function createTopic(client: KafkaClient, name: string) {
  return client.call(() => client.any(), 'CreateTopics', {
    topics: [{ name, numPartitions: PARTITIONS, replicationFactor: -1, assignments: [], configs: [] }],
    timeoutMs: 60_000,
    validateOnly: false,
  });
}

async function deleteTopic(broker: BrokerProcess, name: string): Promise<void> {
  await admin(broker, async (client) => {
    const res = await client.call(() => client.any(), 'DeleteTopics', { topics: [{ name, topicId: ZERO_UUID }], topicNames: [], timeoutMs: 60_000 });
    check(res.responses[0].errorCode, `deleting ${name}`);
  });
}

/**
 * Metadata of every topic works for kcat and kafkajs with no partition in error, and every
 * partition directory on disk belongs to a partition the broker lists. Returns kcat's listing.
 */
async function checkEverything(broker: BrokerProcess, dataDir: string): Promise<Map<string, number>> {
  const r = await runCommand('kcat', ['-b', broker.bootstrap, '-L', '-J'], { timeoutMs: 30_000 });
  assertSucceeded(r, 'kcat -L -J');
  const listing = JSON.parse(r.stdout) as Listing;
  const counts = new Map<string, number>();
  for (const t of listing.topics) {
    assert.equal(t.error, undefined, `${t.topic} has no error`);
    assert.ok(
      t.partitions.every((p) => p.leader === 1 && p.error === undefined),
      `every partition of ${t.topic} has its leader`,
    );
    counts.set(t.topic, t.partitions.length);
  }
  const kafkaAdmin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await kafkaAdmin.connect();
  try {
    const all = await kafkaAdmin.fetchTopicMetadata();
    assert.deepEqual(new Map(all.topics.map((t) => [t.name, t.partitions.length])), counts);
  } finally {
    await kafkaAdmin.disconnect();
  }
  for (const name of readdirSync(dataDir)) {
    const m = /^(.+)-(\d+)$/.exec(name);
    if (!m || !statSync(join(dataDir, name)).isDirectory()) continue;
    assert.ok(Number(m[2]) < (counts.get(m[1]) ?? 0), `${name} on disk belongs to a partition the broker lists`);
  }
  return counts;
}

/** A record into each probed partition with kafkajs, and back out with kcat. */
async function probe(broker: BrokerProcess, topic: string): Promise<void> {
  const producer = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: PROBED.map((partition) => ({ partition, value: `into ${partition}` })) });
  } finally {
    await producer.disconnect();
  }
  for (const partition of PROBED) {
    const r = await runCommand('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-c', '1', '-e', '-q', '-f', '%s'], {
      timeoutMs: 30_000,
    });
    assertSucceeded(r, `kcat -C -p ${partition}`);
    assert.equal(r.stdout, `into ${partition}`);
  }
}

describe('a broker killed while it creates a topic', { skip: skipUnlessPresent(kcat), timeout: 180_000 }, () => {
  test(`restarts with the topic of ${PARTITIONS} partitions whole and usable, or absent with nothing left on disk`, async (t) => {
    const temp = tempDir('creation-crash');
    const dataDir = join(temp.dir, 'data');
    let broker = await startBrokerProcess(dataDir);
    try {
      let creationMs = 0;
      const seen = { absent: 0, whole: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const topic = `crash${round}`;
        const client = new KafkaClient({ brokers: [broker.bootstrap], retries: 0 });
        const started = performance.now();
        const creating = createTopic(client, topic);
        // The kill may cut the request off: that is expected.
        const settled = creating.catch(() => null);
        // The first rounds' kills come right after the answer, and time the creation; the
        // others' are spread over it.
        const answered = round < ANSWERED_ROUNDS;
        if (answered) {
          check((await creating).topics[0].errorCode, `creating ${topic}`);
          creationMs = Math.max(creationMs, performance.now() - started);
        } else {
          await sleep((creationMs * (round - ANSWERED_ROUNDS + Math.random())) / (ROUNDS - ANSWERED_ROUNDS));
        }
        await broker.kill();
        await settled;
        await client.close();

        broker = await startBrokerProcess(dataDir);
        const counts = await checkEverything(broker, dataDir);
        if (!counts.has(topic)) {
          assert.ok(!answered, `${topic}, created as the broker said, outlives the kill`);
          seen.absent++;
          continue;
        }
        assert.equal(counts.get(topic), PARTITIONS, `${topic} has all its partitions`);
        await probe(broker, topic);
        seen.whole++;
        await deleteTopic(broker, topic);
      }
      t.diagnostic(`creation took ${Math.round(creationMs)} ms; after the kills the topic was absent ${seen.absent} times, whole ${seen.whole} times`);
      assert.ok(seen.absent > 0, 'some kills came before the topic was made');
    } finally {
      await broker.kill();
      temp.cleanup();
    }
  });
});
