import { readSync } from 'node:fs';
import { Attribute, HeaderField } from '../protocol/records/batch-layout.js';
import { batchSizeAt } from '../protocol/records/batch-spans.js';
import type { FileRegion } from '../native/file-transfer.js';
import { readInt64 } from './int64.js';
import type { PartitionLog } from './partition-log.js';
import { readBigInt64 } from '../protocol/primitives/int64.js';

const CHUNK = 1 << 20;

/** The bytes of a file region, read into memory (shorter if the file is). */
export function readRegion(region: FileRegion): Buffer {
  const out = Buffer.allocUnsafe(region.byteLength);
  const done = region.file.use((fd) => {
    let n = 0;
    while (n < out.length) {
      const got = readSync(fd, out, n, out.length - n, region.position + n);
      if (got === 0) break;
      n += got;
    }
    return n;
  });
  return out.subarray(0, done);
}

/**
 * Calls `visit` with every whole batch from `from` up to `upTo`, read into memory: for the
 * broker's own replays (__consumer_offsets at start-up), never for serving clients.
 */
export function forEachBatch(log: PartitionLog, from: number, upTo: number, visit: (batch: Buffer) => void): void {
  let next = from;
  while (next < upTo) {
    const region = log.read(next, CHUNK, upTo);
    if (!region) return;
    const bytes = readRegion(region);
    const got = bytes.length;
    let at = 0;
    let advanced = false;
    while (at < got) {
      const size = batchSizeAt(bytes, at, got, true);
      if (size === 0) break;
      const batch = bytes.subarray(at, at + size);
      const last = readInt64(batch, 0) + batch.readInt32BE(HeaderField.lastOffsetDelta);
      if (last >= next) {
        visit(batch);
        next = last + 1;
        advanced = true;
      }
      at += size;
    }
    if (!advanced) return;
  }
}

/** One whole batch of a log read into memory, with its offsets. */
export interface LogBatch {
  baseOffset: number;
  lastOffset: number;
  /** A transaction marker, or a batch emptied of its records (an idempotent producer's held batch): nothing to hand out. */
  recordless: boolean;
  /** The batch's producer when it belongs to a transaction, else null. */
  transactionOf: bigint | null;
  bytes: Buffer;
}

/**
 * The whole batches from the one holding `offset`, about `maxBytes` of them (always at least
 * one) below `upTo`, read into memory: for share groups, which hand out records by offset.
 */
export function batchesFrom(log: PartitionLog, offset: number, maxBytes: number, upTo: number): LogBatch[] {
  const region = log.read(offset, Math.max(maxBytes, 1), upTo);
  if (!region) return [];
  const bytes = readRegion(region);
  const out: LogBatch[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = batchSizeAt(bytes, at, bytes.length, true);
    if (size === 0) break;
    const baseOffset = readInt64(bytes, at + HeaderField.baseOffset);
    const attributes = bytes.readInt16BE(at + HeaderField.attributes);
    out.push({
      baseOffset,
      lastOffset: baseOffset + bytes.readInt32BE(at + HeaderField.lastOffsetDelta),
      recordless: (attributes & Attribute.control) !== 0 || bytes.readInt32BE(at + HeaderField.recordCount) === 0,
      transactionOf: attributes & Attribute.transactional ? readBigInt64(bytes, at + HeaderField.producerId) : null,
      bytes: bytes.subarray(at, at + size),
    });
    at += size;
  }
  return out;
}
