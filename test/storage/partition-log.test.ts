import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CompressionType } from '../../src/protocol/compression/index.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { nativeAddon } from '../../src/native/addon.js';
import type { AppendMode, FlushMode } from '../../src/storage/log-config.js';
import { StorageError } from '../../src/storage/storage-error.js';
import { makeBatch, openLog, pageCacheBytes, readAll, recordsIn, regionBytes, tempDir, testConfig } from '../support/storage-fixtures.js';

const append = (log: ReturnType<typeof openLog>, batch: Buffer, now = Date.now()) =>
  log.append(batch, { leaderEpoch: 3, now, assignOffsets: true });

const modes: { appendMode: AppendMode; flushMode: FlushMode }[] = [
  { appendMode: 'write', flushMode: 'async' },
  { appendMode: 'write', flushMode: 'sync' },
  { appendMode: 'mmap', flushMode: 'async' },
  { appendMode: 'mmap', flushMode: 'sync' },
];

test('mmap append mode has the native addon in CI', () => {
  if (process.env.CI) assert.ok(nativeAddon, 'the native addon must be built in CI');
});

for (const mode of modes) {
  describe(`partition log, ${mode.appendMode} append, ${mode.flushMode} flush`, () => {
    test('assigns offsets, stamps the leader epoch, rolls segments and reads everything back', async () => {
      const { dir, cleanup } = tempDir('log');
      try {
        const config = testConfig({ ...mode, segmentBytes: 4096, indexIntervalBytes: 512 });
        const log = openLog(dir, config);
        const expected: string[] = [];
        for (let i = 0; i < 200; i++) {
          const count = 1 + (i % 7);
          const compression = [CompressionType.None, CompressionType.Gzip, CompressionType.Lz4][i % 3];
          const result = append(log, makeBatch(`b${i}`, count, 1_000_000 + i * 10, { compression, valueBytes: 40 }));
          await result.durable;
          assert.equal(result.firstOffset, expected.length);
          assert.equal(result.lastOffset, expected.length + count - 1);
          for (let j = 0; j < count; j++) expected.push(`b${i}-${j}`.padEnd(40, '.'));
        }
        assert.equal(log.logEndOffset, expected.length);
        assert.ok(log.segmentCount > 5, `expected several segments, got ${log.segmentCount}`);
        const names = readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
        assert.match(names[0], /^0{20}\.log$/);
        const got = readAll(log);
        assert.deepEqual(got.map((r) => r.value), expected);
        assert.deepEqual(got.map((r) => r.offset), expected.map((_, i) => i));
        const region = log.read(0, 100)!;
        assert.equal(decodeRecordBatch(regionBytes(region)).partitionLeaderEpoch, 3);
        await log.close();
        // Closed segments are trimmed to their data (mmap preallocation included).
        for (const n of readdirSync(dir).filter((x) => x.endsWith('.log'))) assert.ok(statSync(`${dir}/${n}`).size <= 4096);
        const reopened = openLog(dir, config);
        assert.equal(reopened.logEndOffset, expected.length);
        assert.deepEqual(readAll(reopened).map((r) => r.value), expected);
        await reopened.close();
      } finally {
        cleanup();
      }
    });
  });
}

test('sync flush groups concurrent appends into far fewer fdatasyncs', async () => {
  const { dir, cleanup } = tempDir('group-commit');
  try {
    const log = openLog(dir, testConfig({ flushMode: 'sync' }));
    const acks = [];
    for (let i = 0; i < 500; i++) acks.push(append(log, makeBatch(`g${i}`, 1, 1000)).durable);
    await Promise.all(acks);
    assert.ok(log.groupCommits >= 1);
    assert.ok(log.groupCommits < 50, `500 appends took ${log.groupCommits} flushes`);
    assert.equal(log.recoveryPoint, 500);
    await log.close();
  } finally {
    cleanup();
  }
});

