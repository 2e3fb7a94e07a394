import { readSync } from 'node:fs';
import { HeaderField } from '../protocol/records/batch-layout.js';
import { batchSizeAt } from '../protocol/records/batch-spans.js';
import { readInt64 } from './int64.js';
import type { PartitionLog } from './partition-log.js';

const CHUNK = 1 << 20;

/**
 * Calls `visit` with every whole batch from `from` up to `upTo`, read into memory: for the
 * broker's own replays (__consumer_offsets at start-up), never for serving clients.
 */
export function forEachBatch(log: PartitionLog, from: number, upTo: number, visit: (batch: Buffer) => void): void {
  let next = from;
  while (next < upTo) {
    const region = log.read(next, CHUNK, upTo);
    if (!region) return;
    const bytes = Buffer.allocUnsafe(region.byteLength);
    let got = 0;
    while (got < bytes.length) {
      const n = readSync(region.fd, bytes, got, bytes.length - got, region.position + got);
      if (n === 0) break;
      got += n;
    }
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
