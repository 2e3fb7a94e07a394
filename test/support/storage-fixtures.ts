import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readRegion } from '../../src/storage/log-reader.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { CompressionType } from '../../src/protocol/compression/index.js';
import { HeaderField } from '../../src/protocol/records/batch-layout.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../src/storage/log-config.js';
import { readInt64 } from '../../src/storage/int64.js';
import { nextSegmentStats } from '../../src/storage/next-segment.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { segmentFileName } from '../../src/storage/segment.js';

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bytes of `path` in the page cache (util-linux fincore). */
export function pageCacheBytes(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

export function testConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0, ...overrides };
}

export function openLog(dir: string, config: LogConfig, clean = true, recoveryPoint = 0, logStartOffset = 0): PartitionLog {
  return new PartitionLog(dir, config, { cleanShutdown: clean, recoveryPoint, logStartOffset });
}

/** A producer's batch of `count` records with values tagged by `tag`, timestamps from `timestamp`. */
export function makeBatch(tag: string, count: number, timestamp: number, opts: { compression?: CompressionType; valueBytes?: number; key?: (i: number) => string | null; timestampStep?: number } = {}): Buffer {
  const step = opts.timestampStep ?? 1;
  return encodeRecordBatch({
    baseTimestamp: BigInt(timestamp),
    compression: opts.compression,
    records: Array.from({ length: count }, (_, i) => {
      const key = opts.key ? opts.key(i) : `k-${tag}-${i}`;
      return {
        key: key === null ? null : Buffer.from(key),
        value: Buffer.from(`${tag}-${i}`.padEnd(opts.valueBytes ?? 0, '.')),
        timestampDelta: i * step,
      };
    }),
  });
}

/** The bytes of a file region. */
export const regionBytes = readRegion;

export interface ReadRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
}

/** Every whole batch in a region, opened (a partial last batch is skipped, as clients do). */
export function recordsIn(bytes: Buffer): ReadRecord[] {
  const out: ReadRecord[] = [];
  for (const span of batchSpans(bytes, { allowPartialTail: true })) {
    const batch = decodeRecordBatch(bytes, { offset: span.offset });
    for (const r of batch.records) {
      out.push({
        offset: Number(batch.baseOffset) + r.offsetDelta,
        timestamp: batch.timestampType === 'log-append' ? Number(batch.maxTimestamp) : Number(batch.baseTimestamp) + r.timestampDelta,
        key: r.key === null ? null : r.key.toString(),
        value: r.value === null ? null : r.value.toString(),
      });
    }
  }
  return out;
}

/** Reads the whole log from `from` by repeated reads, as a consumer would. */
export function readAll(log: PartitionLog, from = log.logStartOffset, maxBytes = 1 << 20): ReadRecord[] {
  const out: ReadRecord[] = [];
  let next = from;
  while (next < log.logEndOffset) {
    const region = log.read(next, maxBytes);
    if (!region) break;
    const records = recordsIn(regionBytes(region)).filter((r) => r.offset >= next);
    if (records.length === 0) throw new Error(`no progress reading at ${next}`);
    out.push(...records);
    next = records[records.length - 1].offset + 1;
  }
  return out;
}