test('a read returns the first batch whole even past maxBytes, and never past the high watermark', async () => {
  const { dir, cleanup } = tempDir('kip74');
  try {
    const log = openLog(dir, testConfig());
    // Timestamps near the clock: older ones would roll a segment per batch under segment.ms.
    const now = Date.now();
    append(log, makeBatch('big', 10, now, { valueBytes: 1000 }));
    append(log, makeBatch('small', 2, now));
    append(log, makeBatch('later', 3, now));
    assert.equal(log.segmentCount, 1);
    const first = log.read(0, 10)!;
    assert.ok(first.byteLength > 10000);
    assert.equal(recordsIn(regionBytes(first)).length, 10);
    // Up to offset 12 (the high watermark): the third batch is left out.
    const upTo = recordsIn(regionBytes(log.read(0, 1 << 20, 12)!));
    assert.deepEqual(upTo.map((r) => r.offset), [...Array(12).keys()]);
    assert.equal(log.read(12, 1 << 20, 12), null);
    // A read from the middle of a batch starts at that batch.
    assert.equal(recordsIn(regionBytes(log.read(11, 1 << 20)!))[0].offset, 10);
    assert.throws(() => log.read(16, 100), (e) => e instanceof StorageError && e.kind === 'offset-out-of-range');
    assert.equal(log.read(15, 100), null);
    await log.close();
  } finally {
    cleanup();
  }
});

test('index and time-index lookups agree with a brute-force scan on random workloads', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ count: fc.integer({ min: 1, max: 8 }), gap: fc.integer({ min: -5, max: 40 }), size: fc.integer({ min: 0, max: 300 }) }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 64, max: 2048 }),
      // Above the largest batch generated: an append larger than a segment is refused.
      fc.integer({ min: 4096, max: 16384 }),
      async (batches, indexIntervalBytes, segmentBytes) => {
        const { dir, cleanup } = tempDir('index');
        try {
          const log = openLog(dir, testConfig({ indexIntervalBytes, segmentBytes }));
          let ts = 1_000_000;
          for (const [i, b] of batches.entries()) {
            ts += b.gap;
            append(log, makeBatch(`r${i}`, b.count, ts, { valueBytes: b.size, timestampStep: 3 }), ts);
          }
          const all = readAll(log, 0, 512);
          assert.ok(log.segmentCount <= batches.length);
          assert.equal(all.length, log.logEndOffset);
          for (let offset = 0; offset < log.logEndOffset; offset += 1) {
            const first = recordsIn(regionBytes(log.read(offset, 1)!))[0];
            // The batch returned is the one holding the offset.
            assert.ok(first.offset <= offset, `read(${offset}) started at ${first.offset}`);
          }
          const times = [...new Set(all.map((r) => r.timestamp))];
          for (const t of [...times, times[0] - 1, Math.max(...times) + 1]) {
            const brute = all.find((r) => r.timestamp >= t);
            const found = log.offsetForTimestamp(t);
            assert.deepEqual(found, brute ? { offset: brute.offset, timestamp: brute.timestamp } : null, `timestamp ${t}`);
          }
          const max = all.reduce((m, r) => (r.timestamp > m.timestamp ? r : m));
          // The first record with the largest timestamp (KAFKA-16310), not its batch's last offset.
          assert.deepEqual(log.maxTimestampAndOffset(), { offset: max.offset, timestamp: max.timestamp });
          await log.close();
        } finally {
          cleanup();
        }
      },
    ),
    { numRuns: 25 },
  );
});

test('truncateTo cuts at a batch boundary and appends continue from there', async () => {
  const { dir, cleanup } = tempDir('truncate');
  try {
    const log = openLog(dir, testConfig({ segmentBytes: 2000 }));
    for (let i = 0; i < 30; i++) append(log, makeBatch(`t${i}`, 3, 1000 + i), 1000);
    log.truncateTo(40); // inside the batch 39..41
    assert.equal(log.logEndOffset, 39);
    log.truncateTo(10);
    assert.equal(log.logEndOffset, 9);
    assert.equal(append(log, makeBatch('again', 2, 5000)).firstOffset, 9);
    assert.deepEqual(readAll(log).map((r) => r.offset), [...Array(11).keys()]);
    log.truncateTo(0);
    assert.equal(log.logEndOffset, 0);
    assert.equal(append(log, makeBatch('fresh', 1, 6000)).firstOffset, 0);
    await log.close();
  } finally {
    cleanup();
  }
});

