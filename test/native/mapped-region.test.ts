import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/native/addon.js';

const skip = nativeAddon ? false : 'no native addon (next-segment.test.ts fails for that in CI)';
const LENGTH = 64 * 1024;

test('a mapped region takes copies and zeros, shows them in its file, and refuses spans outside it or after unmap', { skip }, () => {
  const addon = nativeAddon!;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-region-'));
  const path = join(dir, 'region');
  const fd = openSync(path, 'w+');
  try {
    ftruncateSync(fd, LENGTH);
    const region = addon.mapRegion(fd, LENGTH, true);
    const data = randomBytes(3000);
    addon.copyToRegion(region, LENGTH - data.length, data);
    assert.deepEqual(readFileSync(path).subarray(LENGTH - data.length), data);
    addon.zeroRegion(region, LENGTH - data.length, 1000);
    // Shared: the file holds what went through the mapping.
    const file = readFileSync(path);
    assert.deepEqual(file.subarray(LENGTH - data.length, LENGTH - data.length + 1000), Buffer.alloc(1000));
    assert.deepEqual(file.subarray(LENGTH - data.length + 1000), data.subarray(1000));

    const outside = { name: 'RangeError', message: 'span outside the mapping' };
    assert.throws(() => addon.copyToRegion(region, LENGTH - 10, data), outside);
    assert.throws(() => addon.copyToRegion(region, -1, data), outside);
    assert.throws(() => addon.zeroRegion(region, 10, LENGTH), outside);

    addon.unmap(region);
    addon.unmap(region);
    const unmapped = { name: 'RangeError', message: 'the mapping is unmapped' };
    assert.throws(() => addon.copyToRegion(region, 0, data), unmapped);
    assert.throws(() => addon.zeroRegion(region, 0, 1), unmapped);
    assert.throws(() => addon.madvise(region, 0, LENGTH, 'random'), unmapped);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
