import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Producer } from 'kafkajs';
import { browserSkip, openBrowser } from './browser.js';
import { eventually, http, startConsoleBroker, type ConsoleBroker } from './console-fixtures.js';

describe('the console shows transactions: coordinated here, and open in partitions led here', { timeout: 120_000 }, () => {
  let b: ConsoleBroker;
  let open: Producer;
  const api = <T = any>(method: string, path: string) => http<T>(b.base, method, path);

  before(async () => {
    b = await startConsoleBroker();
    const admin = b.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'payments', numPartitions: 2 }] });
    await admin.disconnect();
    const done = b.kafka.producer({ transactionalId: 'settled', idempotent: true, maxInFlightRequests: 1 });
    await done.connect();
    const t = await done.transaction();
    await t.send({ topic: 'payments', messages: [{ key: 'k', value: 'committed' }] });
    await t.commit();
    await done.disconnect();
    open = b.kafka.producer({ transactionalId: 'in-flight', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 600_000 });
    await open.connect();
    const o = await open.transaction();
    await o.send({ topic: 'payments', messages: [{ value: 'a', partition: 1 }] });
  });

  after(async () => {
    await open?.disconnect();
    await b?.stop();
  });

  test('GET /api/transactions lists both ids with states and partitions, and the open one in its partition', async () => {
    const { status, body } = await api('GET', '/api/transactions');
    assert.equal(status, 200);
    const byId = new Map(body.coordinated.map((t: any) => [t.transactionalId, t]));
    assert.equal((byId.get('settled') as any)?.state, 'CompleteCommit');
    const inFlight = byId.get('in-flight') as any;
    assert.equal(inFlight?.state, 'Ongoing');
    assert.deepEqual(inFlight.partitions, [{ topic: 'payments', partitions: [1] }]);
    assert.equal(inFlight.timeoutMs, 600_000);
    assert.ok(inFlight.startTimestamp > 0);
    assert.equal(body.open.length, 1, JSON.stringify(body.open));
    const [o] = body.open;
    assert.deepEqual([o.topic, o.partition, o.producerId, o.firstOffset, o.lastStableOffset, o.highWatermark], ['payments', 1, inFlight.producerId, 0, 0, 1]);
  });

  test('/metrics counts the ids by state and the records the open transaction holds back', async () => {
    const { status, text } = await http(b.base, 'GET', '/metrics');
    assert.equal(status, 200);
    assert.match(text, /^sluice_transactions\{state="Ongoing"\} 1$/m);
    assert.match(text, /^sluice_transactions\{state="CompleteCommit"\} 1$/m);
    assert.match(text, /^sluice_partition_unstable_offsets\{topic="payments",partition="1"\} 1$/m);
    assert.match(text, /^sluice_partition_unstable_offsets\{topic="payments",partition="0"\} 0$/m);
  });

  test('the Transactions page shows both tables', { skip: browserSkip }, async () => {
    const { page, problems, shot, close } = await openBrowser();
    try {
      await page.goto(`${b.base}/#/`);
      await page.getByRole('link', { name: 'Transactions' }).click();
      const coordinated = page.getByRole('table', { name: 'Transactions coordinated by this broker' }).locator('tbody tr');
      await coordinated.first().waitFor();
      assert.equal(await coordinated.count(), 2);
      assert.match(await coordinated.nth(0).innerText(), /^in-flight\s+Ongoing/);
      assert.match(await coordinated.nth(1).innerText(), /^settled\s+CompleteCommit/);
      const openRows = page.getByRole('table', { name: 'Transactions open in partitions this broker leads' }).locator('tbody tr');
      await eventually('the open transaction row', async () => ((await openRows.count()) === 1 ? true : undefined));
      assert.match(await openRows.nth(0).innerText(), /^payments-1\s/);
      await shot('transactions');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
