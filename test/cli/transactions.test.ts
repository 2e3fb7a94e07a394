import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { expectExit, sluice, until } from './sluice-cli.js';

/** Reads a partition read_committed from the start and returns the values it gets within `ms`. */
async function readCommitted(kafka: Kafka, topic: string, ms: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `reader-${Math.random()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  const values: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void values.push(String(message.value)) });
  await new Promise((resolve) => setTimeout(resolve, ms));
  await consumer.disconnect();
  return values;
}

describe('sluice transactions against a broker with a hanging transaction', { timeout: 120_000 }, () => {
  let b: InProcessBroker;
  let kafka: Kafka;
  let hanging: Producer;
  const run = (...args: string[]) => sluice([...args, '--brokers', b.bootstrap]);

  before(async () => {
    b = await startTestBroker({ 'transaction.state.log.num.partitions': '3', 'offsets.topic.num.partitions': '3' });
    kafka = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }] });
    await admin.disconnect();
    const done = kafka.producer({ transactionalId: 'done-tx', idempotent: true, maxInFlightRequests: 1 });
    await done.connect();
    const t = await done.transaction();
    await t.send({ topic: 'orders', messages: [{ value: 'committed' }] });
    await t.commit();
    await done.disconnect();
    // A producer that opens a transaction and never ends it (its timeout is ten minutes).
    hanging = kafka.producer({ transactionalId: 'stuck-tx', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 600_000 });
    await hanging.connect();
    const open = await hanging.transaction();
    await open.send({ topic: 'orders', messages: [{ value: 'never-ended' }] });
  });

  after(async () => {
    await hanging?.disconnect();
    await b?.stop();
  });

  test('list shows both ids with their states, and filters by state', async () => {
    const all = await run('transactions', 'list');
    expectExit(all, 0, 'transactions list');
    assert.match(all.stdout, /^done-tx\s+\d+\s+CompleteCommit\s+1$/m);
    assert.match(all.stdout, /^stuck-tx\s+\d+\s+Ongoing\s+1$/m);
    const ongoing = await run('transactions', 'list', '--state', 'Ongoing');
    expectExit(ongoing, 0, 'transactions list --state Ongoing');
    assert.doesNotMatch(ongoing.stdout, /done-tx/);
    assert.match(ongoing.stdout, /stuck-tx/);
    const bogus = await run('transactions', 'list', '--state', 'Sleeping');
    expectExit(bogus, 1, 'an unknown state');
    assert.match(bogus.stderr, /unknown transaction state Sleeping/);
  });

  test('describe names the open transaction and its partition; an unknown id fails', async () => {
    const r = await run('transactions', 'describe', 'stuck-tx');
    expectExit(r, 0, 'transactions describe');
    assert.match(r.stdout, /state:\s+Ongoing/);
    assert.match(r.stdout, /timeout ms:\s+600000/);
    assert.match(r.stdout, /^orders\s+0$/m);
    const unknown = await run('transactions', 'describe', 'nobody');
    expectExit(unknown, 1, 'an unknown transactional id');
  });

  test('abort ends the hanging transaction: read_committed consumers get past it', async () => {
    assert.deepEqual(await readCommitted(kafka, 'orders', 1500), ['committed'], 'the open transaction holds the last stable offset');
    const r = await run('transactions', 'abort', '--topic', 'orders', '--partition', '0');
    expectExit(r, 0, 'transactions abort');
    assert.match(r.stdout, /aborted the transaction of producer \d+ \(epoch \d+\) in orders-0, open since offset 2/);
    const again = await run('transactions', 'abort', '--topic', 'orders', '--partition', '0');
    expectExit(again, 1, 'nothing left to abort');
    assert.match(again.stderr, /no transaction is open in orders-0/);
    // A record after the aborted transaction is readable: the stable offset moved past it.
    const later = kafka.producer();
    await later.connect();
    await later.send({ topic: 'orders', messages: [{ value: 'after' }] });
    await later.disconnect();
    let values: string[] = [];
    await until('read_committed reaches the later record', async () => (values = await readCommitted(kafka, 'orders', 1000)).includes('after'));
    assert.deepEqual(values, ['committed', 'after']);
  });
});
