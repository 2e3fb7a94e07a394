import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { nativeAddon } from '../../src/native/addon.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { nextSegmentsSettled, nextSegmentStats } from '../../src/storage/next-segment.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { appendGenerated, appendUntilRequested, assertGeneratedPrefix, assertOnlySegmentFiles, openLog, pageCacheBytes, readBatches, tempDir, testConfig } from '../support/storage-fixtures.js';

/**
 * In mmap append mode the next segment is prepared on the threadpool and taken by the roll.
 * Without the addon, mmap mode writes instead and there is nothing to prepare: CI has it.
 */
const skip = nativeAddon ? false : 'the native addon is not built';
const SEGMENT_BYTES = 64 * 1024;
const CHILD = fileURLToPath(new URL('../support/next-segment-child.ts', import.meta.url));
const GC_CHILD = fileURLToPath(new URL('../support/mapping-gc-child.ts', import.meta.url));
const UNMAPPABLE_CHILD = fileURLToPath(new URL('../support/unmappable-segment-child.ts', import.meta.url));

const nextFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.next.tmp'));

function mmapLog(dir: string, segmentBytes = SEGMENT_BYTES): PartitionLog {
  return openLog(dir, testConfig({ appendMode: 'mmap', segmentBytes }));
}

/** Appends until the log has one more segment than it had. */
function appendUntilRoll(log: PartitionLog): void {
  const segments = log.segmentCount;
  while (log.segmentCount === segments) appendGenerated(log, 1);
}

test('mmap append mode has the native addon in CI', () => {
  if (process.env.CI) assert.ok(nativeAddon, 'the native addon must be built in CI: without it mmap mode is never exercised');
});

test('a roll takes the segment prepared while the active one filled, and a close leaves only segment files', { skip }, async () => {
  const { dir, cleanup } = tempDir('next-roll');
  try {
    const log = mmapLog(dir);
    appendGenerated(log, 1);
    await nextSegmentsSettled();
    assert.deepEqual(nextFiles(dir), [], 'a segment with one batch in it holds no second one');
    const { before, after } = appendUntilRequested(log);
    assert.ok(before < SEGMENT_BYTES / 8 && after >= SEGMENT_BYTES / 8, `asked for at an eighth of ${SEGMENT_BYTES} bytes: between ${before} and ${after}`);
    await nextSegmentsSettled();
    assert.equal(nextFiles(dir).length, 1, 'the next segment was prepared');
    const taken = nextSegmentStats.taken;
    for (let rolls = 0; rolls < 3; rolls++) {
      const [prepared] = nextFiles(dir);
      appendUntilRoll(log);
      assert.equal(nextSegmentStats.taken, taken + rolls + 1, `roll ${rolls + 1} took the prepared segment`);
      assert.equal(existsSync(join(dir, prepared)), false, 'the prepared file became the segment');
      appendUntilRequested(log);
      await nextSegmentsSettled();
      assert.equal(nextFiles(dir).length, 1, 'the new segment asked for the one after it, under another name');
    }
    const end = log.logEndOffset;
    assert.equal(assertGeneratedPrefix(readBatches(log)), end);
    await log.close();
    assertOnlySegmentFiles(log);

    const reopened = mmapLog(dir);
    assert.equal(assertGeneratedPrefix(readBatches(reopened)), end, 'every batch is there after reopening');
    appendUntilRoll(reopened);
    await reopened.close();
    assertOnlySegmentFiles(reopened);
  } finally {
    cleanup();
  }
});

