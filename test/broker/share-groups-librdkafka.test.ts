import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { Kafka, logLevel, type Admin, type IHeaders, type Producer } from 'kafkajs';
import { groupConfig } from '../../src/client/group-configs.js';
import { check, KafkaClient } from '../../src/client/kafka-client.js';
import { describeShareGroup, shareGroupOffsets } from '../../src/client/share-groups.js';
import { eventually } from '../support/librdkafka-groups.js';
import { buildShareConsumer, recordKey, ShareConsumers, type Delivery, type ShareConsumer } from '../support/share-consumers.js';
import { setGroupConfigs } from '../support/share-requests.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { gcc, librdkafkaClient, skipUnlessPresent } from '../support/tools.js';

/**
 * Share groups (KIP-932) as librdkafka 2.15's share consumer uses them (rd_kafka_share_*, driven
 * by test/support/share-consumer.c): records shared among consumers and each accepted once,
 * acquisition locks that run out, RELEASE up to the delivery count limit, REJECT; and, where
 * the broker serves them, Sluice's retry backoff ladder and KIP-1191's dead-letter topic.
 */

const skip = skipUnlessPresent(librdkafkaClient, gcc);

/** Short, so that expiry shows within a test; the group's minimum is lowered to allow it. */
const LOCK_MS = 2000;
/** One delivery more than the ladder has steps, so that every step is waited for. */
const DELIVERY_LIMIT = 4;
const RETRY_LADDER_MS = [500, 1000, 2000];

const SETTINGS = {
  'group.share.record.lock.duration.ms': String(LOCK_MS),
  'group.share.min.record.lock.duration.ms': '1000',
  'group.share.heartbeat.interval.ms': '500',
  // Long beside the lock: a killed consumer's records come back through their locks running out.
  'group.share.session.timeout.ms': '20000',
  'offsets.topic.num.partitions': '3',
  'share.coordinator.state.topic.num.partitions': '3',
};

let dir: string;
let broker: InProcessBroker;
let client: KafkaClient;
let admin: Admin;
let producer: Producer;
let binary: string;

before(async () => {
  if (skip) return;
  binary = await buildShareConsumer();
  dir = mkdtempSync(join(tmpdir(), 'sluice-share-librdkafka-'));
  broker = await startTestBroker(SETTINGS, dir);
  client = new KafkaClient({ brokers: [broker.bootstrap], clientId: 'share-librdkafka-test', retries: 10 });
  const kafka = new Kafka({ clientId: 'share-librdkafka-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
});

after(async () => {
  if (skip) return;
  await Promise.all([admin.disconnect(), producer.disconnect(), client.close()]);
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createTopic(topic: string, partitions: number): Promise<void> {
  assert.ok(await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }), `${topic} already exists`);
}

/** Produces `values` round-robin over `partitions` partitions. */
async function produce(topic: string, values: string[], partitions = 1): Promise<void> {
  await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ value, partition: i % partitions })) });
}

const numbered = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** A share group that starts at the earliest offset, so records produced before it joined count. */
async function shareGroup(group: string, configs: Record<string, string> = {}): Promise<void> {
  const all = { 'share.auto.offset.reset': 'earliest', ...configs };
  const res = await setGroupConfigs(client, group, all);
  check(res.errorCode, `set ${JSON.stringify(all)} on group ${group}`, res.errorMessage);
}

function consumersOf(group: string, topic: string): ShareConsumers {
  return new ShareConsumers(binary, { bootstrap: broker.bootstrap, group, topic });
}

const valuesOf = (events: { value?: string }[]): Set<string> => new Set(events.map((e) => e.value!));

/**
 * Every record before the share-partitions' start offsets is accepted or archived: once a
 * group is done, the start offsets reach the ends of the partitions.
 */
async function assertAllSettled(group: string, topic: string): Promise<void> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  await eventually(
    `${group}'s start offsets at the ends of ${topic}`,
    async () => {
      const starts = (await shareGroupOffsets(client, group)).filter((o) => o.topic === topic);
      return starts.length === ends.size && starts.every((o) => o.offset === ends.get(o.partition));
    },
    10_000,
    () => `ends ${JSON.stringify([...ends].map(([p, o]) => `${p}:${o}`))}`,
  ).catch(async (e: Error) => {
    const offsets = (await shareGroupOffsets(client, group)).map((o) => `${o.topic}-${o.partition}@${o.offset}`);
    throw new Error(`${e.message}; start offsets ${offsets.join(' ')}`);
  });
}

