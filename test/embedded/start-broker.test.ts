import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from 'sluice';

/** Resources that keep the process alive (sockets, servers, timers), by kind. */
function liveResources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').sort();
}

test('twenty embedded brokers in a row: each serves kafkajs, and nothing is left behind', async () => {
  const before = liveResources();
  for (let i = 0; i < 20; i++) {
    const broker = await startBroker();
    const kafka = new Kafka({ clientId: `embedded-${i}`, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const [result] = await producer.send({ topic: 'embedded', messages: [{ key: 'k', value: `run ${i}` }] });
    assert.equal(result.baseOffset, '0', 'every broker starts empty');
    await producer.disconnect();
    await broker.stop();
    assert.ok(!existsSync(broker.dataDir), `${broker.dataDir} was removed`);
  }
  // Closed sockets may need a turn of the loop to be released.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(liveResources(), before);
});

test('settings pass through by their Kafka names, and a bad one is a clear error', async () => {
  const broker = await startBroker({ config: { 'num.partitions': '3' } });
  try {
    const kafka = new Kafka({ clientId: 'embedded-config', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'three' }] });
    const meta = await admin.fetchTopicMetadata({ topics: ['three'] });
    assert.equal(meta.topics[0].partitions.length, 3);
    await admin.disconnect();
  } finally {
    await broker.stop();
  }
  await assert.rejects(startBroker({ config: { 'num.partitionz': '3' } }), /num\.partitionz.*did you mean num\.partitions/s);
});
