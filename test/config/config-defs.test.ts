import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_BROKER_DEFS, BROKER_DEFS, IGNORED_BROKER_KEYS, NO_EFFECT_BROKER_DEFS, parseConfigValue, TOPIC_DEFS } from '../../src/config/config-defs.js';
import { closestName, editDistance } from '../../src/config/suggest.js';
import { boolean, double, int, long, oneOf, subsetOf } from '../../src/config/value-types.js';

test('every broker config name is defined once', () => {
  const names = [...Object.values(BROKER_DEFS), ...Object.values(TOPIC_DEFS).flatMap((t) => t.synonyms.map((s) => s.def)), ...NO_EFFECT_BROKER_DEFS].map((d) => d.name);
  assert.equal(new Set(names).size, names.length, 'no name is defined twice');
  assert.equal(ALL_BROKER_DEFS.size, names.length);
});

test('ignored Kafka keys are not also known keys', () => {
  for (const key of IGNORED_BROKER_KEYS.keys()) assert.equal(ALL_BROKER_DEFS.has(key), false, key);
});

test('every topic config ends its synonym chain in a broker config with a default, or has its own', () => {
  for (const def of Object.values(TOPIC_DEFS)) {
    const last = def.synonyms.at(-1);
    // Kafka has no broker synonym for a few (the throttled replica lists, remote.storage.enable).
    if (def.synonyms.length === 0) assert.notEqual(def.default, undefined, def.name);
    else assert.ok(last && last.def.default !== null, def.name);
  }
});

test('every default passes its own check and reads back from its string form', () => {
  for (const def of ALL_BROKER_DEFS.values()) {
    if (def.default === null) continue;
    const parsed = parseConfigValue(def, def.type.format(def.default));
    assert.ok(parsed.ok, `${def.name}: ${parsed.ok ? '' : parsed.message}`);
    assert.deepEqual(parsed.value, def.default, def.name);
  }
});

test('every config has a one-line sentence of documentation', () => {
  for (const def of [...ALL_BROKER_DEFS.values(), ...Object.values(TOPIC_DEFS)]) {
    assert.match(def.doc, /^[A-Za-z].{10,}\.$/, def.name);
    assert.equal(def.doc.includes('\n'), false, def.name);
  }
});

test('int: 32-bit Java range, integers only', () => {
  assert.deepEqual(int.parse('2147483647'), { ok: true, value: 2_147_483_647 });
  assert.deepEqual(int.parse('-2147483648'), { ok: true, value: -2_147_483_648 });
  assert.equal(int.parse('2147483648').ok, false);
  assert.equal(int.parse('1e3').ok, false);
  assert.equal(int.parse('').ok, false);
  assert.deepEqual(int.parse('+7'), { ok: true, value: 7 });
});

test('long: past 2^53 is unbounded, printed as Long.MAX_VALUE / MIN_VALUE', () => {
  assert.deepEqual(long.parse('9007199254740991'), { ok: true, value: 9_007_199_254_740_991 });
  assert.deepEqual(long.parse('9007199254740992'), { ok: true, value: Number.POSITIVE_INFINITY });
  assert.deepEqual(long.parse('-9223372036854775808'), { ok: true, value: Number.NEGATIVE_INFINITY });
  assert.equal(long.parse('-9223372036854775809').ok, false);
  assert.equal(long.format(Number.POSITIVE_INFINITY), '9223372036854775807');
  assert.equal(long.format(Number.NEGATIVE_INFINITY), '-9223372036854775808');
  assert.equal(long.format(-1), '-1');
});

test('double: Java forms in, Java forms out', () => {
  assert.deepEqual(double.parse('.5'), { ok: true, value: 0.5 });
  assert.deepEqual(double.parse('1e-1'), { ok: true, value: 0.1 });
  assert.equal(double.parse('0.5x').ok, false);
  assert.equal(double.parse('NaN').ok, false);
  assert.equal(double.format(1), '1.0');
  assert.equal(double.format(0.25), '0.25');
});

test('boolean ignores case, as Kafka does', () => {
  assert.deepEqual(boolean.parse('TRUE'), { ok: true, value: true });
  assert.deepEqual(boolean.parse('False'), { ok: true, value: false });
  assert.equal(boolean.parse('1').ok, false);
});

test('oneOf matches exactly; subsetOf collapses repeats and keeps order', () => {
  const modes = oneOf(['write', 'mmap']);
  assert.deepEqual(modes.parse('mmap'), { ok: true, value: 'mmap' });
  assert.deepEqual(modes.parse('MMAP'), { ok: false, error: 'expected one of write, mmap' });
  const policy = subsetOf(['delete', 'compact']);
  assert.deepEqual(policy.parse('compact, delete, compact'), { ok: true, value: ['compact', 'delete'] });
  assert.equal(policy.format(['compact', 'delete']), 'compact,delete');
});

test('edit distance and the nearest-name suggestion', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
  assert.equal(closestName('log.retention.hour', ['log.retention.hours', 'log.retention.ms']), 'log.retention.hours');
  assert.equal(closestName('xyz', ['log.retention.hours']), undefined);
  // Long names tolerate more edits, short ones fewer.
  assert.equal(closestName('log.retention.chek.intervl.ms', ['log.retention.check.interval.ms']), 'log.retention.check.interval.ms');
  assert.equal(closestName('abcd', ['wxyz']), undefined);
});
