import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
import { parseOverride, parseProperties, readPropertiesFile } from '../../src/config/properties-file.js';

const entries = (text: string) => [...parseProperties(text)];

test('key=value, key: value and "key value" separators, with blanks around them', () => {
  assert.deepEqual(entries('a=1\nb: 2\nc 3\n  d  =  4  \ne\t:\t5'), [
    ['a', '1'],
    ['b', '2'],
    ['c', '3'],
    // Java keeps trailing blanks in values; the config parser trims them later.
    ['d', '4  '],
    ['e', '5'],
  ]);
});

test('comments (# and !) and blank lines are skipped; a # later in a line is part of the value', () => {
  assert.deepEqual(entries('# comment\n  ! also a comment\n\n   \nlisteners=PLAINTEXT://:9092 # not a comment'), [['listeners', 'PLAINTEXT://:9092 # not a comment']]);
});

test('a key without a value maps to the empty string', () => {
  assert.deepEqual(entries('sluice.console.listener=\nlonely'), [
    ['sluice.console.listener', ''],
    ['lonely', ''],
  ]);
});

test('only the first separator splits; later = and : belong to the value', () => {
  assert.deepEqual(entries('listeners=PLAINTEXT://host:9092'), [['listeners', 'PLAINTEXT://host:9092']]);
});

test('backslash continuation joins lines and drops the next line\'s leading blanks', () => {
  assert.deepEqual(entries('log.dirs=/a,\\\n    /b,\\\n\t/c\nnext=1'), [
    ['log.dirs', '/a,/b,/c'],
    ['next', '1'],
  ]);
});

test('an even number of trailing backslashes is an escaped backslash, not a continuation', () => {
  assert.deepEqual(entries('a=x\\\\\nb=y'), [
    ['a', 'x\\'],
    ['b', 'y'],
  ]);
});

test('a continuation on the last line ends the value', () => {
  assert.deepEqual(entries('a=x\\'), [['a', 'x']]);
});

test('escapes: \\= and \\: in keys, \\t \\n \\uXXXX in values', () => {
  assert.deepEqual(entries('odd\\=key\\:x=v\\tw\\nz\\u00e9'), [['odd=key:x', 'v\tw\nz\u00e9']]);
});

test('CRLF and CR line endings', () => {
  assert.deepEqual(entries('a=1\r\nb=2\rc=3'), [
    ['a', '1'],
    ['b', '2'],
    ['c', '3'],
  ]);
});

test('a repeated key keeps its last value', () => {
  assert.deepEqual(entries('a=1\na=2'), [['a', '2']]);
});

test('malformed \\u escapes are reported with their line numbers, all at once', () => {
  assert.throws(
    () => parseProperties('ok=1\nbad=\\u12\nworse=\\uXYZW', 'server.properties'),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.length === 2 &&
      e.problems[0] === 'server.properties:2: malformed \\uXXXX escape' &&
      e.problems[1] === 'server.properties:3: malformed \\uXXXX escape',
  );
});

test('readPropertiesFile reads a file, and names a missing one clearly', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-props-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'server.properties');
  writeFileSync(path, '# Kafka style\nnode.id=3\nlog.dirs=/var/lib/sluice\n');
  assert.deepEqual([...readPropertiesFile(path)], [
    ['node.id', '3'],
    ['log.dirs', '/var/lib/sluice'],
  ]);
  const missing = join(dir, 'nope.properties');
  assert.throws(() => readPropertiesFile(missing), { name: 'ConfigError', message: `cannot read config file ${missing}: no such file` });
  assert.throws(() => readPropertiesFile(dir), { name: 'ConfigError', message: `cannot read config file ${dir}: it is a directory` });
});

test('parseOverride splits at the first =, keeps the value as given, and refuses a missing key', () => {
  assert.deepEqual(parseOverride('log.dirs=/tmp/x'), ['log.dirs', '/tmp/x']);
  assert.deepEqual(parseOverride(' listeners =PLAINTEXT://:9092'), ['listeners', 'PLAINTEXT://:9092']);
  assert.deepEqual(parseOverride('sluice.console.listener='), ['sluice.console.listener', '']);
  assert.deepEqual(parseOverride('a=b=c'), ['a', 'b=c']);
  assert.throws(() => parseOverride('log.dirs'), { name: 'ConfigError', message: '--override log.dirs: expected key=value' });
  assert.throws(() => parseOverride('=5'), { name: 'ConfigError', message: '--override =5: expected key=value' });
});