/** A record's deliveries, first to last. */
function deliveriesOf(consumers: ShareConsumers, value: string): Delivery[] {
  return consumers.deliveries().filter((d) => d.value === value);
}

/**
 * librdkafka parsed every response; no record accepted twice, and none delivered again once
 * accepted. Each delivery counts one
 * more than the one before, starting at 1, unless `unseenAcquisitions`: a consumer that stopped
 * mid-batch acquired records it never reported, so a record's first report may count 2 and later
 * ones only have to count up.
 */
function assertSoundDeliveries(consumers: ShareConsumers, unseenAcquisitions = false): void {
  // A response librdkafka could not parse is dropped with the records acquired in it, which come back later counting one more.
  const unparsed = consumers.protocolErrors();
  const dropped = unparsed.length > 0 ? ` (librdkafka dropped responses it could not parse: ${unparsed.length} lines of its log)` : '';
  const accepted = new Map<string, number>();
  for (const a of consumers.taken('accept')) {
    const key = recordKey(a);
    assert.ok(!accepted.has(key), `${key} was accepted twice`);
    accepted.set(key, a.at);
  }
  const counts = new Map<string, number[]>();
  for (const d of consumers.deliveries()) {
    const key = recordKey(d);
    const acceptedAt = accepted.get(key);
    assert.ok(acceptedAt === undefined || d.at <= acceptedAt, `${key} (${d.value}) was delivered to ${d.consumer} after it had been accepted`);
    counts.set(key, [...(counts.get(key) ?? []), d.deliveryCount]);
  }
  for (const [key, seen] of counts) {
    const why = `${key}'s delivery counts, delivery by delivery: ${consumers.history(key)}${dropped}`;
    if (unseenAcquisitions) assert.ok(seen.every((c, i) => c > (seen[i - 1] ?? 0)), why);
    else assert.deepEqual(seen, seen.map((_, i) => i + 1), why);
  }
  assert.equal(unparsed.length, 0, `librdkafka logged ${unparsed.length} protocol errors, the first:\n${unparsed.slice(0, 3).join('\n')}`);
}

test('three share consumers on two partitions: every record processed, each accepted once', { skip, timeout: 180_000 }, async (t) => {
  const topic = 'share-three';
  const group = 'sg-three';
  await createTopic(topic, 2);
  await shareGroup(group);
  const consumers = consumersOf(group, topic);
  try {
    const members = ['c1', 'c2', 'c3'].map((name) => consumers.start(name));
    // In rounds, while the consumers run: with everything there at once one consumer could take it all in a fetch.
    const values: string[] = [];
    for (let round = 0; round < 30; round++) {
      const batch = numbered(`r${round}-`, 20);
      await produce(topic, batch, 2);
      values.push(...batch);
      await new Promise((r) => setTimeout(r, 100));
    }
    await consumers.until(`all ${values.length} records accepted`, () => valuesOf(consumers.taken('accept')).size >= values.length, 90_000);
    assert.deepEqual([...valuesOf(consumers.taken('accept'))].sort(), [...values].sort(), 'the records accepted are the records produced');
    assertSoundDeliveries(consumers);

    const byConsumer = new Map<string, number>();
    for (const a of consumers.taken('accept')) byConsumer.set(a.consumer, (byConsumer.get(a.consumer) ?? 0) + 1);
    t.diagnostic(`accepted by consumer: ${JSON.stringify(Object.fromEntries(byConsumer))}; deliveries ${consumers.deliveries().length}`);
    assert.ok(byConsumer.size >= 2, `the records were shared: accepted by ${JSON.stringify(Object.fromEntries(byConsumer))}`);
    await assertAllSettled(group, topic);

    await consumers.stopAll();
    assert.deepEqual(members.filter((m) => !m.has('closed')).map((m) => m.name), [], 'every consumer closed cleanly');
    assert.deepEqual((await describeShareGroup(client, group)).members, [], 'the consumers left the group');
  } finally {
    await consumers.stopAll();
  }
});

