import { CompressionType, decompress } from '../compression/index.js';
import type { RecordBatchHeader } from './batch-header.js';
import { RECORD_BATCH_HEADER_SIZE } from './batch-layout.js';
import { batchSizeAt } from './batch-spans.js';
import { RecordCursor } from './record-cursor.js';

/**
 * Checks a batch up to its records (size fields, magic, CRC) and returns a cursor over them,
 * decompressed once, under the cap, when a codec is set. header is left pointing at the batch.
 * The CRC goes first, so damaged bytes are reported as such rather than as a codec failure.
 */
export function openBatchRecords(
  buf: Buffer,
  offset: number,
  header: RecordBatchHeader,
  maxDecompressedBytes: number,
): RecordCursor {
  const end = offset + batchSizeAt(buf, offset);
  header.reset(buf, offset);
  header.verifyCrc();
  const start = offset + RECORD_BATCH_HEADER_SIZE;
  const compression = header.compression;
  if (compression === CompressionType.None) return new RecordCursor(buf, start, end, header.recordCount);
  const records = decompress(compression, buf.subarray(start, end), maxDecompressedBytes);
  return new RecordCursor(records, 0, records.length, header.recordCount);
}
