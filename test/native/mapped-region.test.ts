import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/native/addon.js';

const skip = nativeAddon ? false : 'no native addon (next-segment.test.ts fails for that in CI)';
const LENGTH = 64 * 1024;

test('a mapped region takes copies of any length and zeros, shows them in its file, and refuses spans outside it or after unmap', { skip }, () => {
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

    // The first 16 bytes go one at a time before the rest: copies shorter, as long and longer
    // land whole, from a source that is itself a view at an offset.
    const source = randomBytes(100);
    for (const length of [0, 1, 15, 16, 17, 99]) {
      const view = source.subarray(1, 1 + length);
      addon.zeroRegion(region, 0, 128);
      addon.copyToRegion(region, 5, view);
      const copied = readFileSync(path).subarray(0, 128);
      assert.deepEqual(copied.subarray(5, 5 + length), view, `${length} bytes`);
      assert.equal(copied.subarray(0, 5).some((b) => b !== 0) || copied.subarray(5 + length).some((b) => b !== 0), false, `${length} bytes: nothing around them`);
    }

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

test('seekHole finds where the data of a sparse file ends, and the length of a file without holes; seekData the next data', { skip }, () => {
  const addon = nativeAddon!;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-hole-'));
  const fd = openSync(join(dir, 'sparse'), 'w+');
  try {
    writeSync(fd, randomBytes(10_000), 0, 10_000, 0);
    assert.equal(addon.seekHole(fd, 0), 10_000, 'no hole: the length');
    ftruncateSync(fd, LENGTH * 16);
    const hole = addon.seekHole(fd, 0);
    assert.ok(hole >= 10_000 && hole < LENGTH, `first hole at ${hole}`);
    assert.throws(() => addon.seekHole(fd, LENGTH * 32), { code: 'ENXIO' });
    assert.equal(addon.seekData(fd, 5_000), 5_000, 'inside the data: where it was asked');
    assert.equal(addon.seekData(fd, hole), -1, 'only holes after');
    writeSync(fd, randomBytes(100), 0, 100, LENGTH * 8);
    const data = addon.seekData(fd, hole);
    assert.ok(data > hole && data <= LENGTH * 8, `next data at ${data}`);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
