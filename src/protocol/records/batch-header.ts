import { ProtocolError } from '../protocol-error.js';
import {
  Attribute,
  BATCH_LENGTH_OVERHEAD,
  CRC_START,
  HeaderField,
  RECORD_BATCH_HEADER_SIZE,
  type TimestampType,
} from './batch-layout.js';
import { batchSizeAt } from './batch-spans.js';
import { crc32c } from './crc32c.js';
import { controlRecordAt, type ControlRecord } from './control-record.js';
import { readBigInt64, writeBigInt64 } from '../primitives/int64.js';

const EMPTY = Buffer.alloc(0);

/**
 * A view of one batch header in place: fields are read from and written to the buffer on
 * access, and the records are never parsed. One instance can be pointed at batch after batch
 * with reset(), so the broker's append path allocates nothing per batch except the bigints it
 * asks for.
 */
export class RecordBatchHeader {
  private buf: Buffer = EMPTY;
  private at = 0;

  constructor(buf?: Buffer, offset = 0) {
    if (buf !== undefined) this.reset(buf, offset);
  }

  /** This control batch's record, when its bytes are in the buffer (see controlRecordAt). */
  get controlRecord(): ControlRecord | null {
    return controlRecordAt(this.buf, this.at);
  }

  /** Points the view at the batch at offset; only the 61 header bytes need to be there. */
  reset(buf: Buffer, offset = 0): this {
    if (offset < 0 || buf.length - offset < RECORD_BATCH_HEADER_SIZE) {
      throw new ProtocolError('truncated', `a batch header needs ${RECORD_BATCH_HEADER_SIZE} bytes at ${offset}`);
    }
    this.buf = buf;
    this.at = offset;
    return this;
  }

  get baseOffset(): bigint {
    return readBigInt64(this.buf, this.at + HeaderField.baseOffset);
  }

  /** Outside the CRC: assigning offsets on append needs no checksum work. */
  set baseOffset(value: bigint) {
    writeBigInt64(this.buf, value, this.at + HeaderField.baseOffset);
  }

  get batchLength(): number {
    return this.buf.readInt32BE(this.at + HeaderField.batchLength);
  }

  /** The whole batch in bytes, header included. */
  get totalSize(): number {
    return BATCH_LENGTH_OVERHEAD + this.batchLength;
  }

  get partitionLeaderEpoch(): number {
    return this.buf.readInt32BE(this.at + HeaderField.partitionLeaderEpoch);
  }

  /** Outside the CRC, like baseOffset. */
  set partitionLeaderEpoch(value: number) {
    this.buf.writeInt32BE(value, this.at + HeaderField.partitionLeaderEpoch);
  }

  get magic(): number {
    return this.buf.readInt8(this.at + HeaderField.magic);
  }

  get crc(): number {
    return this.buf.readUInt32BE(this.at + HeaderField.crc);
  }

  get attributes(): number {
    return this.buf.readInt16BE(this.at + HeaderField.attributes);
  }

  /** The codec id; 5 to 7 are unassigned and fail when the records are decompressed. */
  get compression(): number {
    return this.attributes & Attribute.compressionMask;
  }

  get timestampType(): TimestampType {
    return this.attributes & Attribute.logAppendTime ? 'log-append' : 'create';
  }

  get isTransactional(): boolean {
    return (this.attributes & Attribute.transactional) !== 0;
  }

  get isControl(): boolean {
    return (this.attributes & Attribute.control) !== 0;
  }

  get hasDeleteHorizon(): boolean {
    return (this.attributes & Attribute.deleteHorizon) !== 0;
  }

  get lastOffsetDelta(): number {
    return this.buf.readInt32BE(this.at + HeaderField.lastOffsetDelta);
  }

  get lastOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta);
  }

  get baseTimestamp(): bigint {
    return readBigInt64(this.buf, this.at + HeaderField.baseTimestamp);
  }

  get maxTimestamp(): bigint {
    return readBigInt64(this.buf, this.at + HeaderField.maxTimestamp);
  }

  get producerId(): bigint {
    return readBigInt64(this.buf, this.at + HeaderField.producerId);
  }

  get producerEpoch(): number {
    return this.buf.readInt16BE(this.at + HeaderField.producerEpoch);
  }

  get baseSequence(): number {
    return this.buf.readInt32BE(this.at + HeaderField.baseSequence);
  }

  get recordCount(): number {
    return this.buf.readInt32BE(this.at + HeaderField.recordCount);
  }

  /** CRC32C of the batch as it is now; the whole batch must be in the buffer. */
  computeCrc(): number {
    return crc32c(this.crcCoverage());
  }

  /** The bytes the CRC covers, after checking that the whole batch is there. */
  private crcCoverage(): Buffer {
    const end = this.at + batchSizeAt(this.buf, this.at);
    return this.buf.subarray(this.at + CRC_START, end);
  }

  /** Throws ProtocolError('checksum') unless the stored CRC matches the batch's bytes. */
  verifyCrc(): void {
    const computed = this.computeCrc();
    const stored = this.crc;
    if (computed !== stored) {
      throw new ProtocolError(
        'checksum',
        `batch at ${this.at}: CRC ${hex(stored)} does not match the computed ${hex(computed)}`,
      );
    }
  }

  /**
   * Sets the timestamp type and maxTimestamp, as the broker does for log-append time, and
   * rewrites the CRC that covers them. A batch that already says so is left untouched.
   */
  setMaxTimestamp(timestampType: TimestampType, maxTimestamp: bigint): void {
    const attributes = this.attributes;
    const wanted =
      timestampType === 'log-append' ? attributes | Attribute.logAppendTime : attributes & ~Attribute.logAppendTime;
    if (wanted === attributes && this.maxTimestamp === maxTimestamp) return;
    const covered = this.crcCoverage();
    this.buf.writeInt16BE(wanted, this.at + HeaderField.attributes);
    writeBigInt64(this.buf, maxTimestamp, this.at + HeaderField.maxTimestamp);
    this.buf.writeUInt32BE(crc32c(covered), this.at + HeaderField.crc);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
