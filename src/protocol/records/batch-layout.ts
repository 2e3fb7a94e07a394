/**
 * Record batch v2 (magic 2) layout. The header is 61 bytes, big-endian; the records follow,
 * compressed as one block when the codec bits are set.
 */

/** Byte position of each header field from the start of the batch. */
export const HeaderField = {
  baseOffset: 0, // int64
  batchLength: 8, // int32: bytes after this field
  partitionLeaderEpoch: 12, // int32
  magic: 16, // int8
  crc: 17, // uint32: CRC32C from attributes to the end of the batch
  attributes: 21, // int16
  lastOffsetDelta: 23, // int32
  baseTimestamp: 27, // int64
  maxTimestamp: 35, // int64
  producerId: 43, // int64
  producerEpoch: 51, // int16
  baseSequence: 53, // int32
  recordCount: 57, // int32
} as const;

export const RECORD_BATCH_HEADER_SIZE = 61;

/** baseOffset and batchLength: the bytes batchLength does not count. */
export const BATCH_LENGTH_OVERHEAD = 12;

/** The smallest batchLength: a header with no records. */
export const MIN_BATCH_LENGTH = RECORD_BATCH_HEADER_SIZE - BATCH_LENGTH_OVERHEAD;

/** The CRC covers everything from here to the end of the batch. */
export const CRC_START = HeaderField.attributes;

export const CURRENT_MAGIC = 2;

/** Whether the batch at `at` carries an idempotent producer's id (Kafka: producerId > -1). */
export function hasProducerId(buf: Buffer, at = 0): boolean {
  // The sign of an int64 is the sign of its high word: no BigInt needed to tell.
  return buf.readInt32BE(at + HeaderField.producerId) >= 0;
}

/** Bits of the attributes field. */
export const Attribute = {
  compressionMask: 0x07,
  logAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

export type TimestampType = 'create' | 'log-append';

/**
 * The smallest record on the wire: one byte each for length, attributes, timestampDelta,
 * offsetDelta, key length, value length and header count.
 */
export const MIN_RECORD_SIZE = 7;

/** A header is at least a key length and a value length, one byte each. */
export const MIN_RECORD_HEADER_SIZE = 2;

/** Bound on decompressed record bytes when the caller gives none; Kafka batches are far smaller. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
