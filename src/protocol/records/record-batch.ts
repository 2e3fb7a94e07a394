import { CompressionType, compress } from '../compression/index.js';
import { RecordBatchHeader } from './batch-header.js';
import {
  Attribute,
  BATCH_LENGTH_OVERHEAD,
  CRC_START,
  CURRENT_MAGIC,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  HeaderField,
  RECORD_BATCH_HEADER_SIZE,
  type TimestampType,
} from './batch-layout.js';
import { openBatchRecords } from './batch-records.js';
import { crc32c } from './crc32c.js';
import type { Record, RecordHeader, RecordInput } from './record.js';
import { encodeRecords } from './record-encoder.js';
import { writeBigInt64 } from '../primitives/int64.js';

export interface RecordBatchInput {
  /** Default 0n: producers leave offsets to the broker. */
  baseOffset?: bigint;
  /** Default -1 (unknown). */
  partitionLeaderEpoch?: number;
  /** Default none. */
  compression?: CompressionType;
  /** The codec's level (compression.gzip.level, compression.zstd.level); default the codec's own. */
  compressionLevel?: number;
  /** Default 'create'. */
  timestampType?: TimestampType;
  transactional?: boolean;
  control?: boolean;
  /** Default -1n: no idempotent producer. */
  producerId?: bigint;
  /** Default -1. */
  producerEpoch?: number;
  /** Default -1. */
  baseSequence?: number;
  baseTimestamp: bigint;
  /** Default baseTimestamp plus the largest timestampDelta (baseTimestamp when empty). */
  maxTimestamp?: bigint;
  records: readonly RecordInput[];
}

export interface RecordBatch {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: CompressionType;
  timestampType: TimestampType;
  transactional: boolean;
  control: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: Record[];
}

export interface DecodeRecordBatchOptions {
  /** Where the batch starts in the buffer; default 0. */
  offset?: number;
  /** Cap on the decompressed records; default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  maxDecompressedBytes?: number;
}

/** One batch in wire form, CRC included. lastOffsetDelta is the last record's offsetDelta. */
export function encodeRecordBatch(input: RecordBatchInput): Buffer {
  const compression = input.compression ?? CompressionType.None;
  const { records } = input;
  let batch: Buffer;
  if (compression === CompressionType.None) {
    batch = encodeRecords(records, RECORD_BATCH_HEADER_SIZE);
  } else {
    const compressed = compress(compression, encodeRecords(records, 0), input.compressionLevel);
    batch = Buffer.allocUnsafe(RECORD_BATCH_HEADER_SIZE + compressed.length);
    compressed.copy(batch, RECORD_BATCH_HEADER_SIZE);
  }

  let attributes: number = compression;
  if (input.timestampType === 'log-append') attributes |= Attribute.logAppendTime;
  if (input.transactional === true) attributes |= Attribute.transactional;
  if (input.control === true) attributes |= Attribute.control;
  const last = records.length - 1;
  const lastOffsetDelta = last < 0 ? -1 : (records[last].offsetDelta ?? last);
  const maxTimestamp = input.maxTimestamp ?? defaultMaxTimestamp(input.baseTimestamp, records);

  writeBigInt64(batch, input.baseOffset ?? 0n, HeaderField.baseOffset);
  batch.writeInt32BE(batch.length - BATCH_LENGTH_OVERHEAD, HeaderField.batchLength);
  batch.writeInt32BE(input.partitionLeaderEpoch ?? -1, HeaderField.partitionLeaderEpoch);
  batch.writeInt8(CURRENT_MAGIC, HeaderField.magic);
  batch.writeInt16BE(attributes, HeaderField.attributes);
  batch.writeInt32BE(lastOffsetDelta, HeaderField.lastOffsetDelta);
  writeBigInt64(batch, input.baseTimestamp, HeaderField.baseTimestamp);
  writeBigInt64(batch, maxTimestamp, HeaderField.maxTimestamp);
  writeBigInt64(batch, input.producerId ?? -1n, HeaderField.producerId);
  batch.writeInt16BE(input.producerEpoch ?? -1, HeaderField.producerEpoch);
  batch.writeInt32BE(input.baseSequence ?? -1, HeaderField.baseSequence);
  batch.writeInt32BE(records.length, HeaderField.recordCount);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), HeaderField.crc);
  return batch;
}

/**
 * `batch` with its records taken out and its offsets kept: what Kafka's log cleaner leaves of an
 * idempotent producer's last batch, so the producer's sequence outlives the records.
 */
export function emptiedBatch(batch: Buffer): Buffer {
  const empty = Buffer.from(batch.subarray(0, RECORD_BATCH_HEADER_SIZE));
  empty.writeInt32BE(RECORD_BATCH_HEADER_SIZE - BATCH_LENGTH_OVERHEAD, HeaderField.batchLength);
  empty.writeInt16BE(empty.readInt16BE(HeaderField.attributes) & ~Attribute.compressionMask, HeaderField.attributes);
  empty.writeInt32BE(0, HeaderField.recordCount);
  empty.writeUInt32BE(crc32c(empty.subarray(CRC_START)), HeaderField.crc);
  return empty;
}

function defaultMaxTimestamp(baseTimestamp: bigint, records: readonly RecordInput[]): bigint {
  if (records.length === 0) return baseTimestamp;
  let maxDelta = -Infinity;
  for (const record of records) maxDelta = Math.max(maxDelta, record.timestampDelta ?? 0);
  return baseTimestamp + BigInt(maxDelta);
}

/**
 * Decodes the batch at options.offset completely, after checking its size fields, magic and
 * CRC, and that its records are exactly recordCount well-formed records. Record keys and values
 * are views, not copies (see Record).
 */
export function decodeRecordBatch(buf: Buffer, options: DecodeRecordBatchOptions = {}): RecordBatch {
  const header = new RecordBatchHeader();
  const cursor = openBatchRecords(
    buf,
    options.offset ?? 0,
    header,
    options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
  );
  const records: Record[] = [];
  for (;;) {
    const headers: RecordHeader[] = [];
    if (!cursor.next(headers)) break;
    records.push({
      attributes: cursor.attributes,
      timestampDelta: cursor.timestampDelta,
      offsetDelta: cursor.offsetDelta,
      key: span(cursor.buf, cursor.keyStart, cursor.keyLength),
      value: span(cursor.buf, cursor.valueStart, cursor.valueLength),
      headers,
    });
  }
  return {
    baseOffset: header.baseOffset,
    batchLength: header.batchLength,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    magic: header.magic,
    crc: header.crc,
    attributes: header.attributes,
    // openBatchRecords has decompressed with it, so it is a known codec.
    compression: header.compression as CompressionType,
    timestampType: header.timestampType,
    transactional: header.isTransactional,
    control: header.isControl,
    hasDeleteHorizon: header.hasDeleteHorizon,
    lastOffsetDelta: header.lastOffsetDelta,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    records,
  };
}

function span(buf: Buffer, start: number, length: number): Buffer | null {
  return length < 0 ? null : buf.subarray(start, start + length);
}
