import { Writer } from '../primitives/writer.js';
import { ProtocolError } from '../protocol-error.js';
import type { RecordHeaderInput, RecordInput } from './record.js';

const NO_HEADERS: readonly RecordHeaderInput[] = [];

/**
 * Reader.varlongNumber reads zig-zag values up to 2^53 - 1, i.e. deltas in [-2^52, 2^52 - 1]
 * (over 140,000 years of milliseconds); the encoder writes nothing it could not read back.
 */
const MIN_TIMESTAMP_DELTA = -(2 ** 52);
const MAX_TIMESTAMP_DELTA = 2 ** 52 - 1;

/**
 * Scratch shared by the two passes of encodeRecords, kept between calls so that encoding
 * allocates only its output: each record's body size (its length prefix) and header keys as
 * UTF-8, measured in the first pass and written in the second.
 */
let bodySizes = new Int32Array(256);
const headerKeys: Buffer[] = [];

/**
 * The records in wire form, after headroom bytes left for the caller (the batch header, so an
 * uncompressed batch is built in one buffer). The buffer is sized exactly in a first pass.
 */
export function encodeRecords(records: readonly RecordInput[], headroom: number): Buffer {
  if (bodySizes.length < records.length) bodySizes = new Int32Array(2 ** Math.ceil(Math.log2(records.length)));
  // A call that threw halfway may have left keys behind.
  headerKeys.length = 0;
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const body = measureBody(records[i], i);
    bodySizes[i] = body;
    total += varintSize(body) + body;
  }

  const w = new Writer(headroom + total);
  w.pos = headroom;
  let keyIndex = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    w.varint(bodySizes[i]);
    w.int8(record.attributes ?? 0);
    w.varlongNumber(record.timestampDelta ?? 0);
    w.varint(record.offsetDelta ?? i);
    writeNullableBytes(w, record.key);
    writeNullableBytes(w, record.value);
    const headers = record.headers ?? NO_HEADERS;
    w.varint(headers.length);
    for (let h = 0; h < headers.length; h++) {
      const key = headerKeys[keyIndex++];
      w.varint(key.length);
      w.raw(key);
      writeNullableBytes(w, headers[h].value);
    }
  }
  headerKeys.length = 0; // so the scratch holds no key bytes between calls
  return w.finish();
}

/** Bytes of a record after its length prefix; also checks what the wire types cannot hold. */
function measureBody(record: RecordInput, index: number): number {
  const attributes = record.attributes ?? 0;
  const timestampDelta = record.timestampDelta ?? 0;
  const offsetDelta = record.offsetDelta ?? index;
  if ((attributes << 24) >> 24 !== attributes) unencodable(index, `attributes ${attributes} is not an int8`);
  if (
    !Number.isInteger(timestampDelta) ||
    timestampDelta < MIN_TIMESTAMP_DELTA ||
    timestampDelta > MAX_TIMESTAMP_DELTA
  ) {
    unencodable(index, `timestampDelta ${timestampDelta} is not an integer in [-2^52, 2^52 - 1]`);
  }
  if ((offsetDelta | 0) !== offsetDelta) unencodable(index, `offsetDelta ${offsetDelta} is not an int32`);

  let size = 1 + varlongSize(timestampDelta) + varintSize(offsetDelta);
  size += nullableBytesSize(record.key) + nullableBytesSize(record.value);
  const headers = record.headers ?? NO_HEADERS;
  size += varintSize(headers.length);
  for (let h = 0; h < headers.length; h++) {
    const key = Buffer.from(headers[h].key, 'utf8');
    headerKeys.push(key);
    size += varintSize(key.length) + key.length + nullableBytesSize(headers[h].value);
  }
  return size;
}

function unencodable(index: number, problem: string): never {
  throw new ProtocolError('unencodable', `record ${index}: ${problem}`);
}

function writeNullableBytes(w: Writer, bytes: Uint8Array | null): void {
  if (bytes === null) {
    w.varint(-1);
  } else {
    w.varint(bytes.length);
    w.raw(bytes);
  }
}

function nullableBytesSize(bytes: Uint8Array | null): number {
  return bytes === null ? 1 : varintSize(bytes.length) + bytes.length;
}

/** Size of a zig-zag varint (int32), as Writer.varint writes it. */
function varintSize(v: number): number {
  const u = ((v << 1) ^ (v >> 31)) >>> 0;
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x200000) return 3;
  if (u < 0x10000000) return 4;
  return 5;
}

/** Size of a zig-zag varlong of a safe integer, as Writer.varlongNumber writes it. */
function varlongSize(v: number): number {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  let size = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    size++;
  }
  return size;
}
