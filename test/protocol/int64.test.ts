import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { readBigInt64, writeBigInt64 } from '../../src/protocol/primitives/int64.js';

test('int64 fields read and write the same bytes as Buffer, for any value, at any offset', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.integer({ min: 0, max: 24 }), (value, at) => {
      const ours = Buffer.alloc(32, 0xaa);
      const node = Buffer.alloc(32, 0xaa);
      assert.equal(writeBigInt64(ours, value, at), node.writeBigInt64BE(value, at));
      assert.deepEqual(ours, node, 'the same bytes, and none around them touched');
      assert.equal(readBigInt64(ours, at), value);
    }),
  );
});

test('int64 fields refuse values out of range and offsets outside the buffer', () => {
  const buf = Buffer.alloc(16);
  assert.throws(() => writeBigInt64(buf, 2n ** 63n, 0), RangeError);
  assert.throws(() => writeBigInt64(buf, -(2n ** 63n) - 1n, 0), RangeError);
  assert.throws(() => writeBigInt64(buf, 1n, 9), RangeError);
  assert.throws(() => readBigInt64(buf, 9), RangeError);
  assert.throws(() => readBigInt64(buf, -1), RangeError);
  assert.deepEqual(buf, Buffer.alloc(16), 'a refused write leaves the buffer alone');
});
