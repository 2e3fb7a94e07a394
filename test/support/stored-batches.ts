import type { Partition } from '../../src/replication/partition.js';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch, type RecordBatch } from '../../src/protocol/records/record-batch.js';
import { regionBytes } from './storage-fixtures.js';

/** Every batch a partition's log holds, decoded, in offset order (a read stays within a segment). */
export function storedBatches(p: Partition): RecordBatch[] {
  const batches: RecordBatch[] = [];
  for (let next = p.log.logStartOffset; next < p.log.logEndOffset; ) {
    const bytes = regionBytes(p.log.read(next, 64 * 1024 * 1024)!);
    for (const span of batchSpans(bytes)) {
      const batch = decodeRecordBatch(bytes, { offset: span.offset });
      batches.push(batch);
      next = Number(batch.baseOffset) + batch.lastOffsetDelta + 1;
    }
  }
  return batches;
}