/**
 * A one-partition topic of `count` records (share-NAME, its share group sg-NAME) and a consumer
 * of it, 'holder', that stopped after `held` records without acknowledging any. Its fetches may
 * have acquired more than it reported.
 */
async function withHolder(name: string, count: number, held: number, use: (consumers: ShareConsumers, holder: ShareConsumer, values: string[]) => Promise<void>): Promise<void> {
  const topic = `share-${name}`;
  const group = `sg-${name}`;
  await createTopic(topic, 1);
  await shareGroup(group);
  const values = numbered(`${name}-`, count);
  await produce(topic, values);
  const consumers = consumersOf(group, topic);
  try {
    const holder = consumers.start('holder', { holdAfter: held });
    await consumers.until(`the holder holding ${held} records`, () => holder.has('holding'));
    await use(consumers, holder, values);
    assertSoundDeliveries(consumers, true);
    await assertAllSettled(group, topic);
  } finally {
    await consumers.killAll();
  }
}

test('a share consumer killed while holding acquired records: another gets them when their lock runs out, delivery count 2', { skip, timeout: 120_000 }, (t) =>
  withHolder('crash', 20, 5, async (consumers, holder, values) => {
    const held = holder.deliveries();
    await holder.kill();
    const killedAt = Date.now();

    const rescuer = consumers.start('rescuer');
    await consumers.until(`all ${values.length} records accepted`, () => valuesOf(consumers.taken('accept')).size >= values.length);
    for (const h of held) {
      const again = rescuer.deliveries().filter((d) => recordKey(d) === recordKey(h));
      assert.deepEqual(
        again.map((d) => d.deliveryCount),
        [2],
        `${recordKey(h)}, held by the killed consumer, delivered to the other once, as its second delivery`,
      );
      t.diagnostic(`${recordKey(h)}: delivered again ${again[0].at - h.at} ms after the holder got it (${again[0].at - killedAt} ms after the kill; lock ${LOCK_MS} ms)`);
    }
    assert.deepEqual(holder.acknowledgements(), [], 'the holder acknowledged nothing');
  }),
);

test('records a live consumer stops acknowledging stay locked until their lock runs out', { skip, timeout: 120_000 }, () =>
  withHolder('stalled', 10, 3, async (consumers, holder, values) => {
    // Its locks began after it subscribed: none may run out sooner than LOCK_MS after that.
    const earliestAcquisition = holder.events.find((e) => e.event === 'ready')!.at;
    const other = consumers.start('other');
    await consumers.until(`all ${values.length} records accepted by the other`, () => valuesOf(other.acknowledgements().filter((a) => a.error === null)).size >= values.length);
    for (const h of holder.deliveries()) {
      const again = other.deliveries().find((d) => recordKey(d) === recordKey(h));
      assert.ok(again, `${recordKey(h)} delivered to the other consumer`);
      assert.equal(again.deliveryCount, 2, `${recordKey(h)}'s delivery count on its second delivery`);
      assert.ok(again.at - earliestAcquisition >= LOCK_MS, `${recordKey(h)} delivered again ${again.at - earliestAcquisition} ms after the holder subscribed, before its ${LOCK_MS} ms lock could run out`);
    }
  }),
);

/** Features the broker may not serve yet, found by their group config names. */
interface Extensions {
  retryLadder: boolean;
  deadLetterTopic: boolean;
}

async function extensions(group: string): Promise<Extensions> {
  // A config the broker does not know is left out of DescribeConfigs' answer.
  const described = async (name: string) => (await groupConfig(client, [group], name)).get(group) !== null;
  return { retryLadder: await described('sluice.share.retry.backoff.ms'), deadLetterTopic: await described('errors.deadletterqueue.topic.name') };
}

/**
 * Each redelivery of a released record no sooner than the ladder's step for the delivery count
 * it was released at (the last step repeating). Measured from the delivery before, which is
 * before the release reached the broker; lateness is reported, not bounded.
 */