/** A stable 32-bit hash of a non-negative integer, so generated content is a function of it. */
function mix32(n: number): number {
  let h = Math.imul((n ^ Math.floor(n / 0x1_0000_0000)) >>> 0, 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

const GENERATED_CODECS: readonly CompressionType[] = [
  CompressionType.None,
  CompressionType.None,
  CompressionType.Gzip,
  CompressionType.Snappy,
  CompressionType.Lz4,
  CompressionType.Zstd,
];

export interface GeneratedBatch {
  /** As a producer sends it (base offset 0): append assigns the offsets. */
  bytes: Buffer;
  /** Its first record's timestamp, also used as the broker clock when appending it. */
  timestamp: number;
  /** Records in it: the next batch's base offset is this much further on. */
  count: number;
}

/**
 * The batch a deterministic producer appends when the log ends at `baseOffset`. Record count,
 * codec, value sizes (now and then large) and timestamps (wandering back and forth, so the time
 * index sees out-of-order batches) all follow from the offset: any prefix of a log written this
 * way can be checked without knowing where its writer was interrupted. No batch reaches 16 KiB,
 * so a log with segment.bytes of 16 KiB or more takes every one in mmap mode too.
 */
export function generatedBatch(baseOffset: number): GeneratedBatch {
  const h = mix32(baseOffset);
  const count = 1 + (h & 7);
  const compression = GENERATED_CODECS[(h >>> 3) % GENERATED_CODECS.length];
  const valueBytes = (h >>> 6) % 16 === 0 ? 1000 + ((h >>> 10) % 900) : (h >>> 10) % 300;
  const timestamp = 1_700_000_000_000 + baseOffset * 10 + ((h >>> 20) % 200) - 100;
  const bytes = makeBatch(`g${baseOffset}`, count, timestamp, { compression, valueBytes, timestampStep: 1 + (h >>> 30) });
  return { bytes, timestamp, count };
}

/** Appends the next `count` generated batches; returns the new log end. */
export function appendGenerated(log: PartitionLog, count: number, leaderEpoch = 1): number {
  for (let i = 0; i < count; i++) {
    const { bytes, timestamp } = generatedBatch(log.logEndOffset);
    log.append(bytes, { leaderEpoch, now: timestamp, assignOffsets: true });
  }
  return log.logEndOffset;
}

/**
 * Appends generated batches until the active segment (mmap mode) has asked for its successor,
 * which it does once an eighth full; returns the log's size before the last append and after.
 */
export function appendUntilRequested(log: PartitionLog): { before: number; after: number } {
  const requested = nextSegmentStats.requested;
  let before = log.size;
  while (nextSegmentStats.requested === requested) {
    before = log.size;
    appendGenerated(log, 1);
  }
  return { before, after: log.size };
}

/** Every batch the log serves from `from` on, each as its own buffer, read as a consumer would. */
export function readBatches(log: PartitionLog, from = log.logStartOffset, maxBytes = 1 << 20): Buffer[] {
  const out: Buffer[] = [];
  let next = from;
  while (next < log.logEndOffset) {
    const region = log.read(next, maxBytes);
    if (!region) break;
    const bytes = regionBytes(region);
    const before = next;
    // Throws on a batch with a bad length or magic: a log must never serve one.
    for (const span of batchSpans(bytes, { allowPartialTail: true })) {
      const batch = bytes.subarray(span.offset, span.offset + span.size);
      const lastOffset = readInt64(batch, HeaderField.baseOffset) + batch.readInt32BE(HeaderField.lastOffsetDelta);
      if (lastOffset < next) continue;
      out.push(batch);
      next = lastOffset + 1;
    }
    if (next === before) throw new Error(`no progress reading at ${next}`);
  }
  return out;
}

// Generated batches are compressed, so checks re-encode each base offset once per process.
const expectedBatches = new Map<number, Buffer>();

function expectedBatch(baseOffset: number): Buffer {
  let bytes = expectedBatches.get(baseOffset);
  if (!bytes) {
    if (expectedBatches.size > 100_000) expectedBatches.clear();
    bytes = generatedBatch(baseOffset).bytes;
    expectedBatches.set(baseOffset, bytes);
  }
  return bytes;
}

/**
 * Asserts that `batches`, served in order from offset `from`, are exactly what generatedBatch
 * wrote: offsets contiguous, every batch decoding with a valid CRC, and its bytes from the
 * magic on (codec, timestamps, records) equal to the original's. Returns the offset after them.
 */
export function assertGeneratedPrefix(batches: readonly Buffer[], from = 0): number {
  let next = from;
  for (const bytes of batches) {
    const batch = decodeRecordBatch(bytes);
    assert.equal(Number(batch.baseOffset), next, `the batch after offset ${next - 1} starts at ${batch.baseOffset}`);
    const expected = expectedBatch(next);
    assert.ok(bytes.subarray(HeaderField.magic).equals(expected.subarray(HeaderField.magic)), `the batch at ${next} is not the one written there`);
    next += batch.lastOffsetDelta + 1;
  }
  return next;
}

/** Asserts that a read from each offset starts with the batch holding that offset. */
export function assertReadsFind(log: PartitionLog, offsets: Iterable<number>): void {
  for (const offset of offsets) {
    const region = log.read(offset, 1);
    assert.ok(region, `nothing read at ${offset}`);
    assert.ok(recordsIn(regionBytes(region)).some((r) => r.offset === offset), `read(${offset}) misses its batch`);
  }
}

/** About `count` elements of `items`, evenly spread, first and last included. */
function spread<T>(items: readonly T[], count: number): T[] {
  const step = Math.max(1, (items.length - 1) / Math.max(1, count - 1));
  const out: T[] = [];
  for (let i = 0; i < items.length; i += step) out.push(items[Math.floor(i)]);
  if (items.length > 0 && out.at(-1) !== items.at(-1)) out.push(items.at(-1)!);
  return out;
}

/**
 * Asserts that reads by offset and offsetForTimestamp agree with a brute-force scan of
 * `records` (everything the log holds), at about `samples` offsets and distinct timestamps.
 */
export function assertLookupsMatchScan(log: PartitionLog, records: readonly ReadRecord[], samples = records.length): void {
  assertReadsFind(log, spread(records, samples).map((r) => r.offset));
  if (records.length === 0) return;
  const times = [...new Set(records.map((r) => r.timestamp))];
  for (const t of [...spread(times, samples), Math.min(...times) - 1, Math.max(...times) + 1]) {
    const brute = records.find((r) => r.timestamp >= t);
    assert.deepEqual(log.offsetForTimestamp(t), brute ? { offset: brute.offset, timestamp: brute.timestamp } : null, `offsetForTimestamp(${t})`);
  }
  assert.equal(log.maxTimestampAndOffset()?.timestamp, Math.max(...times), 'max timestamp');
}

/** Asserts the log's directory holds the three files of each of its segments and nothing else. */
export function assertOnlySegmentFiles(log: PartitionLog): void {
  const expected = log.segmentBaseOffsets().flatMap((base) => ['.log', '.index', '.timeindex'].map((s) => segmentFileName(base, s)));
  assert.deepEqual(readdirSync(log.dir).sort(), expected.sort(), `files in ${log.dir}`);
}
