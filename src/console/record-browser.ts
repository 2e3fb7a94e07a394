import type { Partition } from '../replication/partition.js';
import type { TimestampType } from '../protocol/records/batch-layout.js';
import { decodeRecordBatch } from '../protocol/records/record-batch.js';
import { bytesView, type ByteEncoding, type BytesView } from './bytes-view.js';

export interface BrowsedRecord {
  offset: number;
  timestamp: number;
  timestampType: TimestampType;
  key: BytesView | null;
  value: BytesView | null;
  headers: { key: string; value: BytesView | null }[];
}

export interface BrowseResult {
  records: BrowsedRecord[];
  /** Where the next page starts. */
  nextOffset: number;
  logStartOffset: number;
  highWatermark: number;
}

/** The first position to read from: an offset, or the first record at or after a time. */
export type BrowseFrom = { offset: number } | { timestamp: number };

/**
 * Once a page holds this many key and value bytes it ends, whatever the limit: a page of
 * large records must not turn into hundreds of megabytes of JSON.
 */
const PAGE_BYTE_BUDGET = 4 << 20;

function startOffset(partition: Partition, from: BrowseFrom): number {
  const log = partition.log;
  // Out of range is not an error in a browser: the page starts at the nearest end.
  if ('offset' in from) return Math.min(Math.max(from.offset, log.logStartOffset), partition.highWatermark);
  // No record that recent: the page starts where the next record will be.
  return log.offsetForTimestamp(from.timestamp)?.offset ?? partition.highWatermark;
}

/**
 * Up to `limit` records of a partition, below the high watermark as a consumer sees them.
 * Batches are read one at a time, so a page costs what it shows, not what the log holds.
 */
export function browseRecords(partition: Partition, from: BrowseFrom, limit: number, encoding: ByteEncoding): BrowseResult {
  const log = partition.log;
  const end = partition.highWatermark;
  const records: BrowsedRecord[] = [];
  let bytes = 0;
  const full = (): boolean => records.length >= limit || bytes >= PAGE_BYTE_BUDGET;
  const page = (nextOffset: number): BrowseResult => ({ records, nextOffset, logStartOffset: log.logStartOffset, highWatermark: end });
  let next = startOffset(partition, from);
  while (!full() && next < end) {
    const batchBytes = log.readBatchAt(next);
    if (!batchBytes) {
      // Compaction can leave a segment ending before the next one starts.
      const later = log.segmentBaseOffsets().find((base) => base > next);
      if (later === undefined) break;
      next = later;
      continue;
    }
    const batch = decodeRecordBatch(batchBytes);
    const base = Number(batch.baseOffset);
    // Control batches are the broker's markers, not anyone's data.
    if (!batch.control) {
      for (const r of batch.records) {
        const offset = base + r.offsetDelta;
        if (offset < next || offset >= end) continue;
        if (full()) return page(offset);
        records.push({
          offset,
          timestamp: batch.timestampType === 'log-append' ? Number(batch.maxTimestamp) : Number(batch.baseTimestamp) + r.timestampDelta,
          timestampType: batch.timestampType,
          key: bytesView(r.key, encoding),
          value: bytesView(r.value, encoding),
          headers: r.headers.map((h) => ({ key: h.key, value: bytesView(h.value, encoding) })),
        });
        bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
      }
    }
    next = Math.max(next, base + batch.lastOffsetDelta + 1);
  }
  return page(next);
}
