import { RECORD_BATCH_HEADER_SIZE } from './batch-layout.js';
import { encodeRecordBatch } from './record-batch.js';

/** Kafka's ControlRecordType: what a control batch's one record says. */
export const ControlType = { ABORT: 0, COMMIT: 1 } as const;
export type ControlTypeId = (typeof ControlType)[keyof typeof ControlType];

/**
 * A transaction marker as the coordinator has it written (Kafka's EndTransactionMarker): a
 * control batch of the producer's, transactional, holding one record whose key is
 * (version 0, type) and value (version 0, coordinator epoch).
 */
export function encodeTransactionMarker(m: { producerId: bigint; producerEpoch: number; type: ControlTypeId; coordinatorEpoch: number; timestamp: number }): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(m.type, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(m.coordinatorEpoch, 2);
  return encodeRecordBatch({
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    transactional: true,
    control: true,
    baseTimestamp: BigInt(m.timestamp),
    records: [{ key, value }],
  });
}

/**
 * Reads a zig-zag varint (or varlong: up to 10 bytes, its value then meaningless, only where it
 * ends) at `at`; null when the bytes end first.
 */
function varint(buf: Buffer, at: number, end: number): { value: number; next: number } | null {
  let raw = 0;
  for (let i = 0; at < end && i < 10; i++) {
    const b = buf[at++];
    if (i < 5) raw |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return { value: (raw >>> 1) ^ -(raw & 1), next: at };
  }
  return null;
}

/** What a transaction marker's record says. */
export interface ControlRecord {
  type: ControlTypeId;
  /** The epoch of the coordinator that wrote it; -1 when the value does not say. */
  coordinatorEpoch: number;
}

/**
 * The record of the (uncompressed, as markers always are) control batch at `batchAt`, or null
 * when `buf` ends before its key does (a scan that holds only the header).
 */
export function controlRecordAt(buf: Buffer, batchAt: number): ControlRecord | null {
  const end = buf.length;
  let at = batchAt + RECORD_BATCH_HEADER_SIZE;
  // length, attributes, timestamp delta, offset delta, then the key's length and bytes.
  const length = varint(buf, at, end);
  if (!length) return null;
  at = length.next + 1;
  for (let i = 0; i < 2; i++) {
    const skipped = varint(buf, at, end);
    if (!skipped) return null;
    at = skipped.next;
  }
  const keyLength = varint(buf, at, end);
  if (!keyLength || keyLength.value < 4 || keyLength.next + 4 > end) return null;
  const type = buf.readInt16BE(keyLength.next + 2) === ControlType.COMMIT ? ControlType.COMMIT : ControlType.ABORT;
  // The value: version int16, coordinator epoch int32.
  const valueLength = varint(buf, keyLength.next + keyLength.value, end);
  const epochAt = valueLength ? valueLength.next + 2 : end;
  const coordinatorEpoch = valueLength && valueLength.value >= 6 && epochAt + 4 <= end ? buf.readInt32BE(epochAt) : -1;
  return { type, coordinatorEpoch };
}