test('a cold mapped segment takes large appends by write, faulting no page in through its mapping; a prepared one by copy; both read back', { skip }, async () => {
  const { dir, cleanup } = tempDir('next-faults');
  try {
    const log = mmapLog(dir, 16 << 20);
    // One batch, appended again and again: no allocation of its own between the fault counts.
    const batch = encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: null, value: Buffer.alloc(256 * 1024, 7) }] });
    const appendMiB = (mib: number): number => {
      const before = process.resourceUsage().minorPageFault;
      for (let i = 0; i < mib * 4; i++) log.append(batch, { leaderEpoch: 1, now: Date.now(), assignOffsets: true });
      return process.resourceUsage().minorPageFault - before;
    };
    // 2 MiB in, the segment has its successor prepared: the faults of that preparation (every
    // page of it, on a threadpool thread of this process) are over before counting.
    appendMiB(2);
    await nextSegmentsSettled();
    // 8 MiB is 2,048 pages: appends through a cold mapping fault each of them in.
    const cold = appendMiB(8);
    assert.ok(cold < 512, `appends to the cold first segment faulted ${cold} pages in`);
    const taken = nextSegmentStats.taken;
    while (log.segmentCount === 1) appendMiB(1);
    assert.equal(nextSegmentStats.taken, taken + 1, 'the roll took the prepared segment');
    // Its pages are not counted: a writeback anywhere on the machine (a sync) makes the touched
    // pages fault once more, which is the kernel's doing, not the append path's.
    appendMiB(8);
    const batches = readBatches(log, log.logStartOffset, 1 << 20);
    assert.equal(batches.length, log.logEndOffset - log.logStartOffset, 'every batch reads back, from either kind of segment');
    assert.ok(batches.every((b) => b.subarray(-1024).equals(batch.subarray(-1024))), 'with its bytes');
    await log.close();
  } finally {
    cleanup();
  }
});

test('small appends to a cold mapped segment hold a bounded span of page cache and of disk, not a readahead window of zeros nor segment.bytes', { skip }, async () => {
  const { dir, cleanup } = tempDir('next-cold-small');
  try {
    const log = mmapLog(dir, 64 << 20);
    appendGenerated(log, 20);
    const segment = join(dir, readdirSync(dir).find((n) => n.endsWith('.log'))!);
    const resident = pageCacheBytes(segment);
    assert.ok(log.size < 64 * 1024, `the appends wrote ${log.size} bytes`);
    // The appends and the zeros written ahead of them, which go to disk too: at most about as
    // many as the data while it is small (they were 256 KiB whatever the data). Read around a
    // fault, the kernel would fill the disk's read_ahead_kb (8 MiB on a virtio disk) with zeros.
    assert.ok(resident <= 2 * log.size + 4096, `${resident} bytes of the segment are in the page cache after ${log.size} bytes of appends`);
    // Mapped whole, but sparse: the blocks are those the appends and the zeros ahead wrote.
    const { size, blocks } = statSync(segment);
    assert.equal(size, 64 << 20);
    assert.ok(blocks * 512 < 1024 * 1024, `${blocks * 512} bytes of disk hold ${log.size} bytes of appends`);
    await log.close();
  } finally {
    cleanup();
  }
});

test('mapping segments does not make V8 collect the whole heap for external memory pressure', { skip }, () => {
  // Eight partitions of 1 GiB segments: counted as external memory, each mapping would exceed
  // V8's limit on its own, and some would force a full collection on the event loop.
  const out = execFileSync(process.execPath, ['--trace-gc', '--import', 'tsx', GC_CHILD, '8', String(1 << 30)], { encoding: 'utf8' });
  assert.match(out, new RegExp(`^mapped ${8 * 2 ** 30}$`, 'm'));
  assert.deepEqual(
    out.split('\n').filter((l) => l.includes('external memory pressure')),
    [],
  );
});

