import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { FetchedRecord } from '../../src/client/fetcher.js';
import { byteLines } from '../../src/cli/lines.js';
import { formatRecord } from '../../src/cli/record-format.js';
import { formatTable } from '../../src/cli/output.js';

const NOT_UTF8 = Buffer.from([0xff, 0xfe, 0x00, 0x41]);

function record(key: Buffer | null, value: Buffer | null, headers: FetchedRecord['headers'] = []): FetchedRecord {
  return { topic: 't', partition: 2, offset: 41n, timestamp: 1700000000123n, key, value, headers };
}

test('json: UTF-8 as strings, other bytes as base64 with an encoding field, nulls as null', () => {
  const line = formatRecord(record(Buffer.from('k€y'), NOT_UTF8, [{ key: 'h', value: Buffer.from('v') }, { key: 'bin', value: NOT_UTF8 }, { key: 'nil', value: null }]), 'json');
  assert.equal(line.at(-1), 0x0a);
  assert.deepEqual(JSON.parse(line.toString()), {
    topic: 't',
    partition: 2,
    offset: 41,
    timestamp: 1700000000123,
    key: 'k€y',
    value: NOT_UTF8.toString('base64'),
    valueEncoding: 'base64',
    headers: [
      { key: 'h', value: 'v' },
      { key: 'bin', value: NOT_UTF8.toString('base64'), encoding: 'base64' },
      { key: 'nil', value: null },
    ],
  });
  assert.deepEqual(JSON.parse(formatRecord(record(null, null), 'json').toString()).key, null);
});

test('raw writes the value bytes as they are; text puts the key first', () => {
  assert.deepEqual(formatRecord(record(Buffer.from('k'), NOT_UTF8), 'raw'), Buffer.concat([NOT_UTF8, Buffer.from('\n')]));
  assert.equal(formatRecord(record(null, null), 'raw').toString(), '\n');
  assert.equal(formatRecord(record(Buffer.from('k'), Buffer.from('v')), 'text').toString(), 'k\tv\n');
  assert.equal(formatRecord(record(null, Buffer.from('v')), 'text').toString(), 'v\n');
});

async function collect(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  const stream = (async function* () {
    yield* chunks;
  })();
  for await (const lines of byteLines(stream)) out.push(...lines.map((l) => l.toString('latin1')));
  return out;
}

test('lines are split on \\n however the input is chunked, keeping empty lines and a last unterminated one', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.stringMatching(/^[a-c\r]{0,5}$/), { maxLength: 8 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }), async (lines, terminated, cuts) => {
      const text = lines.join('\n') + (terminated && lines.length > 0 ? '\n' : '');
      const bytes = Buffer.from(text, 'latin1');
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...points].map((from, i) => bytes.subarray(from, [...points, bytes.length][i]));
      // A final "\n" ends the last line rather than starting an empty one.
      const expected = text.split('\n');
      if (expected.at(-1) === '') expected.pop();
      assert.deepEqual(await collect(chunks), expected);
    }),
  );
});

test('tables align columns and show empty cells as -', () => {
  assert.equal(formatTable(['name', 'n', 'last'], [['a', 1, 'x'], ['longer', '', 'y']]), 'NAME    N  LAST\na       1  x\nlonger  -  y\n');
});
