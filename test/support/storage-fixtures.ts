import { mkdtempSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import type { CompressionType } from '../../src/protocol/compression/index.js';
import type { FileRegion } from '../../src/native/file-transfer.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../src/storage/log-config.js';
import { PartitionLog } from '../../src/storage/partition-log.js';

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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
export function regionBytes(region: FileRegion): Buffer {
  const out = Buffer.alloc(region.byteLength);
  let done = 0;
  while (done < region.byteLength) {
    const n = readSync(region.fd, out, done, region.byteLength - done, region.position + done);
    if (n === 0) break;
    done += n;
  }
  return out.subarray(0, done);
}

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
