import assert from 'node:assert/strict';
import { closeSync, openSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { StorageError } from '../../src/storage/storage-error.js';
import { makeBatch, openLog, readAll, tempDir, testConfig } from '../support/storage-fixtures.js';
import { mountTmpfs, skipUnlessMountable } from '../support/storage-faults.js';

const coalesced = (log: PartitionLog, tag: string, valueBytes = 40) =>
  log.append(makeBatch(tag, 2, Date.now(), { valueBytes }), { leaderEpoch: 1, now: Date.now(), assignOffsets: true, coalesce: true });

const segmentFile = (dir: string): string => join(dir, '00000000000000000000.log');

test('coalesced appends of one turn are written together when it ends, and a read before that writes them first', async () => {
  const { dir, cleanup } = tempDir('coalesce');
  try {
    const log = openLog(dir, testConfig({ segmentBytes: 1 << 20 }));
    const results = ['a', 'b', 'c'].map((tag) => coalesced(log, tag));
    assert.deepEqual(results.map((r) => r.firstOffset), [0, 2, 4]);
    assert.equal(log.logEndOffset, 6);
    assert.equal(statSync(segmentFile(dir)).size, 0, 'nothing written during the turn');
    await Promise.all(results.map((r) => r.durable));
    const written = statSync(segmentFile(dir)).size;
    assert.ok(written > 0);
    assert.deepEqual(readAll(log).map((r) => r.offset), [0, 1, 2, 3, 4, 5]);

    coalesced(log, 'd');
    // A fetch in the same turn: its read may not reach bytes that are not in the file yet.
    assert.deepEqual(readAll(log).map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.ok(statSync(segmentFile(dir)).size > written, 'the read wrote the appends first');
    // A plain append after coalesced ones keeps their order in the file.
    log.append(makeBatch('e', 1, Date.now()), { leaderEpoch: 1, now: Date.now(), assignOffsets: true });
    coalesced(log, 'f');
    await log.close();
    const again = openLog(dir, testConfig({ segmentBytes: 1 << 20 }), false);
    assert.deepEqual(readAll(again).map((r) => `${r.offset}:${r.value?.toString().slice(0, 1)}`), ['0:a', '1:a', '2:b', '3:b', '4:c', '5:c', '6:d', '7:d', '8:e', '9:f', '10:f']);
    await again.close();
  } finally {
    cleanup();
  }
});

test('a coalesced write the disk refuses undoes every append of the turn, and the log goes on from where it was', { skip: skipUnlessMountable() }, async () => {
  const fs = mountTmpfs('coalesce-full', 2);
  try {
    const dir = join(fs.dir, 'log');
    const config = testConfig({ segmentBytes: 8 << 20 });
    const log = openLog(dir, config);
    await coalesced(log, 'kept').durable;
    const keptSize = statSync(segmentFile(dir)).size;
    // Leave about 200 KiB: the turn below offers 300 KiB.
    const ballast = join(fs.dir, 'ballast');
    const fd = openSync(ballast, 'w');
    const free = statfsFree(fs.dir);
    for (let left = free - 200 * 1024; left > 0; ) left -= writeSync(fd, Buffer.alloc(Math.min(left, 1 << 20), 1));
    closeSync(fd);

    const turn = ['x', 'y', 'z'].map((tag) => coalesced(log, tag, 50 * 1024));
    const outcomes = await Promise.allSettled(turn.map((r) => r.durable));
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok((o as PromiseRejectedResult).reason instanceof StorageError);
    }
    assert.equal(log.logEndOffset, 2, 'the log end is back where the turn began');
    assert.equal(statSync(segmentFile(dir)).size, keptSize, 'no part of the refused write stays in the file');
    assert.deepEqual(readAll(log).map((r) => r.offset), [0, 1]);

    rmSync(ballast);
    const next = coalesced(log, 'after');
    assert.equal(next.firstOffset, 2, 'the offsets of the undone appends are given out again');
    await next.durable;
    await log.close();
    const again = openLog(dir, config, false);
    assert.deepEqual(readAll(again).map((r) => `${r.offset}:${r.value?.toString().slice(0, 4)}`), ['0:kept', '1:kept', '2:afte', '3:afte']);
    await again.close();
  } finally {
    fs.dispose();
  }
});

function statfsFree(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}