test('deleteRecordsBefore moves the log start and drops whole segments below it', async () => {
  const { dir, cleanup } = tempDir('delete-records');
  try {
    const log = openLog(dir, testConfig({ segmentBytes: 1500 }));
    for (let i = 0; i < 40; i++) append(log, makeBatch(`d${i}`, 2, 1000 + i), 1000);
    const before = log.segmentCount;
    log.deleteRecordsBefore(41);
    assert.equal(log.logStartOffset, 41);
    assert.ok(log.segmentCount < before);
    assert.throws(() => log.read(40, 100), StorageError);
    assert.equal(recordsIn(regionBytes(log.read(41, 100)!))[0].offset, 40, 'the batch holding the new start is served whole');
    await log.close();
    const reopened = openLog(dir, testConfig({ segmentBytes: 1500 }), true, 0, 41);
    assert.equal(reopened.logStartOffset, 41);
    await reopened.close();
  } finally {
    cleanup();
  }
});

test('retention by time and by size deletes old segments but never the active one', async () => {
  const { dir, cleanup } = tempDir('retention');
  try {
    const now = 10_000_000;
    const config = testConfig({ segmentBytes: 1000, retentionMs: 5000 });
    const log = openLog(dir, config);
    for (let i = 0; i < 30; i++) append(log, makeBatch(`old${i}`, 2, now - 100_000 + i), now);
    for (let i = 0; i < 10; i++) append(log, makeBatch(`new${i}`, 2, now - 10), now);
    const segments = log.segmentCount;
    const deleted = log.applyRetention(now);
    assert.ok(deleted > 0 && log.segmentCount === segments - deleted);
    assert.ok(readAll(log).every((r) => r.timestamp >= now - 100_000 + 20), 'old data gone');
    assert.ok(readAll(log).some((r) => r.value?.startsWith('new')));
    log.config = testConfig({ segmentBytes: 1000, retentionMs: -1, retentionBytes: 0 });
    log.applyRetention(now);
    assert.equal(log.segmentCount, 1, 'only the active segment is left');
    assert.equal(log.logStartOffset, log.segmentBaseOffsets()[0]);
    log.config = testConfig({ segmentBytes: 1000, retentionMs: 1, cleanupDelete: false });
    for (let i = 0; i < 10; i++) append(log, makeBatch(`kept${i}`, 2, 1), now);
    assert.equal(log.applyRetention(now), 0, 'cleanup.policy=compact alone keeps everything');
    await log.close();
  } finally {
    cleanup();
  }
});

test('segment.ms rolls a segment whose first batch is old enough', async () => {
  const { dir, cleanup } = tempDir('segment-ms');
  try {
    const log = openLog(dir, testConfig({ segmentMs: 1000 }));
    append(log, makeBatch('a', 1, 5000), 5000);
    append(log, makeBatch('b', 1, 5500), 5500);
    assert.equal(log.segmentCount, 1);
    append(log, makeBatch('c', 1, 6100), 6100);
    assert.equal(log.segmentCount, 2);
    await log.close();
  } finally {
    cleanup();
  }
});

test('log-append time topics get the broker time as max timestamp, with a valid CRC', async () => {
  const { dir, cleanup } = tempDir('log-append');
  try {
    const log = openLog(dir, testConfig({ timestampType: 'log-append' }));
    const r = append(log, makeBatch('la', 3, 1234), 99_999);
    assert.equal(r.logAppendTime, 99_999);
    const batch = decodeRecordBatch(regionBytes(log.read(0, 1000)!));
    assert.equal(batch.timestampType, 'log-append');
    assert.equal(batch.maxTimestamp, 99_999n);
    assert.deepEqual(log.offsetForTimestamp(99_999), { offset: 0, timestamp: 99_999 });
    await log.close();
  } finally {
    cleanup();
  }
});

test('malformed appends are refused and leave the log untouched', async () => {
  const { dir, cleanup } = tempDir('bad-append');
  try {
    const log = openLog(dir, testConfig());
    append(log, makeBatch('ok', 2, 1));
    const wrongDelta = makeBatch('x', 3, 1);
    wrongDelta.writeInt32BE(5, 23);
    for (const bad of [Buffer.alloc(0), Buffer.alloc(30), wrongDelta, Buffer.concat([makeBatch('y', 1, 1), Buffer.alloc(10)])]) {
      assert.throws(() => append(log, bad), (e) => e instanceof StorageError && e.kind === 'invalid-record');
    }
    assert.equal(log.logEndOffset, 2);
    assert.equal(log.size, makeBatch('ok', 2, 1).length);
    await log.close();
  } finally {
    cleanup();
  }
});

