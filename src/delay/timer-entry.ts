import { crc32c } from '../protocol/records/crc32c.js';

/**
 * One scheduled message in the timer log, RocketMQ 5's TimerLog unit: fixed size, so the log
 * can be scanned in big reads and a torn tail cut at an entry boundary.
 * [prev: f64][message position: f64][due: f64][message size: i32][crc32c of bytes 8-28: u32].
 * prev links the entries of one wheel slot, newest first; it is outside the CRC because
 * recovery may relink it.
 */
export const TIMER_ENTRY_SIZE = 32;
const CRC_FROM = 8;
const CRC_AT = 28;

/** No earlier entry in the slot. */
export const NO_ENTRY = -1;

export interface TimerEntry {
  /** Its own position in the timer log. */
  pos: number;
  prev: number;
  messagePos: number;
  messageSize: number;
  dueMs: number;
}

export function writeTimerEntry(buf: Buffer, at: number, e: Omit<TimerEntry, 'pos'>): void {
  buf.writeDoubleBE(e.prev, at);
  buf.writeDoubleBE(e.messagePos, at + 8);
  buf.writeDoubleBE(e.dueMs, at + 16);
  buf.writeInt32BE(e.messageSize, at + 24);
  buf.writeUInt32BE(crc32c(buf.subarray(at + CRC_FROM, at + CRC_AT)), at + CRC_AT);
}

/** The entry at `at` in `buf`, found at log position `pos`; null when torn or damaged. */
export function readTimerEntry(buf: Buffer, at: number, pos: number): TimerEntry | null {
  if (buf.readUInt32BE(at + CRC_AT) !== crc32c(buf.subarray(at + CRC_FROM, at + CRC_AT))) return null;
  return { pos, prev: buf.readDoubleBE(at), messagePos: buf.readDoubleBE(at + 8), dueMs: buf.readDoubleBE(at + 16), messageSize: buf.readInt32BE(at + 24) };
}

/** The bytes of `prev` alone, for relinking an entry in place. */
export function encodePrev(prev: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(prev, 0);
  return b;
}
