import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { DELAY_HEADER } from '../../src/delay/delay-headers.js';
import { deadLettered } from '../support/dead-letters.js';
import { acquired, type ShareMember } from '../support/share-requests.js';
import { browserSkip, openBrowser } from './browser.js';
import { http, startConsoleBroker, type ConsoleBroker } from './console-fixtures.js';

const DUE_IN_MS = 10 * 60_000;

describe('the console shows queues: share groups with their states and dead letters, and delayed records', { timeout: 120_000 }, () => {
  let b: ConsoleBroker;
  let client: KafkaClient;
  let member: ShareMember;
  let producedAt: number;

  before(async () => {
    b = await startConsoleBroker();
    client = new KafkaClient({ brokers: [b.bootstrap], clientId: 'queues-test', retries: 10 });
    // Four records: the first rejected, the second accepted; then two more, left acquired.
    member = await deadLettered(b, client, { group: 'workers', topic: 'jobs', dlq: 'dlq.jobs', records: [{ value: 'poison' }, { value: 'fine' }], reject: [0] });
    const producer = b.kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'jobs', acks: -1, messages: [{ value: 'a' }, { value: 'b' }] });
    producedAt = Date.now();
    await producer.send({ topic: 'jobs', acks: -1, messages: [{ value: 'later', headers: { [DELAY_HEADER]: String(DUE_IN_MS) } }] });
    await producer.disconnect();
    assert.deepEqual(acquired(await member.fetch()).ranges, [[2, 3, 1]]);
  });

  after(async () => {
    await client?.close();
    await b?.stop();
  });

  test('GET /api/queues: the share-partition by state, lag, the dead-letter topic and its size, and the held record', async () => {
    const { status, body } = await http(b.base, 'GET', '/api/queues');
    assert.equal(status, 200);
    assert.deepEqual(body.shareGroups, [
      {
        groupId: 'workers',
        members: 1,
        deadLetters: { topic: 'dlq.jobs', records: 1 },
        partitions: [{ topic: 'jobs', partition: 0, startOffset: 2, available: 0, acquired: 2, acknowledged: 0, archived: 0, highWatermark: 4, lag: 2 }],
      },
    ]);
    assert.equal(body.delayed.pending, 1);
    assert.equal(body.delayed.byMinute.length, 1);
    const due = producedAt + DUE_IN_MS;
    assert.ok(Math.abs(body.delayed.byMinute[0].dueMinute - due) < 2 * 60_000, JSON.stringify(body.delayed));
    assert.equal(body.delayed.byMinute[0].records, 1);
  });

  test('the Queues page shows the share-partition row, the dead-letter topic and the pending record', { skip: browserSkip }, async () => {
    const { page, problems, shot, close } = await openBrowser();
    try {
      await page.goto(`${b.base}/#/`);
      await page.getByRole('link', { name: 'Queues' }).click();
      const rows = page.getByRole('table', { name: 'Share-partitions of workers' }).locator('tbody tr');
      await rows.first().waitFor();
      assert.match(await rows.nth(0).innerText(), /^jobs-0\s+2\s+0\s+2\s+0\s+0\s+2\s+4$/);
      assert.match(await page.locator('main').innerText(), /dlq\.jobs · 1 record(?!s)/);
      const held = page.getByRole('table', { name: 'Pending delayed records by due minute' }).locator('tbody tr');
      assert.equal(await held.count(), 1);
      assert.match(await held.nth(0).innerText(), /\s1$/);
      await shot('queues');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
