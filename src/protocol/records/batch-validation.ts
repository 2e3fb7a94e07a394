import { ProtocolError } from '../protocol-error.js';
import { RecordBatchHeader } from './batch-header.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from './batch-layout.js';
import { openBatchRecords } from './batch-records.js';

/**
 * Sees one record's key and value as spans of records, the buffer scanned: the batch's own
 * buffer, or for a compressed batch its decompressed records. A length of -1 means null.
 * Nothing is reused afterwards, so the spans stay valid after the call.
 */
export type RecordSpanVisitor = (
  records: Buffer,
  keyStart: number,
  keyLength: number,
  valueStart: number,
  valueLength: number,
  /** The record's index in its batch (its offset delta). */
  index: number,
  /** The record's timestamp delta from the batch's baseTimestamp. */
  timestampDelta: number,
) => void;

export interface ValidateRecordBatchOptions {
  /** Cap on the decompressed records; default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  maxDecompressedBytes?: number;
  /** Called once per record, in order; compacted topics need the keys. */
  onRecord?: RecordSpanVisitor;
}

/** What the validating walk saw of a batch's records: later checks need not walk or decompress them again. */
export interface WalkedRecords {
  recordCount: number;
  /** Whether any record has headers (most batches have none). */
  headersSeen: boolean;
  /** The records' bytes: a view of the batch, or its decompressed records. */
  records: Buffer;
}

/**
 * The produce path's check of one batch, with no allocation per record: size fields, magic,
 * CRC, that the (decompressed) records are exactly recordCount well-formed records, that record
 * i has offsetDelta i and that lastOffsetDelta is recordCount - 1, as Kafka requires of
 * produced batches (which also must not be empty). Returns what it walked; throws
 * ProtocolError saying what is wrong.
 */
export function validateRecordBatch(buf: Buffer, offset = 0, options: ValidateRecordBatchOptions = {}): WalkedRecords {
  const header = new RecordBatchHeader();
  const cursor = openBatchRecords(
    buf,
    offset,
    header,
    options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
  );
  const count = header.recordCount;
  if (count === 0) throw new ProtocolError('invalid-value', `batch at ${offset} holds no records`);
  const lastOffsetDelta = header.lastOffsetDelta;
  if (lastOffsetDelta !== count - 1) {
    throw new ProtocolError(
      'invalid-value',
      `batch at ${offset} has lastOffsetDelta ${lastOffsetDelta} for ${count} records`,
    );
  }
  const onRecord = options.onRecord;
  // The fast path takes every plain record; next() takes the rest and says what is wrong.
  for (;;) {
    cursor.skipSequential(onRecord);
    if (!cursor.next(null)) return { recordCount: count, headersSeen: cursor.headersSeen, records: cursor.records };
    if (cursor.offsetDelta !== cursor.index) {
      throw new ProtocolError('invalid-value', `record ${cursor.index} has offsetDelta ${cursor.offsetDelta}`);
    }
    onRecord?.(cursor.buf, cursor.keyStart, cursor.keyLength, cursor.valueStart, cursor.valueLength, cursor.index, cursor.timestampDelta);
  }
}
