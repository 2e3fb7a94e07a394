import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DLQ_HEADERS } from '../../src/broker/dead-letter-headers.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { deadLettered } from '../support/dead-letters.js';
import { storedBatches } from '../support/stored-batches.js';
import { onThisNode, startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { expectExit, sluice } from './sluice-cli.js';

describe('sluice dlq: dead-letter topics of share groups, and replaying what they hold', { timeout: 120_000 }, () => {
  let b: InProcessBroker;
  let client: KafkaClient;
  const run = (...args: string[]) => sluice([...args, '--brokers', b.bootstrap]);
  const recordsOf = (topic: string) => storedBatches(b.broker.partitions.get(topic, 0)!).flatMap((batch) => batch.records);

  before(async () => {
    b = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0' });
    client = new KafkaClient({ brokers: [b.bootstrap], clientId: 'dlq-cli-test', retries: 10 });
    await deadLettered(b, client, {
      group: 'workers',
      topic: 'jobs',
      dlq: 'dlq.jobs',
      records: [{ key: 'k0', value: 'poison', headers: { trace: 't0' } }, { value: 'fine' }, { key: 'k2', value: 'bad' }],
      reject: [0, 2],
    });
    await b.broker.partitions.createTopic('jobs.retry', onThisNode(1), {});
  });

  after(async () => {
    await client?.close();
    await b?.stop();
  });

  test('list names each share group with a dead-letter topic, and the records it holds', async () => {
    const r = await run('dlq', 'list');
    expectExit(r, 0, 'dlq list');
    assert.match(r.stdout, /^GROUP\s+TOPIC\s+RECORDS\nworkers\s+dlq\.jobs\s+2\n$/);
  });

  test('replay is a dry run by default: it shows where each would go, and produces nothing', async () => {
    const r = await run('dlq', 'replay', 'dlq.jobs');
    expectExit(r, 0, 'dlq replay');
    const rows = r.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
    assert.deepEqual(rows, [
      ['0', '0', 'jobs', 'jobs-0@0', 'rejected', '1'],
      ['0', '1', 'jobs', 'jobs-0@2', 'rejected', '1'],
    ]);
    assert.match(r.stderr, /dry run: nothing was produced; add --execute to replay 2 dead letters/);
    assert.equal(recordsOf('jobs').length, 3);
  });

  test('--execute with --group moves them back once: key, value and own headers kept, __dlq.errors.* dropped', async () => {
    const first = await run('dlq', 'replay', 'dlq.jobs', '--group', 'replayer', '--max', '1', '--execute');
    expectExit(first, 0, 'first replay');
    assert.match(first.stderr, /replayed 1 dead letter from dlq\.jobs/);
    const second = await run('dlq', 'replay', 'dlq.jobs', '--group', 'replayer', '--execute');
    expectExit(second, 0, 'second replay');
    assert.match(second.stderr, /replayed 1 dead letter from/);
    const third = await run('dlq', 'replay', 'dlq.jobs', '--group', 'replayer');
    assert.match(third.stderr, /replay 0 dead letters/, 'the group is past both');

    const back = recordsOf('jobs').slice(3);
    assert.deepEqual(
      back.map((r) => [r.key?.toString() ?? null, r.value?.toString(), r.headers.map((h) => `${h.key}=${h.value?.toString()}`)]),
      [
        ['k0', 'poison', ['trace=t0']],
        ['k2', 'bad', []],
      ],
    );
    assert.equal(recordsOf('dlq.jobs').length, 2, 'the dead letters stay where they are');
  });

  test('--topic sends them to another topic; it and --to-original exclude each other', async () => {
    const r = await run('dlq', 'replay', 'dlq.jobs', '--topic', 'jobs.retry', '--execute');
    expectExit(r, 0, 'replay to jobs.retry');
    assert.deepEqual(recordsOf('jobs.retry').map((x) => [x.value?.toString(), x.headers.some((h) => h.key === DLQ_HEADERS.topic)]), [
      ['poison', false],
      ['bad', false],
    ]);
    const both = await run('dlq', 'replay', 'dlq.jobs', '--topic', 'jobs.retry', '--to-original');
    expectExit(both, 2, 'both destinations');
    assert.match(both.stderr, /cannot be used with option '--topic/);
  });

  test('a dead-letter topic that does not exist is an error', async () => {
    const r = await run('dlq', 'replay', 'dlq.nothing');
    expectExit(r, 1, 'missing topic');
    assert.match(r.stderr, /dlq\.nothing/);
  });
});
