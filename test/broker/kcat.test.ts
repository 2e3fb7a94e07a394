import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CompressionType } from '../../src/protocol/compression/index.js';
import { Attribute, BATCH_LENGTH_OVERHEAD, HeaderField } from '../../src/protocol/records/batch-layout.js';
import { assertSucceeded, runCommand, type CommandOptions, type CommandResult } from '../support/commands.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { kcat, skipUnlessPresent } from '../support/tools.js';

const MILLION = 1_000_000;
const FILLER = 'abcdefghijklmnopqrstuvwxyz0123456789-_.~éß'.repeat(3);

/** Line i: distinct (its number leads), of varying length, with some multi-byte UTF-8. */
function line(i: number): string {
  return `${String(i).padStart(7, '0')} ${FILLER.slice(0, (i * 7919) % 97)}`;
}

/** Writes lines [0, count) to a file; returns the SHA-256 and size of what it wrote. */
function writeLines(path: string, count: number): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    for (let from = 0; from < count; from += 10_000) {
      const chunk = Buffer.from(Array.from({ length: Math.min(10_000, count - from) }, (_, k) => `${line(from + k)}\n`).join(''));
      hash.update(chunk);
      writeSync(fd, chunk);
      bytes += chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** How many of a partition's first `records` records sit in batches of each compression codec. */
function recordsByCodec(partitionDir: string, records: number): Map<number, number> {
  const counts = new Map<number, number>();
  let seen = 0;
  for (const name of readdirSync(partitionDir).filter((n) => n.endsWith('.log')).sort()) {
    const bytes = readFileSync(join(partitionDir, name));
    // Walk the headers only; stop at the last record, before any preallocated tail.
    for (let at = 0; seen < records && at + HeaderField.recordCount < bytes.length; ) {
      const codec = bytes.readInt16BE(at + HeaderField.attributes) & Attribute.compressionMask;
      const inBatch = bytes.readInt32BE(at + HeaderField.lastOffsetDelta) + 1;
      counts.set(codec, (counts.get(codec) ?? 0) + inBatch);
      seen += inBatch;
      at += BATCH_LENGTH_OVERHEAD + bytes.readInt32BE(at + HeaderField.batchLength);
    }
  }
  assert.equal(seen, records, `the segments of ${partitionDir} hold ${seen} records`);
  return counts;
}

describe('kcat against a broker process', { skip: skipUnlessPresent(kcat), timeout: 300_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let dataDir: string;
  let broker: BrokerProcess | undefined;

  before(async () => {
    temp = tempDir('kcat');
    dataDir = join(temp.dir, 'data');
    broker = await startBrokerProcess(dataDir);
  });

  after(async () => {
    try {
      if (broker) assert.equal(await broker.stop(), 0, 'the broker exits cleanly on SIGTERM');
    } finally {
      temp.cleanup();
    }
  });

  function kcatRun(args: string[], options: Partial<CommandOptions> = {}): Promise<CommandResult> {
    return runCommand('kcat', ['-b', broker!.bootstrap, ...args], { timeoutMs: 120_000, ...options });
  }

  async function produce(topic: string, input: string, ...args: string[]): Promise<void> {
    const r = await kcatRun(['-P', '-t', topic, ...args], { input });
    assertSucceeded(r, `kcat -P -t ${topic}`);
    // kcat reports a failed delivery on stderr; its exit status does not always show it.
    assert.doesNotMatch(r.stderr, /Delivery failed|ERROR/, r.stderr);
  }

  /** Reads a whole single-partition topic with `format`, then exits (-e). */
  async function consume(topic: string, format: string): Promise<string> {
    const r = await kcatRun(['-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', format]);
    assertSucceeded(r, `kcat -C -t ${topic}`);
    return r.stdout;
  }

  test('-L lists the broker and its topics', async () => {
    await produce('listed-a', 'one\n');
    await produce('listed-b', 'two\n');
    const r = await kcatRun(['-L', '-J']);
    assertSucceeded(r, 'kcat -L -J');
    const listing = JSON.parse(r.stdout) as {
      controllerid: number;
      brokers: { id: number; name: string }[];
      topics: { topic: string; error?: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
    };
    assert.deepEqual(listing.brokers, [{ id: 1, name: broker!.bootstrap }]);
    assert.equal(listing.controllerid, 1);
    for (const name of ['listed-a', 'listed-b']) {
      const topic = listing.topics.find((t) => t.topic === name);
      assert.ok(topic, `${name} is listed: ${r.stdout}`);
      assert.equal(topic.error, undefined);
      assert.deepEqual(topic.partitions, [{ partition: 0, leader: 1, replicas: [{ id: 1 }], isrs: [{ id: 1 }] }]);
    }

    const text = await kcatRun(['-L', '-t', 'listed-a']);
    assertSucceeded(text, 'kcat -L -t listed-a');
    assert.match(text.stdout, new RegExp(`broker 1 at ${broker!.bootstrap} \\(controller\\)`));
    assert.match(text.stdout, /topic "listed-a" with 1 partitions:\s+partition 0, leader 1, replicas: 1, isrs: 1/);
  });

  test('a million lines go in with -P and come back byte for byte with -C', async () => {
    const input = join(temp.dir, 'million.txt');
    const written = writeLines(input, MILLION);
    // -l: one message per line of the file.
    const p = await kcatRun(['-P', '-t', 'million', '-l', input]);
    assertSucceeded(p, 'kcat -P -l');
    assert.doesNotMatch(p.stderr, /Delivery failed|ERROR/, p.stderr);

    const hash = createHash('sha256');
    let bytes = 0;
    const c = await kcatRun(['-C', '-t', 'million', '-o', 'beginning', '-e', '-q', '-f', '%s\n'], {
      onStdout: (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
      },
    });
    assertSucceeded(c, 'kcat -C');
    assert.equal(bytes, written.bytes);
    assert.equal(hash.digest('hex'), written.sha256);
  });

  test('keys and headers round-trip', async () => {
    const keyed = Array.from({ length: 200 }, (_, i) => `key-${i}:value-${i}`);
    // No delimiter: a null key. An empty value after the delimiter: an empty value.
    const lines = [...keyed, 'no-key-here', 'empty-value:'];
    await produce('keyed', `${lines.join('\n')}\n`, '-K:', '-H', 'trace=abc', '-H', 'n=1', '-H', 'trace=second');
    await produce('keyed', 'late:one\n', '-K:', '-H', 'empty=');

    const out = await consume('keyed', '%K|%k|%S|%s|%h\n');
    const headers = 'trace=abc,n=1,trace=second';
    const expected = [
      ...keyed.map((_, i) => `${`key-${i}`.length}|key-${i}|${`value-${i}`.length}|value-${i}|${headers}`),
      `-1||11|no-key-here|${headers}`,
      `11|empty-value|0||${headers}`,
      '4|late|3|one|empty=',
    ];
    assert.deepEqual(out.split('\n').slice(0, -1), expected);
  });

  const codecs: [string, CompressionType][] = [
    ['gzip', CompressionType.Gzip],
    ['snappy', CompressionType.Snappy],
    ['lz4', CompressionType.Lz4],
    ['zstd', CompressionType.Zstd],
  ];
  for (const [codec, id] of codecs) {
    test(`-z ${codec} round-trips, stored compressed`, async () => {
      const count = 50_000;
      const input = join(temp.dir, `${codec}.txt`);
      const written = writeLines(input, count);
      const topic = `compressed-${codec}`;
      const p = await kcatRun(['-P', '-t', topic, '-z', codec, '-l', input]);
      assertSucceeded(p, `kcat -P -z ${codec}`);
      const out = await consume(topic, '%s\n');
      assert.equal(createHash('sha256').update(out).digest('hex'), written.sha256);
      // The broker keeps batches as they came. librdkafka sends a batch uncompressed when
      // compressing does not make it smaller (a lone record), so a few may be plain.
      const byCodec = recordsByCodec(join(dataDir, `${topic}-0`), count);
      assert.deepEqual([...byCodec.keys()].filter((c) => c !== id && c !== CompressionType.None), [], `codecs: ${[...byCodec]}`);
      assert.ok((byCodec.get(id) ?? 0) >= count * 0.9, `records by codec: ${[...byCodec]}`);
    });
  }
});
