import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTopic, partitionStates, withAdmin } from '../support/cluster-admin.js';
import { clusterSkip, kafkajsRoundTripRecords, FAST_CLUSTER, startCluster, type TestCluster } from '../support/cluster.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { kcatConsume, kcatProduce } from '../support/deliveries.js';
import { platformaticNodeOrSkip, runPlatformaticScript } from '../support/platformatic-runner.js';
import { consumePython, messageValue, producePython, type ConsumedRecord } from '../support/python-clients.js';
import { confluentKafka, kcat, skipUnlessPresent } from '../support/tools.js';

const TOPIC = 'clients';
const PARTITIONS = 6;

/** Every value once: what a client read of its own records against what it was told were written. */
function assertOnceEach(read: (string | null)[], written: string[], who: string): void {
  const sorted = (values: (string | null)[]): (string | null)[] => [...values].sort();
  assert.deepEqual(sorted(read), sorted(written), `${who}: each record it wrote comes back once`);
}

describe('real clients against 3 brokers and a topic led by all three', { skip: clusterSkip('loopback'), timeout: 150_000 }, () => {
  let cluster: TestCluster;
  /** Records the topic holds so far, from every client. */
  let stored = 0;

  before(async () => {
    cluster = await startCluster({ brokers: 3, overrides: FAST_CLUSTER });
    const created = await withAdmin(cluster.bootstrap, (client) => createTopic(client, TOPIC, { partitions: PARTITIONS, replicationFactor: 3 }));
    assert.equal(created.error, 'NONE', created.message ?? '');
  });

  after(async () => {
    await cluster?.close();
  });

  test('Metadata: 6 partitions on all 3 brokers, led by 3 different ones; kcat -L lists the 3 brokers and the same leaders', { skip: skipUnlessPresent(kcat) }, async () => {
    const partitions = await withAdmin(cluster.bootstrap, (client) => partitionStates(client, TOPIC));
    assert.equal(partitions.length, PARTITIONS);
    for (const p of partitions) {
      assert.deepEqual([...p.replicas].sort(), [1, 2, 3], `replicas of ${TOPIC}-${p.partition}`);
      assert.deepEqual([...p.isr].sort(), [1, 2, 3], `ISR of ${TOPIC}-${p.partition}`);
    }
    assert.deepEqual(new Set(partitions.map((p) => p.leaderId)), new Set([1, 2, 3]));

    const r = await runCommand('kcat', ['-b', cluster.address(2), '-L', '-J'], { timeoutMs: 30_000 });
    assertSucceeded(r, 'kcat -L -J');
    const listing = JSON.parse(r.stdout) as { brokers: { id: number; name: string }[]; topics: { topic: string; partitions: { partition: number; leader: number }[] }[] };
    assert.deepEqual(
      listing.brokers.map((b) => `${b.id} ${b.name}`).sort(),
      cluster.ids.map((id) => `${id} ${cluster.address(id)}`),
    );
    const listed = listing.topics.find((t) => t.topic === TOPIC)!.partitions.sort((a, b) => a.partition - b.partition);
    assert.deepEqual(
      listed.map((p) => p.leader),
      partitions.map((p) => p.leaderId),
    );
  });

  test('kcat: -P with acks=all to every partition, -C reads each record back once, where it was acknowledged', { skip: skipUnlessPresent(kcat) }, async () => {
    const perPartition = 20;
    const acked = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const delivery = await kcatProduce(cluster.address(1 + (p % 3)), TOPIC, p, p * perPartition, perPartition);
      assert.deepEqual(delivery.failures, []);
      acked.push(...delivery.acked);
    }
    stored += acked.length;
    const own = (await kcatConsume(cluster.address(3), TOPIC)).filter((r) => r.v?.startsWith('l'));
    assertOnceEach(
      own.map((r) => r.v),
      acked.map((a) => a.value),
      'kcat',
    );
    const at = new Map(own.map((r) => [`${r.p}:${r.o}`, r.v]));
    for (const a of acked) assert.equal(at.get(`${a.partition}:${a.offset}`), a.value, `kcat's record acknowledged at ${a.partition}:${a.offset}`);
  });

  test('confluent-kafka: an idempotent producer with acks=all, and a consumer reading every partition, each record once', { skip: skipUnlessPresent(confluentKafka) }, async () => {
    const run = await producePython({ library: 'confluent', bootstrap: cluster.address(2), topic: TOPIC, partitions: PARTITIONS, count: 300, idempotence: 'on' });
    assert.deepEqual(run.failures, []);
    assert.equal(run.acks.length, 300);
    stored += run.acks.length;
    const own = (await consumePython('confluent', cluster.address(1), TOPIC)).filter((r) => /^m\d{8}$/.test(r.v ?? ''));
    assertOnceEach(
      own.map((r) => r.v),
      run.acks.map((a) => messageValue(a.n)),
      'confluent-kafka',
    );
    const at = new Map(own.map((r) => [`${r.p}:${r.o}`, r.v]));
    for (const a of run.acks) assert.equal(at.get(`${a.partition}:${a.offset}`), messageValue(a.n), `message ${a.n}, acknowledged at ${a.partition}:${a.offset}`);
  });

  test('kafkajs: a producer with acks=all and a consumer group, each record once', async () => {
    const count = 300;
    const read = await kafkajsRoundTripRecords(cluster.bootstrap, TOPIC, count, { prefix: 'kafkajs-' });
    stored += count;
    assertOnceEach(
      read.map((r) => r.v),
      Array.from({ length: count }, (_, i) => `kafkajs-v${i}`),
      'kafkajs',
    );
    assert.deepEqual(new Set(read.map((r) => r.p)), new Set([0, 1, 2, 3, 4, 5]), 'keyed records went to every partition');
  });

  test('@platformatic/kafka: a producer with acks=all to every partition and a consumer group, each record once', async (t) => {
    const node = platformaticNodeOrSkip(t);
    if (node === null) return;
    const count = 120;
    stored += count;
    const options = { topic: TOPIC, partitions: PARTITIONS, expect: stored };
    const stdout = await runPlatformaticScript(node, 'platformatic-roundtrip-child.mjs', [cluster.address(3), String(count), JSON.stringify(options)], (stdin) => stdin.end(), 90_000);
    const read = (JSON.parse(stdout) as Record<string, { partition: number; headers: [string, string][] }[]>)[TOPIC];
    assert.equal(read.length, stored, 'the group read the whole topic, every client’s records, once');
    const own = read.flatMap((m) => m.headers.filter(([k]) => Buffer.from(k, 'base64').toString() === 'n').map(([, v]) => ({ p: m.partition, n: Buffer.from(v, 'base64').toString() })));
    assertOnceEach(
      own.map((m) => m.n),
      Array.from({ length: count }, (_, i) => String(i)),
      '@platformatic/kafka',
    );
    for (const m of own) assert.equal(m.p, Number(m.n) % PARTITIONS, `message ${m.n} is in the partition it was sent to`);
  });

  test('kcat and confluent-kafka read the same log: every record of the four clients, no offset skipped', { skip: skipUnlessPresent(kcat, confluentKafka) }, async () => {
    const key = (r: ConsumedRecord): string => `${r.p}:${r.o} ${r.k} ${r.v}`;
    const [byKcat, byConfluent] = await Promise.all([kcatConsume(cluster.address(1), TOPIC), consumePython('confluent', cluster.address(2), TOPIC)]);
    assert.equal(byConfluent.length, stored);
    assert.deepEqual(byKcat.map(key).sort(), byConfluent.map(key).sort());
    for (let p = 0; p < PARTITIONS; p++) {
      const offsets = byConfluent.filter((r) => r.p === p).map((r) => r.o);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `${TOPIC}-${p}: offsets run from 0 without a gap`,
      );
    }
  });
});
