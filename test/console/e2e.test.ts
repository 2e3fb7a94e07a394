import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserSkip, openBrowser } from './browser.js';
import { laggingMember, startConsoleBroker } from './console-fixtures.js';

test('the console in a browser: create a topic, produce, browse, see a group’s lag and the cluster', { skip: browserSkip, timeout: 120_000 }, async () => {
  const b = await startConsoleBroker();
  const browser = await openBrowser().catch(async (e: unknown) => {
    await b.stop();
    throw e;
  });
  const { page, problems, shot } = browser;
  try {
    // Keyboard first: the skip link is the first stop and lands in the page.
    await page.goto(`${b.base}/#/topics`);
    await page.getByRole('heading', { name: 'Topics' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'view');

    // Create a topic from the form, submitted with Enter.
    await page.getByLabel('Name', { exact: true }).fill('e2e-orders');
    await page.getByLabel('Partitions', { exact: true }).fill('2');
    await page.getByLabel('Configs', { exact: true }).fill('retention.ms=172800000');
    await shot('topics');
    await page.getByLabel('Partitions', { exact: true }).press('Enter');
    await page.waitForURL(/#\/topics\/e2e-orders$/);
    await page.getByRole('heading', { name: 'Topic e2e-orders' }).waitFor();
    assert.equal(b.broker.metadata.topic('e2e-orders')?.partitions?.length, 2, 'the broker created it');
    const partitionRows = page.getByRole('table', { name: 'Partitions of e2e-orders' }).locator('tbody tr');
    assert.equal(await partitionRows.count(), 2);
    const retention = page.getByRole('row', { name: /^retention\.ms / });
    assert.match(await retention.innerText(), /^retention\.ms\s+172800000\s+topic override$/);

    // Produce a test message from the page.
    await page.getByLabel('Partition', { exact: true }).selectOption('1');
    await page.getByLabel('Key', { exact: true }).fill('order-1');
    await page.getByLabel('Value', { exact: true }).fill('{"id":1,"items":["tea","<b>scones</b>"]}');
    await page.getByLabel('Headers', { exact: true }).fill('source=e2e');
    await page.getByRole('button', { name: 'Produce' }).click();
    await page.getByText('Produced to partition 1 at offset 0.').waitFor();
    assert.match(await partitionRows.nth(1).innerText(), /^1\s+leader\s+0\s+1\s+1\s+1\b/, 'partition 1 now ends at 1');
    const replicaRows = page.getByRole('table', { name: 'Replicas of e2e-orders' }).locator('tbody tr');
    assert.match(await replicaRows.nth(1).innerText(), /^1\s+1\s+0\s+1\s+1\s+—\s+in sync$/, 'partition 1: led by broker 1 in epoch 0, its only replica, in sync');
    await shot('topic');

    // Browse it: text, then pretty JSON, then hex.
    await page.getByRole('link', { name: 'View it in the message browser' }).click();
    const record = page.getByRole('article', { name: 'Record at offset 0' });
    await record.waitFor();
    assert.equal(await record.locator('.record-key').innerText(), 'order-1');
    assert.match(await record.locator('.record-headers').innerText(), /source\s+e2e/);
    assert.equal(await record.locator('.record-value b').count(), 0, 'record contents are text, never markup');
    await page.getByText('JSON', { exact: true }).click();
    await record.locator('pre.json').waitFor();
    assert.equal(await record.locator('.record-value').innerText(), JSON.stringify({ id: 1, items: ['tea', '<b>scones</b>'] }, null, 2));
    await shot('messages-json');
    await page.getByText('Hex', { exact: true }).click();
    await page.waitForFunction(() => document.querySelector('.record-value pre')?.textContent?.startsWith('000000  7b 22 69 64'));
    assert.match(page.url(), /view=hex/, 'the address follows the choice');

    // A kafkajs group that committed offset 2 of 6 lags by 4.
    const producer = b.kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'e2e-orders', messages: Array.from({ length: 6 }, (_, i) => ({ partition: 0, value: `order ${i}` })) });
    await producer.disconnect();
    const member = await laggingMember(b.kafka, 'e2e-billing', 'e2e-orders', 2);
    try {
      await page.getByRole('link', { name: 'Consumer groups' }).click();
      await page.getByRole('link', { name: 'e2e-billing' }).click();
      await page.getByRole('heading', { name: 'Group e2e-billing' }).waitFor();
      const lagRow = page.getByRole('table', { name: 'Lag by partition' }).locator('tbody tr').first();
      await lagRow.waitFor();
      assert.match(await lagRow.innerText(), /^e2e-orders\s+0\s+2\s+6\s+4\s+console-test/);
      assert.equal(await page.getByRole('img', { name: 'Lag per partition of group e2e-billing' }).locator('text', { hasText: /^4$/ }).count(), 1, 'the bar chart shows it');
      assert.match(await page.getByRole('table', { name: 'Members' }).innerText(), /console-test[\s\S]*e2e-orders: 0, 1/);
      await shot('group');
    } finally {
      await member.disconnect();
    }

    // The overview draws its charts from the samples.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // A legend value once the first samples are in: "Out: 1.2 KiB/s".
    await page.waitForFunction(() => /Out: \d/.test(document.querySelector('.legend')?.textContent ?? ''));
    const facts = await page.locator('#view').innerText();
    assert.match(facts, /Topics\s+1\s*\+1 internal/i);
    assert.match(facts, /Messages in \(total\)\s+7\b/i, 'one from the page, six from kafkajs');
    assert.match(facts, /Brokers\s+1\s*embedded\s+Controller\s+this broker/i);
    assert.match(facts, /Offline partitions\s+0\s+Under-replicated\s+0/i);
    await page.waitForTimeout(2500);
    await shot('overview');

    // The cluster of one: this broker, its own controller, leading all it holds.
    await page.getByRole('link', { name: 'Cluster' }).click();
    await page.getByRole('heading', { name: 'Cluster', exact: true }).waitFor();
    const brokers = page.getByRole('table', { name: 'Brokers' }).locator('tbody tr');
    // The heading comes first, the tables with the first answer.
    await brokers.first().waitFor();
    assert.equal(await brokers.count(), 1);
    assert.match(await brokers.first().innerText(), new RegExp(`^1\\s+controller\\s+this broker\\s+${b.bootstrap.replaceAll('.', '\\.')}\\s+—\\s+(\\d+)\\s+\\1$`));
    assert.match(await page.locator('#view').innerText(), /None: every partition has a leader and all its replicas in sync\./);
    await shot('cluster');

    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await b.stop();
  }
});
