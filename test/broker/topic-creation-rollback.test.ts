import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import kafkajs from 'kafkajs';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { log } from '../../src/log.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { rejection } from '../support/kafkajs-errors.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { kcat, skipUnlessPresent } from '../support/tools.js';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

/**
 * Creating a topic or adding partitions when a partition's log cannot be made, and admin changes
 * when the metadata image cannot be written. A regular file or a directory where the broker's
 * own must go is one way a user gets there (a stray copy, a restore gone wrong); running out of
 * descriptors or disk space fails the same code paths.
 */
describe('topic changes that fail midway', { skip: skipUnlessPresent(kcat) }, () => {
  let broker: InProcessBroker;
  let client: KafkaClient;
  // Every failure here is meant: its warnings are kept for the checks, not printed.
  const warn = mock.method(log, 'warn', () => {});
  const kafka = (): kafkajs.Kafka => new Kafka({ clientId: 'rollback-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });

  before(async () => {
    broker = await startTestBroker({ 'num.partitions': '12' });
    client = new KafkaClient({ brokers: [broker.bootstrap], retries: 0 });
    await produce('steady', 'before');
  });

  async function produce(topic: string, value: string): Promise<void> {
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value }] });
    await producer.disconnect();
  }

  /** Every value of the topic, read by kcat. */
  async function kcatValues(topic: string): Promise<string[]> {
    const consumed = await runCommand('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { timeoutMs: 30_000 });
    assertSucceeded(consumed, 'kcat -C');
    return consumed.stdout.split('\n').filter(Boolean);
  }

  after(async () => {
    await client.close();
    await broker.stop();
    warn.mock.restore();
  });

  const blockPartition = (topic: string, partition: number): void => writeFileSync(join(broker.dir, `${topic}-${partition}`), 'not a partition directory\n');

  /** Every directory entry of the topic's partitions, and whether each is a directory. */
  const entriesOf = (topic: string): string[] =>
    readdirSync(broker.dir)
      .filter((n) => n.startsWith(`${topic}-`))
      .map((n) => `${n}${statSync(join(broker.dir, n)).isDirectory() ? '/' : ''}`)
      .sort();

  const storedTopics = (): string[] => (JSON.parse(readFileSync(join(broker.dir, 'sluice-metadata.json'), 'utf8')) as { topics: { name: string }[] }).topics.map((t) => t.name);

  function createTopic(name: string, configs: Record<string, string> = {}) {
    return createTopics([name], 12, configs);
  }

  /** One CreateTopics request for all of `names`. */
  function createTopics(names: string[], numPartitions: number, configs: Record<string, string> = {}) {
    return client.call(() => client.any(), 'CreateTopics', {
      topics: names.map((name) => ({ name, numPartitions, replicationFactor: -1, assignments: [], configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) })),
      timeoutMs: 30_000,
      validateOnly: false,
    });
  }

  /** The warnings logged while `run` ran whose message mentions `about`. */
  async function warningsAbout(about: string, run: () => Promise<void>): Promise<string[]> {
    warn.mock.resetCalls();
    await run();
    return warn.mock.calls.map((c) => c.arguments.map(String).join(' ')).filter((text) => text.includes(about));
  }

  test('CreateTopics answers KAFKA_STORAGE_ERROR naming the cause, and nothing of the topic is kept', async () => {
    blockPartition('blocked', 7);
    const warnings = await warningsAbout('blocked', async () => {
      const res = await createTopic('blocked', { 'retention.ms': '1000' });
      const r = res.topics[0];
      assert.equal(r.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
      assert.match(r.errorMessage ?? '', /^Topic 'blocked' was not created: .*blocked-7: ENOTDIR: not a directory/);
    });
    assert.equal(warnings.length, 1, `one warning: ${warnings.join('\n')}`);
    assert.equal(broker.broker.metadata.topic('blocked'), undefined);
    assert.ok(!storedTopics().includes('blocked'), 'the stored image does not name it');
    assert.deepEqual(entriesOf('blocked'), ['blocked-7'], 'no partition directory is left, and the file in the way is untouched');
    assert.deepEqual(await rejection(kafka().admin().createTopics({ topics: [{ topic: 'blocked', numPartitions: 12 }] })), ['KAFKA_STORAGE_ERROR']);

    // Out of the way, the topic is created, with the configs asked for this time.
    rmSync(join(broker.dir, 'blocked-7'));
    const again = await createTopic('blocked', { 'retention.ms': '2000' });
    assert.equal(again.topics[0].errorCode, ErrorCode.NONE);
    assert.equal(broker.broker.partitions.ofTopic('blocked').length, 12);
    assert.ok(broker.broker.partitions.ofTopic('blocked').every((p) => p.log.config.retentionMs === 2000));
  });

  test('CreatePartitions answers KAFKA_STORAGE_ERROR and keeps the count it had', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'growing', numPartitions: 2 }] });
      blockPartition('growing', 5);
      const res = await client.call(() => client.any(), 'CreatePartitions', { topics: [{ name: 'growing', count: 8, assignments: null }], timeoutMs: 30_000, validateOnly: false });
      assert.equal(res.results[0].errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
      assert.match(res.results[0].errorMessage ?? '', /growing-5/);
      assert.deepEqual(await rejection(admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 8 }] })), ['KAFKA_STORAGE_ERROR']);
      const [metadata] = (await admin.fetchTopicMetadata({ topics: ['growing'] })).topics;
      assert.equal(metadata.partitions.length, 2);
      assert.deepEqual(entriesOf('growing'), ['growing-0/', 'growing-1/', 'growing-5']);
    } finally {
      await admin.disconnect();
    }
  });

  test('a topic created by Metadata gets the error in the answer, and nothing is kept', async () => {
    blockPartition('auto', 3);
    const res = await client.metadata(['auto'], true);
    assert.equal(res.topics[0].errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.deepEqual(res.topics[0].partitions, []);
    assert.equal(broker.broker.metadata.topic('auto'), undefined);
    assert.deepEqual(entriesOf('auto'), ['auto-3']);
  });

  test('when the metadata image cannot be written, creations, deletions and config changes are refused and undone', async () => {
    // What a full disk or a broken directory does to the image's atomic rewrite, for real.
    const blocker = join(broker.dir, 'sluice-metadata.json.tmp');
    mkdirSync(blocker);
    const admin = kafka().admin();
    await admin.connect();
    try {
      const created = (await createTopic('unwritten')).topics[0];
      assert.equal(created.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
      assert.match(created.errorMessage ?? '', /EISDIR/);
      assert.equal(broker.broker.metadata.topic('unwritten'), undefined);
      assert.deepEqual(entriesOf('unwritten'), [], 'the logs made before the write are gone');
      // Every topic of a request is refused and undone alike.
      const many = await createTopics(['unwritten-a', 'unwritten-b', 'unwritten-c'], 3);
      assert.deepEqual(
        many.topics.map((t) => [t.name, t.errorCode]),
        ['a', 'b', 'c'].map((x) => [`unwritten-${x}`, ErrorCode.KAFKA_STORAGE_ERROR]),
      );
      const kept = ['a', 'b', 'c'].map((x) => `unwritten-${x}`).flatMap((name) => [...(broker.broker.metadata.topic(name) ? [name] : []), ...entriesOf(name)]);
      assert.deepEqual(kept, [], 'no topic, no partition directory');
      assert.deepEqual(await rejection(admin.deleteTopics({ topics: ['steady'] })), ['KAFKA_STORAGE_ERROR']);
      const configChange = { type: ConfigResourceTypes.TOPIC, name: 'steady', configEntries: [{ name: 'retention.ms', value: '5000' }] };
      assert.deepEqual(await rejection(admin.alterConfigs({ resources: [configChange], validateOnly: false })), ['KAFKA_STORAGE_ERROR']);
      assert.deepEqual(broker.broker.metadata.topic('steady')?.configs, {});
    } finally {
      await admin.disconnect();
      rmSync(blocker, { recursive: true });
    }
  });

  test('a request of 300 topics: each is created, stored and served, a name colliding with one before it in the request refused; several grown and all deleted in one request each', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `bulk.${i}`);
    names[299] = 'bulk_0';
    const res = await createTopics(names, 2);
    assert.deepEqual(
      res.topics.filter((t) => t.errorCode !== ErrorCode.NONE).map((t) => [t.name, t.errorCode, t.errorMessage]),
      [['bulk_0', ErrorCode.INVALID_TOPIC_EXCEPTION, "Topic 'bulk_0' collides with existing topic: bulk.0"]],
    );
    const created = names.slice(0, 299);
    const stored = new Set(storedTopics());
    assert.deepEqual(
      created.filter((n) => !stored.has(n) || broker.broker.partitions.ofTopic(n).length !== 2),
      [],
      'every topic is in the stored image and has its partitions here',
    );
    await produce('bulk.298', 'last');
    assert.deepEqual(await kcatValues('bulk.298'), ['last']);
    const grownNames = ['bulk.1', 'bulk.2', 'bulk.3'];
    const grown = await client.call(() => client.any(), 'CreatePartitions', { topics: grownNames.map((name) => ({ name, count: 4, assignments: null })), timeoutMs: 30_000, validateOnly: false });
    assert.deepEqual(
      grown.results.map((r) => [r.name, r.errorCode, broker.broker.partitions.ofTopic(r.name).length]),
      grownNames.map((name) => [name, ErrorCode.NONE, 4]),
    );
    const deleted = await client.call(() => client.any(), 'DeleteTopics', { topics: created.map((name) => ({ name, topicId: '00000000-0000-0000-0000-000000000000' })), topicNames: created, timeoutMs: 30_000 });
    assert.ok(deleted.responses.every((r) => r.errorCode === ErrorCode.NONE));
  });

  test('the other topics keep working for kafkajs and kcat', async () => {
    await produce('steady', 'after');
    assert.deepEqual((await kcatValues('steady')).sort(), ['after', 'before']);
    const listed = await runCommand('kcat', ['-b', broker.bootstrap, '-L', '-J'], { timeoutMs: 30_000 });
    assertSucceeded(listed, 'kcat -L -J');
    const topics = (JSON.parse(listed.stdout) as { topics: { topic: string; error?: string }[] }).topics;
    assert.deepEqual(topics.map((t) => t.topic).sort(), ['blocked', 'growing', 'steady']);
    assert.ok(topics.every((t) => t.error === undefined));
  });
});