function assertLadderKept(t: TestContext, deliveries: Delivery[]): void {
  for (let i = 1; i < deliveries.length; i++) {
    const step = RETRY_LADDER_MS[Math.min(i - 1, RETRY_LADDER_MS.length - 1)];
    const gap = deliveries[i].at - deliveries[i - 1].at;
    t.diagnostic(`delivery ${i + 1}: ${gap.toFixed(0)} ms after delivery ${i} (backoff ${step} ms, ${(gap - step).toFixed(0)} ms later than that)`);
    assert.ok(gap >= step, `delivery ${i + 1} came ${gap.toFixed(0)} ms after delivery ${i}, before its ${step} ms backoff`);
  }
}

interface DeadLetter {
  value: string | null;
  headers: Record<string, string>;
}

/** Everything on a topic from its start, read by kafkajs until nothing new came for `quietMs`. */
async function readTopic(topic: string, atLeast: number, quietMs: number): Promise<DeadLetter[]> {
  const consumer = new Kafka({ clientId: 'dlq-reader', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: `reader-${topic}`, maxWaitTimeInMs: 200 });
  const read: DeadLetter[] = [];
  let lastAt = Date.now();
  const text = (h: IHeaders[string]): string => (Array.isArray(h) ? h.map(String).join(',') : String(h));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        read.push({ value: message.value?.toString() ?? null, headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, text(v)])) });
        lastAt = Date.now();
      },
    });
    await eventually(`${atLeast} records on ${topic}`, () => read.length >= atLeast, 30_000, () => JSON.stringify(read));
    await eventually(`no more records on ${topic}`, () => Date.now() - lastAt >= quietMs, quietMs + 30_000);
  } finally {
    await consumer.disconnect();
  }
  return read;
}

/** A header whose name mentions `what` (topic, partition, ...), case aside. */
function headerNaming(headers: Record<string, string>, what: string): string | undefined {
  return Object.entries(headers).find(([name]) => name.toLowerCase().includes(what))?.[1];
}

/** The record of `delivered`, its last delivery, is on the dead-letter topic `dlq`, once, with headers naming where it came from. */
async function assertDeadLettered(t: TestContext, dlq: string, group: string, delivered: Delivery, consumers: ShareConsumers): Promise<void> {
  const written = async () => (await admin.fetchTopicOffsets(dlq)).reduce((n, p) => n + Number(p.high), 0);
  await eventually(`a dead letter written to ${dlq}`, async () => (await written()) > 0, 30_000).catch(async (e: Error) => {
    throw new Error(`${e.message}: ${dlq} holds ${await written()} records; the record: ${consumers.history(recordKey(delivered))}`);
  });
  const letters = await readTopic(dlq, 1, LOCK_MS);
  assert.equal(letters.length, 1, `one dead letter on ${dlq}: ${JSON.stringify(letters)}`);
  const [letter] = letters;
  t.diagnostic(`dead letter headers: ${JSON.stringify(letter.headers)}`);
  assert.equal(letter.value, delivered.value, 'the dead letter carries the record');
  assert.equal(headerNaming(letter.headers, 'topic'), delivered.topic, `a header names the source topic: ${JSON.stringify(letter.headers)}`);
  assert.equal(headerNaming(letter.headers, 'partition'), String(delivered.partition), 'a header names the source partition');
  assert.equal(headerNaming(letter.headers, 'offset'), String(delivered.offset), 'a header names the source offset');
  assert.equal(headerNaming(letter.headers, 'group'), group, 'a header names the share group');
  assert.equal(headerNaming(letter.headers, 'count'), String(delivered.deliveryCount), 'a header gives its delivery count');
}