test('an append larger than segment.bytes is refused in both append modes', async () => {
  for (const appendMode of ['write', 'mmap'] as const) {
    const { dir, cleanup } = tempDir('too-large');
    try {
      const log = openLog(dir, testConfig({ appendMode, segmentBytes: 1024 }));
      append(log, makeBatch('small', 1, 1));
      assert.throws(() => append(log, makeBatch('big', 5, 1, { valueBytes: 400 })), (e) => e instanceof StorageError && e.kind === 'record-too-large');
      assert.equal(log.logEndOffset, 1);
      await log.close();
    } finally {
      cleanup();
    }
  }
});

test('closing a sync-flush log with group commits still queued loses no acknowledgement', async () => {
  const { dir, cleanup } = tempDir('close-race');
  try {
    const log = openLog(dir, testConfig({ flushMode: 'sync' }));
    const acks = Array.from({ length: 300 }, (_, i) => append(log, makeBatch(`q${i}`, 1, 1)).durable);
    await log.close();
    const results = await Promise.allSettled(acks);
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), []);
  } finally {
    cleanup();
  }
});

test('sealed segments with mmap indexes keep no preallocated index bytes', async () => {
  const { dir, cleanup } = tempDir('mmap-index');
  try {
    const log = openLog(dir, testConfig({ indexMode: 'mmap', segmentBytes: 1024, indexIntervalBytes: 128 }));
    for (let i = 0; i < 40; i++) append(log, makeBatch(`i${i}`, 2, 1000 + i), 1000);
    assert.ok(log.segmentCount > 2);
    for (const base of log.segmentBaseOffsets().slice(0, -1)) {
      const name = String(base).padStart(20, '0');
      assert.equal(statSync(`${dir}/${name}.index`).size % 8, 0);
      assert.ok(statSync(`${dir}/${name}.index`).size < 4096, 'a sealed index holds entries only');
    }
    // Batch i holds timestamps 1000+i and 1001+i: 1010 first shows in batch 9's second record.
    assert.deepEqual(log.offsetForTimestamp(1010), { offset: 19, timestamp: 1010 });
    await log.close();
  } finally {
    cleanup();
  }
});

/** Bytes this process has had from read system calls (/proc/self/io rchar). */
const bytesRead = (): number => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);

test('a segment left at its preallocated length by a kill mid-roll is cut back to its batches, even below the recovery point', async () => {
  const { dir, cleanup } = tempDir('mid-roll');
  try {
    const config = testConfig({ appendMode: 'mmap', segmentBytes: 64 * 1024 });
    const log = openLog(dir, config);
    while (log.segmentCount < 3) append(log, makeBatch(`r${log.logEndOffset}`, 4, 1000));
    const end = log.logEndOffset;
    const [, middle, last] = log.segmentBaseOffsets();
    await log.close();
    // The state a kill between creating the last segment and trimming the one before leaves:
    // that one at its full mapped length, its tail zeros, and the recovery point at the roll.
    const name = `${dir}/${String(middle).padStart(20, '0')}.log`;
    const size = statSync(name).size;
    truncateSync(name, 64 * 1024);
    const reopened = openLog(dir, config, false, last);
    assert.equal(statSync(name).size, size, 'the zeros past its last batch are gone');
    assert.equal(reopened.loadReport.truncatedBytes, 0, 'zeros are no torn write');
    assert.equal(readAll(reopened).length, end, 'every record reads back');
    assert.equal(reopened.logEndOffset, end);
    await reopened.close();

    // At 1 GiB segments the tail is mostly holes: read, each would fill page cache with zeros.
    truncateSync(name, 256 << 20);
    const readBefore = bytesRead();
    const large = openLog(dir, config, false, last);
    const read = bytesRead() - readBefore;
    assert.equal(statSync(name).size, size);
    // The holes are found with lseek SEEK_DATA, which needs the native addon (CI has it).
    if (nativeAddon) assert.ok(read < 16 << 20, `${read} bytes read to cut a sparse tail of 256 MiB`);
    assert.equal(readAll(large).length, end);
    await large.close();
  } finally {
    cleanup();
  }
});

