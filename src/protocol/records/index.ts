export { RecordBatchHeader } from './batch-header.js';
export {
  Attribute,
  BATCH_LENGTH_OVERHEAD,
  CRC_START,
  CURRENT_MAGIC,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  hasProducerId,
  HeaderField,
  MIN_BATCH_LENGTH,
  MIN_RECORD_SIZE,
  RECORD_BATCH_HEADER_SIZE,
  type TimestampType,
} from './batch-layout.js';
export { batchSizeAt, batchSpans, type BatchSpan, type BatchSpanOptions } from './batch-spans.js';
export { validateRecordBatch, type RecordSpanVisitor, type ValidateRecordBatchOptions, type WalkedRecords } from './batch-validation.js';
export { crc32c, crc32cImplementation, crc32cImplementations, crc32cJs, type Crc32cImplementation } from './crc32c.js';
export type { Record, RecordHeader, RecordHeaderInput, RecordInput } from './record.js';
export {
  decodeRecordBatch,
  encodeRecordBatch,
  type DecodeRecordBatchOptions,
  type RecordBatch,
  type RecordBatchInput,
} from './record-batch.js';