test('RELEASE of a poison record: redelivered with its count growing, archived at the delivery count limit, the group moving on', { skip, timeout: 180_000 }, async (t) => {
  const topic = 'share-poison';
  const group = 'sg-poison';
  const dlq = 'share-poison-dlq';
  await createTopic(topic, 1);
  const served = await extensions(group);
  const configs: Record<string, string> = { 'share.delivery.count.limit': String(DELIVERY_LIMIT) };
  if (served.retryLadder) configs['sluice.share.retry.backoff.ms'] = RETRY_LADDER_MS.join(',');
  if (served.deadLetterTopic) {
    await createTopic(dlq, 1);
    configs['errors.deadletterqueue.topic.name'] = dlq;
  }
  t.diagnostic(`retry ladder ${served.retryLadder ? 'checked' : 'not served: not checked'}; dead-letter topic ${served.deadLetterTopic ? 'checked' : 'not served: not checked'}`);
  await shareGroup(group, configs);

  const before = numbered('before-', 5);
  const afterwards = numbered('after-', 5);
  await produce(topic, [...before, 'poison', ...afterwards]);
  const consumers = consumersOf(group, topic);
  try {
    consumers.start('c1', { release: ['poison'] });
    await consumers.until(`poison released ${DELIVERY_LIMIT} times`, () => consumers.taken('release').length >= DELIVERY_LIMIT);
    await consumers.until('the other records accepted', () => valuesOf(consumers.taken('accept')).size >= before.length + afterwards.length);

    // Time enough for one more delivery, had the record not been archived: its backoff and a lock.
    await new Promise((r) => setTimeout(r, (served.retryLadder ? Math.max(...RETRY_LADDER_MS) : 0) + LOCK_MS + 1000));
    const later = numbered('later-', 5);
    await produce(topic, later);
    await consumers.until('records produced after the poison was archived accepted', () => later.every((v) => valuesOf(consumers.taken('accept')).has(v)));

    const poison = deliveriesOf(consumers, 'poison');
    assert.deepEqual(
      poison.map((d) => d.deliveryCount),
      Array.from({ length: DELIVERY_LIMIT }, (_, i) => i + 1),
      `the poison record delivered ${DELIVERY_LIMIT} times (share.delivery.count.limit), counting up, then no more`,
    );
    assert.ok(!valuesOf(consumers.taken('accept')).has('poison'), 'the poison record was never accepted');
    assertSoundDeliveries(consumers);
    await assertAllSettled(group, topic);
    if (served.retryLadder) assertLadderKept(t, poison);

    if (served.deadLetterTopic) await assertDeadLettered(t, dlq, group, poison[poison.length - 1], consumers);
  } finally {
    await consumers.stopAll();
  }
});

test('REJECT: the record is archived at once, never delivered again', { skip, timeout: 120_000 }, async (t) => {
  const topic = 'share-reject';
  const group = 'sg-reject';
  const dlq = 'share-reject-dlq';
  await createTopic(topic, 1);
  const { deadLetterTopic } = await extensions(group);
  t.diagnostic(`dead-letter topic ${deadLetterTopic ? 'checked' : 'not served: not checked'}`);
  if (deadLetterTopic) await createTopic(dlq, 1);
  await shareGroup(group, deadLetterTopic ? { 'errors.deadletterqueue.topic.name': dlq } : {});
  const good = [...numbered('good-', 5), ...numbered('more-', 5)];
  await produce(topic, [...good.slice(0, 5), 'bad', ...good.slice(5)]);
  const consumers = consumersOf(group, topic);
  try {
    consumers.start('c1', { reject: ['bad'] });
    await consumers.until('the bad record rejected and the others accepted', () => valuesOf(consumers.taken('reject')).size === 1 && valuesOf(consumers.taken('accept')).size >= good.length);
    // Long enough for a lock to run out and a second consumer to ask: a rejected record must stay archived.
    consumers.start('c2');
    await new Promise((r) => setTimeout(r, LOCK_MS + 1000));
    await produce(topic, ['late']);
    await consumers.until('a record produced afterwards accepted', () => valuesOf(consumers.taken('accept')).has('late'));

    const bad = deliveriesOf(consumers, 'bad');
    assert.deepEqual(
      bad.map((d) => `${d.consumer}:${d.deliveryCount}`),
      ['c1:1'],
      'the rejected record delivered once',
    );
    assertSoundDeliveries(consumers);
    await assertAllSettled(group, topic);
    if (deadLetterTopic) await assertDeadLettered(t, dlq, group, bad[0], consumers);
  } finally {
    await consumers.stopAll();
  }
});
