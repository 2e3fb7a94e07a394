import { ProtocolError } from '../protocol-error.js';
import { writeBigInt64 } from './int64.js';

/**
 * Bytes the writer does not hold itself: a region of a segment file that the network layer
 * sends with sendfile. The writer records where it goes in the output and how long it is.
 */
export interface ExternalBytes {
  readonly byteLength: number;
}

export type Chunk = Buffer | ExternalBytes;

const UUID_HEX = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/**
 * Writes Kafka wire types into a growing Buffer. External chunks (file regions) split the output
 * into a list, so a Fetch response can be encoded without the record bytes ever entering JS.
 */
export class Writer {
  private buf: Buffer;
  pos = 0;
  private chunks: Chunk[] | null = null;
  private chunkStart = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int8(v: number): void {
    this.ensure(1);
    this.pos = this.buf.writeInt8(v, this.pos);
  }

  int16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }

  uint16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }

  int32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }

  uint32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.pos = writeBigInt64(this.buf, v, this.pos);
  }

  float64(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }

  uuid(v: string): void {
    if (!UUID_HEX.test(v)) throw new ProtocolError('unencodable', `not a UUID: ${v}`);
    this.ensure(16);
    this.pos += this.buf.write(v.replace(/-/g, ''), this.pos, 16, 'hex');
  }

  /** Unsigned LEB128, up to 32 bits. */
  uvarint(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let u = v >>> 0;
    while (u >= 0x80) {
      b[this.pos++] = (u & 0x7f) | 0x80;
      u >>>= 7;
    }
    b[this.pos++] = u;
  }

  /** Zig-zag varint (int32). */
  varint(v: number): void {
    this.uvarint((v << 1) ^ (v >> 31));
  }

  /** Zig-zag varlong from a bigint. */
  varlong(v: bigint): void {
    this.ensure(10);
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    const b = this.buf;
    while (u >= 0x80n) {
      b[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    b[this.pos++] = Number(u);
  }

  /** Zig-zag varlong from a safe integer, without allocating. */
  varlongNumber(v: number): void {
    this.ensure(10);
    const b = this.buf;
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    while (u >= 0x80) {
      b[this.pos++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    b[this.pos++] = u;
  }

  private utf8(v: string, len: number): void {
    this.ensure(len);
    this.pos += this.buf.write(v, this.pos, len, 'utf8');
  }

  string(v: string): void {
    const len = Buffer.byteLength(v, 'utf8');
    if (len > 0x7fff) throw new ProtocolError('unencodable', `string of ${len} bytes exceeds 32767`);
    this.int16(len);
    this.utf8(v, len);
  }

  nullableString(v: string | null): void {
    if (v === null) this.int16(-1);
    else this.string(v);
  }

  compactString(v: string): void {
    const len = Buffer.byteLength(v, 'utf8');
    this.uvarint(len + 1);
    this.utf8(v, len);
  }

  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0);
    else this.compactString(v);
  }

  raw(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  bytes(v: Uint8Array): void {
    this.int32(v.length);
    this.raw(v);
  }

  nullableBytes(v: Uint8Array | null): void {
    if (v === null) this.int32(-1);
    else this.bytes(v);
  }

  compactBytes(v: Uint8Array): void {
    this.uvarint(v.length + 1);
    this.raw(v);
  }

  compactNullableBytes(v: Uint8Array | null): void {
    if (v === null) this.uvarint(0);
    else this.compactBytes(v);
  }

  /** Record data: bytes the writer holds, or an external region placed in the chunk list. */
  records(v: Buffer | ExternalBytes | null, compact: boolean): void {
    if (v === null) {
      if (compact) this.uvarint(0);
      else this.int32(-1);
      return;
    }
    if (compact) this.uvarint(v.byteLength + 1);
    else this.int32(v.byteLength);
    if (Buffer.isBuffer(v)) this.raw(v);
    else this.external(v);
  }

  external(v: ExternalBytes): void {
    this.chunks ??= [];
    if (this.pos > this.chunkStart) this.chunks.push(this.buf.subarray(this.chunkStart, this.pos));
    this.chunks.push(v);
    // Later writes go to a fresh buffer so the slices handed out above stay intact.
    this.buf = Buffer.allocUnsafe(Math.max(256, this.buf.length - this.pos));
    this.pos = 0;
    this.chunkStart = 0;
  }

  /** Reserves an int32 to be filled in later (sizes known only after writing). */
  reserveInt32(): number {
    if (this.chunks !== null) throw new ProtocolError('unencodable', 'cannot reserve after external bytes');
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }

  patchInt32(at: number, v: number): void {
    this.buf.writeInt32BE(v, at);
  }

  /** Raw access for code that fills in a span it has just written (CRC over a batch). */
  view(start: number, end: number): Buffer {
    return this.buf.subarray(start, end);
  }

  /** The output as one Buffer; fails if external chunks were written. */
  finish(): Buffer {
    if (this.chunks !== null) throw new ProtocolError('unencodable', 'output holds external bytes: use finishChunks()');
    return this.buf.subarray(0, this.pos);
  }

  /** The output as Buffers and external chunks, in order. */
  finishChunks(): Chunk[] {
    const out = this.chunks ?? [];
    if (this.pos > this.chunkStart) out.push(this.buf.subarray(this.chunkStart, this.pos));
    return out;
  }
}

export function chunksLength(chunks: readonly Chunk[]): number {
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  return n;
}

