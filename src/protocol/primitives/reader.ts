import { ProtocolError } from '../protocol-error.js';
import { uuidFromBytes, ZERO_UUID } from './uuid.js';
import { readBigInt64 } from './int64.js';

/**
 * Reads Kafka wire types from a Buffer. Every read checks bounds first and throws ProtocolError,
 * so decoders never see a RangeError, and every length is checked against the bytes that remain
 * before anything is allocated: a hostile length prefix costs nothing.
 *
 * int64 values come back as bigint: Kafka uses the full 64-bit range (producer ids, sentinel
 * offsets such as -1 and -2, Long.MAX_VALUE defaults), and a number would silently round them.
 * The record-batch hot path avoids that allocation through varintNumber/varlongNumber and the
 * batch header view, which read only what they need.
 */
export class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Fails unless n more bytes are available; returns the position to read them from. */
  take(n: number): number {
    const at = this.pos;
    if (n > this.end - at) {
      throw new ProtocolError('truncated', `need ${n} bytes at ${at}, ${this.end - at} left`);
    }
    this.pos = at + n;
    return at;
  }

  skip(n: number): void {
    this.take(n);
  }

  bool(): boolean {
    const b = this.buf[this.take(1)];
    if (b > 1) throw new ProtocolError('invalid-value', `bool must be 0 or 1, got ${b}`);
    return b === 1;
  }

  int8(): number {
    return this.buf.readInt8(this.take(1));
  }

  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  int64(): bigint {
    return readBigInt64(this.buf, this.take(8));
  }

  float64(): number {
    return this.buf.readDoubleBE(this.take(8));
  }

  uuid(): string {
    const at = this.take(16);
    const b = this.buf;
    // Fast path for the common all-zero id (unset topic ids).
    let zero = true;
    for (let i = at; i < at + 16; i++) {
      if (b[i] !== 0) {
        zero = false;
        break;
      }
    }
    return zero ? ZERO_UUID : uuidFromBytes(b, at);
  }

  /** Unsigned LEB128, up to 32 bits. */
  uvarint(): number {
    const b = this.buf;
    // Fast path for the one- and two-byte varints that most lengths and counts are (record
    // batches hold several per record); the loop below handles everything else and all errors.
    const at = this.pos;
    if (this.end - at >= 2) {
      const b0 = b[at];
      if (b0 < 0x80) {
        this.pos = at + 1;
        return b0;
      }
      const b1 = b[at + 1];
      if (b1 < 0x80) {
        this.pos = at + 2;
        return (b0 & 0x7f) | (b1 << 7);
      }
    }
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new ProtocolError('truncated', 'varint runs past the end');
      const byte = b[this.pos++];
      if (i === 4 && byte > 0x0f) throw new ProtocolError('invalid-varint', 'unsigned varint exceeds 32 bits');
      result += (byte & 0x7f) * (1 << shift); // shift <= 28, so never negative; `2 ** shift` calls Math.pow
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
    throw new ProtocolError('invalid-varint', 'varint longer than 5 bytes');
  }

  /** Zig-zag varint (int32). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** Zig-zag varlong as bigint (the full int64 range). */
  varlong(): bigint {
    const b = this.buf;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtocolError('truncated', 'varlong runs past the end');
      const byte = b[this.pos++];
      if (i === 9 && byte > 0x01) throw new ProtocolError('invalid-varint', 'varlong exceeds 64 bits');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (result >> 1n) ^ -(result & 1n);
      shift += 7n;
    }
    throw new ProtocolError('invalid-varint', 'varlong longer than 10 bytes');
  }

  /**
   * Zig-zag varlong as a number, without allocating. Values beyond 2^53 are rejected rather than
   * rounded: record timestamp and offset deltas never get near them.
   */
  varlongNumber(): number {
    const b = this.buf;
    let result = 0;
    let mult = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new ProtocolError('truncated', 'varlong runs past the end');
      const byte = b[this.pos++];
      result += (byte & 0x7f) * mult;
      if ((byte & 0x80) === 0) {
        // result < 2^56 here; zig-zag decode in floating point is exact below 2^53.
        if (result > Number.MAX_SAFE_INTEGER) {
          throw new ProtocolError('invalid-varint', 'varlong beyond the safe integer range');
        }
        return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      }
      mult *= 128;
    }
    throw new ProtocolError('invalid-varint', 'varlong beyond the safe integer range');
  }

  /** A length prefix that must fit in what remains (null when -1 and nullable). */
  private checkedLength(len: number, what: string): number {
    if (len < 0) throw new ProtocolError('invalid-length', `negative ${what} length ${len}`);
    if (len > this.end - this.pos) {
      throw new ProtocolError('invalid-length', `${what} length ${len} exceeds the ${this.end - this.pos} bytes left`);
    }
    return len;
  }

  private utf8(len: number): string {
    const at = this.pos;
    this.pos = at + len;
    return this.buf.toString('utf8', at, at + len);
  }

  string(): string {
    return this.utf8(this.checkedLength(this.int16(), 'string'));
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    return this.utf8(this.checkedLength(len, 'string'));
  }

  compactString(): string {
    return this.utf8(this.checkedLength(this.uvarint() - 1, 'compact string'));
  }

  compactNullableString(): string | null {
    const len = this.uvarint() - 1;
    if (len === -1) return null;
    return this.utf8(this.checkedLength(len, 'compact string'));
  }

  /** A copy, so a decoded message never pins a large network buffer. */
  private copy(len: number): Buffer {
    const at = this.pos;
    this.pos = at + len;
    return Buffer.from(this.buf.subarray(at, at + len));
  }

  bytes(): Buffer {
    return this.copy(this.checkedLength(this.int32(), 'bytes'));
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    return this.copy(this.checkedLength(len, 'bytes'));
  }

  compactBytes(): Buffer {
    return this.copy(this.checkedLength(this.uvarint() - 1, 'compact bytes'));
  }

  compactNullableBytes(): Buffer | null {
    const len = this.uvarint() - 1;
    if (len === -1) return null;
    return this.copy(this.checkedLength(len, 'compact bytes'));
  }

  /** A view without copying: for record batches, which the broker appends as they came. */
  slice(len: number): Buffer {
    const at = this.take(len);
    return this.buf.subarray(at, at + len);
  }

  /**
   * Record data as a view into the input, not a copy: the broker appends produced batches
   * straight from the request buffer, which lives no longer than the request.
   */
  records(compact: boolean): Buffer | null {
    const len = compact ? this.uvarint() - 1 : this.int32();
    if (len === -1) return null;
    return this.slice(this.checkedLength(len, 'records'));
  }

  /**
   * An array count, null when -1. Each element takes at least minElementSize bytes, so a count
   * the input cannot hold is refused before any element is decoded.
   */
  arrayLength(minElementSize: number): number | null {
    return this.checkedCount(this.int32(), minElementSize);
  }

  compactArrayLength(minElementSize: number): number | null {
    return this.checkedCount(this.uvarint() - 1, minElementSize);
  }

  private checkedCount(n: number, minElementSize: number): number | null {
    if (n === -1) return null;
    if (n < 0) throw new ProtocolError('invalid-length', `negative array length ${n}`);
    if (n * Math.max(1, minElementSize) > this.end - this.pos) {
      throw new ProtocolError('invalid-length', `array of ${n} cannot fit in the ${this.end - this.pos} bytes left`);
    }
    return n;
  }
}