test('after a crash in mmap mode, recovery ends the active segment at its batches without writing or cutting its mapped tail, and appends go on', { skip: nativeAddon ? false : 'no native addon' }, async () => {
  const { dir, cleanup } = tempDir('mmap-crash-tail');
  try {
    const segmentBytes = 256 << 20;
    const config = testConfig({ appendMode: 'mmap', segmentBytes });
    const log = openLog(dir, config);
    for (let i = 0; i < 20; i++) append(log, makeBatch(`a${i}`, 4, 1000));
    const end = log.logEndOffset;
    await log.close();
    // As a kill leaves it: the file as long as its mapping, zeros past the batches.
    const name = `${dir}/${'0'.padStart(20, '0')}.log`;
    const size = statSync(name).size;
    truncateSync(name, segmentBytes);
    const reopened = openLog(dir, config, false, 0);
    assert.equal(reopened.logEndOffset, end);
    assert.equal(reopened.loadReport.truncatedBytes, 0, 'zeros are no torn write');
    assert.equal(statSync(name).size, segmentBytes, 'the zeros stay for appends to overwrite');
    // Read into its holes, the file would fill page cache with zeros read ahead around the miss.
    assert.ok(pageCacheBytes(name) < 16 * 1024, `${pageCacheBytes(name)} bytes of the segment in the page cache after recovering ${size}`);
    // Zeroed through the mapping, the cut would have written (and taken disk for) 256 MiB.
    assert.ok(statSync(name).blocks * 512 < 1 << 20, `${statSync(name).blocks * 512} bytes of disk after recovery`);
    for (let i = 0; i < 20; i++) append(reopened, makeBatch(`b${i}`, 4, 2000));
    await reopened.close();
    assert.ok(statSync(name).size > size);
    const again = openLog(dir, config);
    assert.equal(readAll(again).length, 2 * end, 'every record reads back');
    await again.close();
  } finally {
    cleanup();
  }
});

/** Whether this process maps `path` (a restart of 30,000 mmap partitions should map none it does not write to). */
const mapsFile = (path: string): boolean => readFileSync('/proc/self/maps', 'utf8').includes(path);

test('in mmap mode an active segment is mapped by its first append, not when its log opens; closed unwritten, it is still trimmed to its data', { skip: nativeAddon ? false : 'no native addon' }, async () => {
  const { dir, cleanup } = tempDir('mmap-lazy');
  try {
    const segmentBytes = 64 << 20;
    const config = testConfig({ appendMode: 'mmap', segmentBytes });
    const name = `${dir}/${'0'.padStart(20, '0')}.log`;
    const log = openLog(dir, config);
    assert.equal(mapsFile(name), false, 'a new log maps nothing before its first append');
    for (let i = 0; i < 10; i++) append(log, makeBatch(`a${i}`, 4, 1000));
    assert.equal(mapsFile(name), true);
    const end = log.logEndOffset;
    await log.close();
    assert.equal(mapsFile(name), false);
    const size = statSync(name).size;

    const clean = openLog(dir, config);
    assert.equal(mapsFile(name), false, 'a clean start maps nothing');
    await clean.close();
    assert.equal(statSync(name).size, size);

    // As a kill leaves it: the file as long as its mapping, zeros past the batches.
    truncateSync(name, segmentBytes);
    const recovered = openLog(dir, config, false, 0);
    assert.equal(recovered.logEndOffset, end);
    assert.equal(mapsFile(name), false, 'nor does recovery');
    await recovered.close();
    assert.equal(statSync(name).size, size, 'closed without an append, the zeros past the data are cut');

    const written = openLog(dir, config);
    for (let i = 0; i < 10; i++) append(written, makeBatch(`b${i}`, 4, 2000));
    assert.equal(mapsFile(name), true);
    await written.close();
    const again = openLog(dir, config);
    assert.equal(readAll(again).length, 2 * end, 'every record reads back');
    await again.close();
  } finally {
    cleanup();
  }
});

test('old record timestamps do not roll a segment per append; segment.ms counts in record time', async () => {
  const { dir, cleanup } = tempDir('old-timestamps');
  try {
    const log = openLog(dir, testConfig({ segmentMs: 1000 }));
    const longAgo = Date.now() - 30 * 24 * 3600 * 1000;
    for (let i = 0; i < 20; i++) append(log, makeBatch(`o${i}`, 1, longAgo + i));
    assert.equal(log.segmentCount, 1);
    append(log, makeBatch('later', 1, longAgo + 5000));
    assert.equal(log.segmentCount, 2);
    await log.close();
  } finally {
    cleanup();
  }
});
