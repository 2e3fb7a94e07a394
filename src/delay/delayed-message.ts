import { crc32c } from '../protocol/records/crc32c.js';
import type { RecordHeader } from '../protocol/records/record.js';
import type { DelayedRecord } from './delay-headers.js';

/** A held record with the partition it is for: one entry of the message log. */
export interface DelayedMessage extends DelayedRecord {
  topic: string;
  partition: number;
}

/** Length (u32, of what follows it) and CRC-32C (u32, of what follows it). */
const FRAME = 8;

/**
 * [length][crc][topic: u16 + bytes][partition: i32][due: f64][key: i32 + bytes][value: i32 + bytes]
 * [header count: u16][each: key u16 + bytes, value i32 + bytes]; -1 lengths for nulls.
 */
export function encodeDelayedMessage(m: DelayedMessage): Buffer {
  const topic = Buffer.from(m.topic);
  const keys = m.headers.map((h) => Buffer.from(h.key));
  let size = FRAME + 2 + topic.length + 4 + 8 + 4 + (m.key?.length ?? 0) + 4 + (m.value?.length ?? 0) + 2;
  m.headers.forEach((h, i) => (size += 2 + keys[i].length + 4 + (h.value?.length ?? 0)));
  const buf = Buffer.allocUnsafe(size);
  let at = FRAME;
  const bytes = (b: Buffer | null, lengthSize: 2 | 4): void => {
    if (lengthSize === 2) at = buf.writeUInt16BE(b!.length, at);
    else at = buf.writeInt32BE(b === null ? -1 : b.length, at);
    if (b) at += b.copy(buf, at);
  };
  bytes(topic, 2);
  at = buf.writeInt32BE(m.partition, at);
  at = buf.writeDoubleBE(m.dueMs, at);
  bytes(m.key, 4);
  bytes(m.value, 4);
  at = buf.writeUInt16BE(m.headers.length, at);
  m.headers.forEach((h, i) => {
    bytes(keys[i], 2);
    bytes(h.value, 4);
  });
  buf.writeUInt32BE(size - FRAME, 0);
  buf.writeUInt32BE(crc32c(buf.subarray(FRAME)), 4);
  return buf;
}

/** The message in `buf` (exactly one entry), or null when its bytes are not what was written. */
export function decodeDelayedMessage(buf: Buffer): DelayedMessage | null {
  if (buf.length < FRAME || buf.readUInt32BE(0) !== buf.length - FRAME || buf.readUInt32BE(4) !== crc32c(buf.subarray(FRAME))) return null;
  let at = FRAME;
  const bytes = (lengthSize: 2 | 4): Buffer | null => {
    const n = lengthSize === 2 ? buf.readUInt16BE(at) : buf.readInt32BE(at);
    at += lengthSize;
    if (n < 0) return null;
    at += n;
    return buf.subarray(at - n, at);
  };
  const topic = bytes(2)!.toString();
  const partition = buf.readInt32BE(at);
  const dueMs = buf.readDoubleBE(at + 4);
  at += 12;
  const key = bytes(4);
  const value = bytes(4);
  const count = buf.readUInt16BE(at);
  at += 2;
  const headers: RecordHeader[] = [];
  for (let i = 0; i < count; i++) headers.push({ key: bytes(2)!.toString(), value: bytes(4) });
  return { topic, partition, dueMs, key, value, headers };
}
