import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, startTestBroker, type BrokerProcess } from '../support/test-broker.js';
import { kcat, skipUnlessPresent } from '../support/tools.js';
import { createTopic, kafkaClient, percentiles, readWithKcat } from './delay-clients.js';

/** Sends `count` records with random delays up to `maxDelayMs`; returns each id's earliest due time. */
async function sendDelayed(bootstrap: string, topic: string, count: number, maxDelayMs: number): Promise<Map<string, number>> {
  const kafka = kafkaClient(bootstrap);
  const producer = kafka.producer();
  await producer.connect();
  const due = new Map<string, number>();
  try {
    for (let sent = 0; sent < count; ) {
      const sentAt = Date.now();
      const messages = Array.from({ length: Math.min(500, count - sent) }, (_, i) => {
        const id = String(sent + i);
        const delay = 200 + Math.floor(Math.random() * (maxDelayMs - 200));
        due.set(id, sentAt + delay);
        return { key: id, value: `v${id}`, headers: { 'sluice-delay-ms': String(delay) } };
      });
      await producer.send({ topic, acks: -1, messages });
      sent += messages.length;
    }
  } finally {
    await producer.disconnect();
  }
  return due;
}

/** Reads the topic until it holds `count` records (or the deadline), then once more to catch late doubles. */
async function readAll(bootstrap: string, topic: string, count: number): Promise<{ key: string; timestamp: number }[]> {
  const deadline = Date.now() + 60_000;
  let read = await readWithKcat(bootstrap, topic);
  while (read.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    read = await readWithKcat(bootstrap, topic);
  }
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return readWithKcat(bootstrap, topic);
}

/** Each id exactly once, none stamped before its due time. */
function assertExactlyOnceOnTime(read: { key: string; timestamp: number }[], due: Map<string, number>): void {
  const counts = new Map<string, number>();
  for (const r of read) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
  const missing = [...due.keys()].filter((k) => !counts.has(k));
  const doubled = [...counts].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual({ missing: missing.slice(0, 10), doubled: doubled.slice(0, 10) }, { missing: [], doubled: [] }, `${missing.length} missing, ${doubled.length} doubled`);
  assert.equal(read.length, due.size);
  for (const r of read) assert.ok(r.timestamp >= due.get(r.key)!, `record ${r.key} is stamped ${r.timestamp}, before it was due at ${due.get(r.key)}`);
}

describe('delayed records across broker restarts', { skip: skipUnlessPresent(kcat), timeout: 240_000 }, () => {
  let temp: ReturnType<typeof tempDir>;

  before(() => {
    temp = tempDir('delay-restart');
  });

  after(() => temp.cleanup());

  test('a clean restart keeps what is held and delivers it on time, or at once when overdue', async (t) => {
    const dir = join(temp.dir, 'clean');
    let broker = await startTestBroker({}, dir);
    const topic = 'held-over-restart';
    await createTopic(kafkaClient(broker.bootstrap), topic, 2);
    const due = await sendDelayed(broker.bootstrap, topic, 1000, 4000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await broker.stop();
    // Some fall due while it is down.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    broker = await startTestBroker({}, dir);
    try {
      const read = await readAll(broker.bootstrap, topic, due.size);
      assertExactlyOnceOnTime(read, due);
      t.diagnostic(`due time as stamped minus the sender's lower bound for it (ms): ${JSON.stringify(percentiles(read.map((r) => r.timestamp - due.get(r.key)!)))}`);
    } finally {
      await broker.stop();
    }
  });

  test('SIGKILL mid-delivery, three times, then restart: nothing lost or doubled', async (t) => {
    const dir = join(temp.dir, 'killed');
    let broker: BrokerProcess = await startBrokerProcess(dir);
    const topic = 'held-over-kills';
    await createTopic(kafkaClient(broker.bootstrap), topic, 3);
    const due = await sendDelayed(broker.bootstrap, topic, 20_000, 6000);
    for (let kill = 0; kill < 3; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 1200));
      await broker.kill();
      broker = await startBrokerProcess(dir);
    }
    try {
      const read = await readAll(broker.bootstrap, topic, due.size);
      assertExactlyOnceOnTime(read, due);
      t.diagnostic(`${read.length} records, each once; due time as stamped minus the sender's lower bound for it (ms): ${JSON.stringify(percentiles(read.map((r) => r.timestamp - due.get(r.key)!)))}`);
    } finally {
      await broker.stop();
    }
  });
});
