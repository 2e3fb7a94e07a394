import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keyPartition } from '../../src/client/partitioner.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { expectExit, sluice, sluiceBytes, startSluice, until } from './sluice-cli.js';

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  valueEncoding?: string;
  headers: { key: string; value: string | null }[];
}

function jsonLines(stdout: string): JsonRecord[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as JsonRecord);
}

/** Line i: distinct, of varying length, some empty-valued, some with multi-byte UTF-8. */
function line(i: number): string {
  return i % 1000 === 999 ? '' : `${i} ${'déjà vu ✓ '.repeat(i % 13)}`;
}

describe('sluice produce, consume and group against a broker process', { timeout: 180_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let broker: BrokerProcess;
  const run = (args: string[], input?: string) => sluice([...args, '--brokers', broker.bootstrap], { input });
  const created = async (topic: string, partitions: number): Promise<void> => expectExit(await run(['topic', 'create', topic, '--partitions', String(partitions)]), 0, `create ${topic}`);

  before(async () => {
    temp = tempDir('cli-data');
    broker = await startBrokerProcess(join(temp.dir, 'data'), { 'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0', 'offsets.topic.num.partitions': '1' });
  });

  after(async () => {
    try {
      if (broker) assert.equal(await broker.stop(), 0);
    } finally {
      temp.cleanup();
    }
  });

  test('10,000 lines produced from stdin come back identically, raw and as JSON', async () => {
    await created('lines', 3);
    const lines = Array.from({ length: 10_000 }, (_, i) => line(i));
    const produced = await run(['produce', 'lines'], lines.join('\n') + '\n');
    expectExit(produced, 0, 'produce');
    assert.equal(produced.stdout, '');
    assert.match(produced.stderr, /^produced 10000 messages \([\d.]+ KiB\) to lines in [\d.]+ s \(\d+ msg\/s\)\n$/);

    const [raw, json] = await Promise.all([run(['consume', 'lines', '--from-beginning', '--format', 'raw']), run(['consume', 'lines', '--from-beginning', '--format', 'json'])]);
    expectExit(raw, 0, 'consume raw');
    expectExit(json, 0, 'consume json');
    const rawLines = raw.stdout.split('\n');
    assert.equal(rawLines.pop(), '', 'every message ends with a newline');
    assert.deepEqual([...rawLines].sort(), [...lines].sort());

    const records = jsonLines(json.stdout);
    assert.deepEqual(records.map((r) => r.value).sort(), [...lines].sort());
    const indexOf = new Map(lines.map((l, i) => [l, i]));
    for (let p = 0; p < 3; p++) {
      const inPartition = records.filter((r) => r.partition === p);
      assert.ok(inPartition.length > 0 && inPartition.length < 10_000, `partition ${p} has ${inPartition.length} of the unkeyed messages`);
      assert.deepEqual(inPartition.map((r) => r.offset), inPartition.map((_, i) => i), `partition ${p}: offsets 0.. in order`);
      const order = inPartition.filter((r) => r.value !== '').map((r) => indexOf.get(r.value!)!);
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `partition ${p} keeps the input order`);
    }
    assert.ok(records.every((r) => r.topic === 'lines' && r.key === null && r.headers.length === 0 && Math.abs(r.timestamp - Date.now()) < 600_000));
  });

  test('keys and headers round trip, and keyed messages go to the partition of their key', async () => {
    await created('keyed', 3);
    const input = Array.from({ length: 300 }, (_, i) => `user-${i % 7}|event ${i}`).join('\n');
    expectExit(await run(['produce', 'keyed', '--key-separator', '|', '--header', 'source=cli', '--header', 'trace=a=b'], input), 0, 'produce keyed');
    expectExit(await run(['produce', 'keyed', '--key', 'fixed', '--acks', '1'], 'one\ntwo|x\n'), 0, 'produce with a fixed key');

    const json = await run(['consume', 'keyed', '--from-beginning', '--format', 'json']);
    const records = jsonLines(json.stdout);
    assert.equal(records.length, 302);
    for (const r of records.filter((x) => x.key !== 'fixed')) {
      assert.match(r.value!, /^event \d+$/);
      assert.equal(r.key, `user-${Number(r.value!.slice(6)) % 7}`);
      assert.deepEqual(r.headers, [{ key: 'source', value: 'cli' }, { key: 'trace', value: 'a=b' }]);
    }
    for (const r of records) assert.equal(r.partition, keyPartition(Buffer.from(r.key!), 3), `key ${r.key}`);
    assert.deepEqual(records.filter((r) => r.key === 'fixed').map((r) => r.value), ['one', 'two|x']);

    const text = await run(['consume', 'keyed', '--from-beginning', '--partition', String(keyPartition(Buffer.from('fixed'), 3)), '--format', 'text']);
    assert.match(text.stdout, /^fixed\tone\nfixed\ttwo\|x\n/m);
  });

  test('bytes that are not UTF-8: raw gives them back as they are, json as base64', async () => {
    await created('binary', 1);
    const value = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3]);
    const file = join(temp.dir, 'binary.txt');
    writeFileSync(file, Buffer.concat([value, Buffer.from('\nplain\n')]));
    expectExit(await run(['produce', 'binary', '--file', file]), 0, 'produce --file');
    const raw = await sluiceBytes(['consume', 'binary', '--from-beginning', '--format', 'raw', '--brokers', broker.bootstrap]);
    assert.equal(raw.code, 0);
    assert.deepEqual(raw.stdout, Buffer.concat([value, Buffer.from('\nplain\n')]));
    const [bin, plain] = jsonLines((await run(['consume', 'binary', '--from-beginning', '--format', 'json'])).stdout);
    assert.equal(bin.valueEncoding, 'base64');
    assert.deepEqual(Buffer.from(bin.value!, 'base64'), value);
    assert.equal(plain.value, 'plain');
    assert.equal(plain.valueEncoding, undefined);

    const missing = await run(['produce', 'binary', '--file', join(temp.dir, 'absent.txt')]);
    expectExit(missing, 1, 'a missing --file');
    assert.match(missing.stderr, /^sluice: cannot read .*absent\.txt: ENOENT\n$/);
  });

  test('a produce error stops it with exit 1 and the Kafka error name', async () => {
    expectExit(await run(['topic', 'create', 'small', '--config', 'max.message.bytes=2000']), 0, 'create small');
    const r = await run(['produce', 'small', '--partition', '0'], `fine\n${'x'.repeat(5000)}\n`);
    expectExit(r, 1, 'produce a message over max.message.bytes');
    assert.match(r.stderr, /^sluice: produce to small-0: MESSAGE_TOO_LARGE .* — raise the topic's max\.message\.bytes/m);
  });

  test('where consuming starts and stops: --partition/--offset, --timestamp, --max-messages, the end', async () => {
    await created('positions', 2);
    expectExit(await run(['produce', 'positions', '--partition', '1'], Array.from({ length: 20 }, (_, i) => `early ${i}`).join('\n')), 0, 'produce early');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expectExit(await run(['produce', 'positions', '--partition', '1'], 'late 0\nlate 1\n'), 0, 'produce late');

    const fromOffset = jsonLines((await run(['consume', 'positions', '--partition', '1', '--offset', '5', '--max-messages', '3', '--format', 'json'])).stdout);
    assert.deepEqual(fromOffset.map((r) => [r.partition, r.offset, r.value]), [[1, 5, 'early 5'], [1, 6, 'early 6'], [1, 7, 'early 7']]);
    const fromTime = await run(['consume', 'positions', '--timestamp', between]);
    assert.equal(fromTime.stdout, 'late 0\nlate 1\n');
    const fromEnd = await run(['consume', 'positions']);
    expectExit(fromEnd, 0, 'consume from the end');
    assert.equal(fromEnd.stdout, '');
    assert.match(fromEnd.stderr, /no new messages in positions; pass --from-beginning/);
    assert.equal((await run(['consume', 'positions', '--partition', '0', '--from-beginning'])).stdout, '');

    const beyond = await run(['consume', 'positions', '--partition', '1', '--offset', '99']);
    expectExit(beyond, 1, 'an offset past the end');
    assert.match(beyond.stderr, /offset 99 is out of range for positions-1: it holds offsets 0 to 21/);
    const noPartition = await run(['consume', 'positions', '--partition', '7']);
    expectExit(noPartition, 1, 'a partition that does not exist');
    assert.match(noPartition.stderr, /positions-7: UNKNOWN_TOPIC_OR_PARTITION \(topic positions has partitions 0-1\)/);
  });

  test('every acks setting and compression codec delivers, with --progress on stderr', async () => {
    await created('codecs', 2);
    const runs = [['--compression', 'gzip'], ['--compression', 'snappy'], ['--compression', 'lz4'], ['--compression', 'zstd', '--acks', '0'], ['--acks', '1', '--progress']];
    const results = await Promise.all(runs.map((flags, r) => run(['produce', 'codecs', ...flags], Array.from({ length: 500 }, (_, i) => `${r}-${i}`).join('\n'))));
    results.forEach((res, r) => expectExit(res, 0, `produce ${runs[r].join(' ')}`));
    assert.match(results[4].stderr, /produced \d+ messages \| \d+ msg\/s/, '--progress draws a progress line even without a terminal');
    const consumed = (await run(['consume', 'codecs', '--from-beginning', '--format', 'raw'])).stdout.trim().split('\n');
    assert.deepEqual(consumed.sort(), runs.flatMap((_, r) => Array.from({ length: 500 }, (__, i) => `${r}-${i}`)).sort());
  });

  test('a group reads only what it has not committed; reset-offsets is a dry run without --execute', async () => {
    await created('grp', 2);
    expectExit(await run(['produce', 'grp'], Array.from({ length: 50 }, (_, i) => `m${i}`).join('\n')), 0, 'produce');

    const first = await run(['consume', 'grp', '--group', 'g1', '--from-beginning']);
    expectExit(first, 0, 'first group run');
    assert.equal(first.stdout.trim().split('\n').length, 50);
    const second = await run(['consume', 'grp', '--group', 'g1', '--from-beginning']);
    expectExit(second, 0, 'second group run');
    assert.equal(second.stdout, '', 'everything was committed by the first run');
    assert.match(second.stderr, /no new messages in grp for group g1/);

    expectExit(await run(['produce', 'grp'], 'n1\nn2\nn3\n'), 0, 'produce more');
    assert.deepEqual((await run(['consume', 'grp', '--group', 'g1'])).stdout.trim().split('\n').sort(), ['n1', 'n2', 'n3']);

    const described = await run(['group', 'describe', 'g1']);
    expectExit(described, 0, 'group describe');
    assert.match(described.stdout, /^state: +Empty$/m);
    assert.match(described.stdout, /^members: +0$/m);
    const rows = described.stdout.split('\n').filter((l) => l.startsWith('grp '));
    assert.equal(rows.length, 2);
    let total = 0;
    for (const row of rows) {
      const [, , committed, end, lag] = row.split(/ +/);
      assert.equal(committed, end, row);
      assert.equal(lag, '0', row);
      total += Number(end);
    }
    assert.equal(total, 53);
    assert.match((await run(['group', 'list'])).stdout, /^g1 +Empty +consumer$/m);

    const dry = await run(['group', 'reset-offsets', 'g1', '--topic', 'grp', '--to-earliest']);
    expectExit(dry, 0, 'reset-offsets dry run');
    assert.match(dry.stdout, /^TOPIC +PARTITION +CURRENT +NEW\ngrp +0 +\d+ +0\ngrp +1 +\d+ +0\n$/);
    assert.match(dry.stderr, /dry run: nothing was changed; add --execute/);
    assert.equal((await run(['consume', 'grp', '--group', 'g1'])).stdout, '', 'the dry run committed nothing');

    const executed = await run(['group', 'reset-offsets', 'g1', '--topic', 'grp', '--to-earliest', '--execute']);
    expectExit(executed, 0, 'reset-offsets --execute');
    assert.match(executed.stderr, /committed 2 offsets for group g1/);
    assert.equal((await run(['consume', 'grp', '--group', 'g1'])).stdout.trim().split('\n').length, 53, 'the group reads everything again');

    // Unkeyed lines land where the sticky partitioner puts them: reset the fuller partition.
    const ends = rows.map((r) => ({ partition: r.split(/ +/)[1], end: Number(r.split(/ +/)[3]) }));
    const fuller = ends.reduce((x, y) => (y.end > x.end ? y : x));
    const other = ends.find((e) => e !== fuller)!;
    const one = await run(['group', 'reset-offsets', 'g1', '--topic', 'grp', '--partition', fuller.partition, '--to-offset', '2', '--execute']);
    assert.match(one.stdout, new RegExp(`^grp +${fuller.partition} +\\d+ +2$`, 'm'));
    assert.doesNotMatch(one.stdout, new RegExp(`^grp +${other.partition} `, 'm'));
    assert.equal((await run(['consume', 'grp', '--group', 'g1'])).stdout.trim().split('\n').length, fuller.end - 2);
  });

  test('running members share the partitions; reset and delete are refused; Ctrl-C commits and leaves', async () => {
    await created('shared', 2);
    expectExit(await run(['produce', 'shared', '--key-separator', ':'], Array.from({ length: 40 }, (_, i) => `k${i}:old ${i}`).join('\n')), 0, 'produce');
    const seen: string[][] = [[], []];
    const member = (n: number) => startSluice(['consume', 'shared', '--group', 'live', '--from-beginning', '--follow', '--format', 'raw', '--brokers', broker.bootstrap], (l) => seen[n].push(l));
    const a = member(0);
    try {
      await until('the first member to read the backlog', () => seen[0].length >= 40);
      const b = member(1);
      try {
        await until('both members to hold a partition', async () => {
          const d = (await run(['group', 'describe', 'live'])).stdout;
          return /^members: +2$/m.test(d) && /^state: +Stable$/m.test(d) && (d.match(/ shared:\d\n/g) ?? []).length === 2;
        });
        expectExit(await run(['produce', 'shared', '--key-separator', ':'], Array.from({ length: 20 }, (_, i) => `k${i}:new ${i}`).join('\n')), 0, 'produce new');
        const isNew = (l: string) => l.startsWith('new ');
        await until('the new messages to be read', () => seen.flat().filter(isNew).length >= 20);
        assert.ok(seen[0].some(isNew) && seen[1].some(isNew), 'both members read some of the new messages');
        assert.deepEqual(seen.flat().filter(isNew).sort(), Array.from({ length: 20 }, (_, i) => `new ${i}`).sort(), 'each new message is read once');

        const reset = await run(['group', 'reset-offsets', 'live', '--topic', 'shared', '--to-earliest', '--execute']);
        expectExit(reset, 1, 'reset-offsets with active members');
        assert.match(reset.stderr, /^sluice: group live has 2 active members \(state Stable\): offsets can only be reset while it is empty — stop its consumers first\n$/);
        const deleted = await run(['group', 'delete', 'live']);
        expectExit(deleted, 1, 'group delete with active members');
        assert.match(deleted.stderr, /NON_EMPTY_GROUP .* — stop its consumers first/);
      } finally {
        b.child.kill('SIGINT');
        expectExit(await b.result, 0, 'the second member after SIGINT');
      }
    } finally {
      a.child.kill('SIGINT');
      expectExit(await a.result, 0, 'the first member after SIGINT');
    }
    const after = (await run(['group', 'describe', 'live'])).stdout;
    assert.match(after, /^state: +Empty$/m, 'both left the group');
    const rows = after.split('\n').filter((l) => l.startsWith('shared '));
    assert.equal(rows.length, 2);
    for (const row of rows) assert.match(row, /^shared +\d +(\d+) +\1 +0 +-$/, 'what was read is committed');

    expectExit(await run(['group', 'delete', 'live']), 0, 'group delete');
    const again = await run(['group', 'delete', 'live']);
    expectExit(again, 1, 'deleting a deleted group');
    assert.match(again.stderr, /GROUP_ID_NOT_FOUND .* — check the name with `sluice group list`/);
    const gone = await run(['group', 'describe', 'live']);
    expectExit(gone, 1, 'describing a deleted group');
    assert.match(gone.stderr, /group live does not exist/);
  });
});

describe('sluice when the broker goes away', { timeout: 60_000 }, () => {
  test('a following consumer exits 1 with a message', async () => {
    const temp = tempDir('cli-down');
    const broker = await startBrokerProcess(join(temp.dir, 'data'));
    try {
      expectExit(await sluice(['topic', 'create', 'gone', '--brokers', broker.bootstrap]), 0, 'create');
      expectExit(await sluice(['produce', 'gone', '--brokers', broker.bootstrap], { input: 'before\n' }), 0, 'produce');
      const lines: string[] = [];
      const consumer = startSluice(['consume', 'gone', '--from-beginning', '--follow', '--brokers', broker.bootstrap], (l) => lines.push(l));
      await until('the consumer to read', () => lines.length > 0);
      await broker.kill();
      const r = await consumer.result;
      expectExit(r, 1, 'consume after the broker died');
      assert.match(r.stderr, new RegExp(`^sluice: cannot reach ${broker.bootstrap.replace(/\./g, '\\.')}: connection (refused|closed|reset) — is a broker running\\?`));
    } finally {
      await broker.kill().catch(() => {});
      temp.cleanup();
    }
  });
});