test('a segment that cannot be mapped for want of address space takes positional writes, loses nothing, and says so once', { skip }, () => {
  // Four logs of 1 GiB segments, with room for one more mapping: the other three cannot map.
  const out = execFileSync(process.execPath, ['--import', 'tsx', UNMAPPABLE_CHILD, '4', String(2 ** 30), String(1.5 * 2 ** 30), '50'], { encoding: 'utf8', env: { ...process.env, SLUICE_LOG_FORMAT: 'json', SLUICE_LOG_LEVEL: 'info' } });
  const lines = out.trim().split('\n');
  const result = JSON.parse(lines.at(-1)!) as { mapped: number; ends: number[]; reopenedEnds: number[]; fileLengths: number[] };
  assert.equal(result.mapped, 1, out);
  // The child checked every batch read back, before and after reopening.
  assert.equal(new Set(result.ends).size, 1);
  assert.ok(result.ends[0] > 0);
  assert.deepEqual(result.reopenedEnds, result.ends);
  assert.equal(new Set(result.fileLengths).size, 1, 'mapped or not, each closed segment is trimmed to its data');
  assert.ok(result.fileLengths[0] < 2 ** 20);
  const warnings = lines.filter((l) => l.includes('out of memory to map a segment'));
  assert.equal(warnings.length, 1, out);
  assert.equal((JSON.parse(warnings[0]) as { level: number }).level, 40);
});

test('truncating, deleting or closing a log drops its next segment, ready or still being prepared', { skip }, async () => {
  const { dir, cleanup } = tempDir('next-drop');
  try {
    // Ready, then the whole log truncated away: the new segment does not take it.
    const log = mmapLog(dir);
    appendUntilRequested(log);
    await nextSegmentsSettled();
    assert.equal(nextFiles(dir).length, 1);
    log.truncateFullyAndStartAt(100);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assertOnlySegmentFiles(log);
    // A truncation inside the active segment rolls, and the roll takes the next segment.
    appendUntilRequested(log);
    await nextSegmentsSettled();
    const taken = nextSegmentStats.taken;
    log.truncateTo(log.logEndOffset - 1);
    assert.equal(nextSegmentStats.taken, taken + 1);
    assert.deepEqual(nextFiles(dir), []);

    // Still being prepared when the log closes (a large segment takes a while).
    await log.close();
    const big = mmapLog(dir, 64 << 20);
    appendUntilRequested(big);
    await big.close();
    await nextSegmentsSettled();
    assertOnlySegmentFiles(big);

    // Deleted while being prepared: nothing comes back once the preparation ends.
    const doomed = mmapLog(dir, 64 << 20);
    appendUntilRequested(doomed);
    doomed.deleteAll();
    await nextSegmentsSettled();
    assert.equal(existsSync(dir), false, 'the directory stays removed');
  } finally {
    cleanup();
  }
});

test('a kill -9 while a next segment is being prepared, waiting, or just taken loses nothing and leaves no extra file', { skip, timeout: 60_000 }, async () => {
  const cases = [
    { phase: 'preparing', segmentBytes: 64 << 20 },
    { phase: 'prepared', segmentBytes: SEGMENT_BYTES },
    { phase: 'taken', segmentBytes: SEGMENT_BYTES },
  ];
  for (const { phase, segmentBytes } of cases) {
    const { dir, cleanup } = tempDir(`next-kill-${phase}`);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, phase, String(segmentBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(child, 'exit');
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const report = JSON.parse(line) as { logEndOffset: number; files: string[]; stats: typeof nextSegmentStats };
      child.kill('SIGKILL');
      await exited;
      if (phase !== 'preparing') assert.equal(report.files.filter((n) => n.endsWith('.next.tmp')).length, 1, `${phase}: a next segment was in the directory`);
      if (phase === 'taken') assert.ok(report.stats.taken >= 1, 'a roll took the prepared segment');

      const log = openLog(dir, testConfig({ appendMode: 'mmap', segmentBytes }), false);
      assert.equal(assertGeneratedPrefix(readBatches(log)), report.logEndOffset, `${phase}: every appended batch is there`);
      assert.equal(log.logEndOffset, report.logEndOffset);
      assert.deepEqual(nextFiles(dir), [], `${phase}: the load removed the prepared file`);
      // A roll of 64 MiB would take too many small batches: that case only appends.
      if (segmentBytes === SEGMENT_BYTES) appendUntilRoll(log);
      else appendGenerated(log, 3);
      await log.close();
      await nextSegmentsSettled();
      assertOnlySegmentFiles(log);
    } finally {
      cleanup();
    }
  }
});
