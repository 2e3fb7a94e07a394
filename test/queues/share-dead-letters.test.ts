import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DLQ_HEADERS } from '../../src/broker/share-dead-letters.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { RecordBatch } from '../../src/protocol/records/record-batch.js';
import { ack, acquired, setGroupConfigs, ShareTestBroker } from '../support/share-requests.js';
import { storedBatches } from '../support/stored-batches.js';
import { onThisNode } from '../support/test-broker.js';

/**
 * Dead letters of share groups (errors.deadletterqueue.topic.name): rejected records and those
 * out of deliveries go to the group's dead-letter topic with headers naming where they came
 * from, once, before they are archived, also when the topic comes late or the broker restarts
 * in between.
 */

const ACCEPT = 1;
const RELEASE = 2;
const REJECT = 3;

const dir = mkdtempSync(join(tmpdir(), 'sluice-dlq-'));
// Without auto-creation, a dead-letter topic that does not exist holds its letters back.
const env = new ShareTestBroker(dir, { 'auto.create.topics.enable': 'false' });

before(() => env.start());
after(async () => {
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
});

const createTopic = async (name: string) => (await env.broker.broker.partitions.createTopic(name, onThisNode(1), {})).id;

function lettersIn(topic: string): RecordBatch['records'] {
  const p = env.broker.broker.partitions.get(topic, 0);
  return p ? storedBatches(p).flatMap((b) => b.records) : [];
}

const header = (r: RecordBatch['records'][number], key: string) => r.headers.find((h) => h.key === key)?.value?.toString();

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a rejected record and one out of deliveries are dead-lettered with their origin, and the group moves on', async () => {
  const topicId = await createTopic('jobs');
  await createTopic('dlq.jobs');
  const configured = await setGroupConfigs(env.client, 'workers', { 'errors.deadletterqueue.topic.name': 'dlq.jobs', 'share.delivery.count.limit': '2', 'share.auto.offset.reset': 'earliest' });
  assert.equal(configured.errorCode, ErrorCode.NONE, configured.errorMessage ?? '');
  await env.producer.send({ topic: 'jobs', acks: -1, messages: [{ key: 'k0', value: 'poison', headers: { trace: 't0' } }, { value: 'flaky' }, { value: 'fine' }] });
  const m = env.member('workers', 'm', topicId);
  assert.deepEqual(acquired(await m.fetch()).ranges, [[0, 2, 1]]);
  assert.deepEqual(await m.acknowledge([ack(0, 2, REJECT, RELEASE, ACCEPT)]), [ErrorCode.NONE, ErrorCode.NONE]);
  assert.deepEqual(acquired(await m.fetch()).ranges, [[1, 1, 2]]);
  assert.deepEqual(await m.acknowledge([ack(1, 1, RELEASE)]), [ErrorCode.NONE, ErrorCode.NONE]);

  const letters = lettersIn('dlq.jobs');
  assert.equal(letters.length, 2);
  const [poison, flaky] = letters;
  assert.equal(poison.value?.toString(), 'poison');
  assert.equal(poison.key?.toString(), 'k0');
  assert.equal(header(poison, 'trace'), 't0', 'the record keeps its own headers');
  assert.deepEqual(
    [DLQ_HEADERS.topic, DLQ_HEADERS.partition, DLQ_HEADERS.offset, DLQ_HEADERS.group, DLQ_HEADERS.deliveryCount, DLQ_HEADERS.reason].map((k) => header(poison, k)),
    ['jobs', '0', '0', 'workers', '1', 'rejected'],
  );
  assert.ok(Number(header(poison, DLQ_HEADERS.timestamp)) > 0);
  assert.deepEqual([flaky.value?.toString(), header(flaky, DLQ_HEADERS.offset), header(flaky, DLQ_HEADERS.deliveryCount), header(flaky, DLQ_HEADERS.reason)], ['flaky', '1', '2', 'delivery-limit']);
  assert.equal(env.broker.broker.shareStates.offsets('workers')[0].startOffset, 3, 'all three done');
  assert.deepEqual(acquired(await m.fetch([], { maxWaitMs: 0 })).ranges, [], 'nothing comes back');
});

test('a dead-letter topic that does not exist holds the records back, across a restart, until it does; then each is written once', async () => {
  const topicId = await createTopic('mail');
  await setGroupConfigs(env.client, 'senders', { 'errors.deadletterqueue.topic.name': 'dlq.mail', 'share.auto.offset.reset': 'earliest' });
  await env.producer.send({ topic: 'mail', acks: -1, messages: [{ value: 'bounce' }, { value: 'ok' }] });
  const m = env.member('senders', 'm', topicId);
  assert.deepEqual(acquired(await m.fetch()).ranges, [[0, 1, 1]]);
  assert.deepEqual(await m.acknowledge([ack(0, 1, REJECT, ACCEPT)]), [ErrorCode.NONE, ErrorCode.NONE]);
  assert.equal(env.broker.broker.shareStates.offsets('senders')[0].startOffset, 0, 'the rejected record waits for its dead letter');

  await env.stop();
  await env.start();
  // After the restart the record is still owed a dead letter, and is not delivered again.
  const again = env.member('senders', 'm2', topicId);
  assert.deepEqual(acquired(await again.fetch([], { maxWaitMs: 0 })).ranges, []);
  await createTopic('dlq.mail');
  await until('the held-back dead letter to be written', () => lettersIn('dlq.mail').length > 0);
  await until('the share-partition to move past it', () => env.broker.broker.shareStates.offsets('senders')[0].startOffset === 2);
  assert.deepEqual(
    lettersIn('dlq.mail').map((r) => [r.value?.toString(), header(r, DLQ_HEADERS.reason)]),
    [['bounce', 'rejected']],
  );

  // A restart now finds nothing owed: the letter is not written twice.
  await env.stop();
  await env.start();
  await env.member('senders', 'm3', topicId).fetch([], { maxWaitMs: 0 });
  assert.equal(lettersIn('dlq.mail').length, 1);
});

test('a dead-letter topic that is the source topic is refused: the record is archived without a dead letter', async () => {
  const topicId = await createTopic('loop');
  await setGroupConfigs(env.client, 'loopers', { 'errors.deadletterqueue.topic.name': 'loop', 'share.auto.offset.reset': 'earliest' });
  await env.producer.send({ topic: 'loop', acks: -1, messages: [{ value: 'x' }] });
  const m = env.member('loopers', 'm', topicId);
  assert.deepEqual(acquired(await m.fetch()).ranges, [[0, 0, 1]]);
  assert.deepEqual(await m.acknowledge([ack(0, 0, REJECT)]), [ErrorCode.NONE, ErrorCode.NONE]);
  assert.equal(lettersIn('loop').length, 1, 'nothing appended to the source topic');
  assert.equal(env.broker.broker.shareStates.offsets('loopers')[0].startOffset, 1);
});
