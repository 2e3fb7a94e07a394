import { nativeAddon } from '../../native/addon.js';
import { Reader } from '../primitives/reader.js';
import { ProtocolError } from '../protocol-error.js';
import { MIN_RECORD_HEADER_SIZE, MIN_RECORD_SIZE } from './batch-layout.js';
import type { RecordSpanVisitor } from './batch-validation.js';
import type { RecordHeader } from './record.js';

/** A record's length prefix does not count itself. */
const MIN_RECORD_BODY = MIN_RECORD_SIZE - 1;
/** A module-local copy: under a CommonJS transform (tsx) every read of an import is a getter call. */
const MIN_HEADER_SIZE = MIN_RECORD_HEADER_SIZE;

/**
 * An unsigned varint of at most 3 bytes that ends before limit, as value * 4 + its size in
 * bytes (one number, so the caller's loop keeps its position in a local), or -1 for anything
 * else: longer varints and every error are left to the Reader.
 */
function shortUvarint(buf: Buffer, at: number, limit: number): number {
  if (at >= limit) return -1;
  const b0 = buf[at];
  if (b0 < 0x80) return b0 * 4 + 1;
  if (at + 1 >= limit) return -1;
  const b1 = buf[at + 1];
  if (b1 < 0x80) return ((b0 & 0x7f) | (b1 << 7)) * 4 + 2;
  if (at + 2 >= limit) return -1;
  const b2 = buf[at + 2];
  if (b2 < 0x80) return ((b0 & 0x7f) | ((b1 & 0x7f) << 7) | (b2 << 14)) * 4 + 3;
  return -1;
}

/**
 * Batches with at least this many records left are walked by the native addon when no visitor
 * needs each record: the call's own cost is repaid within a few records.
 */
const NATIVE_WALK_MIN_RECORDS = 16;
/** Module-local, as MIN_HEADER_SIZE above: read once per batch on the produce path. */
const nativeWalk = nativeAddon;
/** The native walk's results (index, position, headers seen): one array for every call. */
const nativeWalkOut = new Float64Array(3);

/** The zig-zag value of shortUvarint's result (below 2^21, so int32 arithmetic is exact). */
const zigzag = (short: number): number => ((short >>> 3) ^ -((short >>> 2) & 1));

/**
 * Walks the records of one batch in order without allocating: the current record's fields stay
 * on the cursor, its key and value as spans of buf. Every check of the record format lives here,
 * shared by full decoding and by the broker's validating scan.
 */
export class RecordCursor {
  /** Index of the current record, -1 before the first. */
  index = -1;
  attributes = 0;
  timestampDelta = 0;
  offsetDelta = 0;
  /** Where the key starts in buf; keyLength is -1 for a null key. */
  keyStart = 0;
  keyLength = -1;
  /** Where the value starts in buf; valueLength is -1 for a null value. */
  valueStart = 0;
  valueLength = -1;
  /** Whether any record walked so far has headers (most batches have none). */
  headersSeen = false;

  readonly buf: Buffer;
  private readonly reader: Reader;
  private readonly recordCount: number;
  private readonly start: number;
  private readonly end: number;

  /** Walks recordCount records that must fill buf from start to end exactly. */
  constructor(buf: Buffer, start: number, end: number, recordCount: number) {
    // A hostile count is refused here, before anything is sized from it.
    if (recordCount < 0 || recordCount * MIN_RECORD_SIZE > end - start) {
      throw new ProtocolError(
        'invalid-length',
        `record count ${recordCount} cannot fit in ${end - start} bytes of records`,
      );
    }
    this.buf = buf;
    this.reader = new Reader(buf, start, end);
    this.recordCount = recordCount;
    this.start = start;
    this.end = end;
  }

  /** All the records' bytes, walked or not. */
  get records(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /**
   * Moves to the next record and checks it. Returns false after the last one, once it is
   * sure nothing follows. Header objects are built only when a headers array is passed.
   */
  next(headers: RecordHeader[] | null): boolean {
    const r = this.reader;
    const i = this.index + 1;
    if (i === this.recordCount) {
      if (r.remaining !== 0) {
        throw new ProtocolError('invalid-length', `${r.remaining} bytes follow the last of ${i} records`);
      }
      return false;
    }
    if (r.remaining === 0) {
      throw new ProtocolError('invalid-length', `batch claims ${this.recordCount} records but holds ${i}`);
    }
    this.index = i;

    const length = r.varint();
    if (length < MIN_RECORD_BODY || length > r.remaining) {
      throw new ProtocolError('invalid-length', `record ${i} has length ${length} with ${r.remaining} bytes left`);
    }
    const bodyStart = r.pos;
    const end = bodyStart + length;
    this.attributes = r.int8();
    this.timestampDelta = r.varlongNumber();
    this.offsetDelta = r.varint();
    this.keyLength = this.nullableLength(end, i, 'key');
    this.keyStart = r.pos;
    r.pos += Math.max(0, this.keyLength);
    this.valueLength = this.nullableLength(end, i, 'value');
    this.valueStart = r.pos;
    r.pos += Math.max(0, this.valueLength);

    const headerCount = r.varint();
    if (headerCount < 0 || headerCount * MIN_RECORD_HEADER_SIZE > end - r.pos) {
      throw new ProtocolError('invalid-length', `record ${i} has header count ${headerCount}`);
    }
    if (headerCount > 0) this.headersSeen = true;
    for (let h = 0; h < headerCount; h++) {
      const keyLength = this.nullableLength(end, i, 'header key');
      if (keyLength < 0) throw new ProtocolError('invalid-length', `record ${i} has a header with a null key`);
      const keyStart = r.pos;
      r.pos += keyLength;
      const valueLength = this.nullableLength(end, i, 'header value');
      const valueStart = r.pos;
      r.pos += Math.max(0, valueLength);
      if (headers !== null) {
        headers.push({
          key: this.buf.toString('utf8', keyStart, keyStart + keyLength),
          value: valueLength < 0 ? null : this.buf.subarray(valueStart, valueStart + valueLength),
        });
      }
    }

    if (r.pos !== end) {
      throw new ProtocolError(
        'invalid-length',
        `record ${i} has length ${length} but its fields take ${r.pos - bodyStart}`,
      );
    }
    return true;
  }

  /**
   * The validating scan's fast path. Moves past the following records for as long as each is
   * plainly well formed (no varint over 3 bytes, every field inside its record) with offsetDelta
   * equal to its index, handing each to onRecord; of the cursor's fields it updates only
   * headersSeen. It reads with locals in one loop where next() pays a Reader call per field, and
   * stops before the first record it cannot vouch for, or after the last: next() then accepts or
   * refuses it with the exact reason. It accepts only what next() accepts, with the same values, so a scan
   * that mixes both is exactly as strict as next() alone. Without a visitor, long runs of records
   * go to the same walk in the native addon, about three times faster.
   */
  skipSequential(onRecord: RecordSpanVisitor | undefined): void {
    const buf = this.buf;
    const r = this.reader;
    const end = r.end;
    const count = this.recordCount;
    let i = this.index + 1;
    let p = r.pos;
    if (onRecord === undefined && nativeWalk !== null && count - i >= NATIVE_WALK_MIN_RECORDS) {
      nativeWalk.skipPlainRecords(buf, p, end, i, count, MIN_RECORD_BODY, MIN_HEADER_SIZE, nativeWalkOut);
      this.index = nativeWalkOut[0] - 1;
      r.pos = nativeWalkOut[1];
      if (nativeWalkOut[2] === 1) this.headersSeen = true;
      return;
    }
    for (; i < count; i++) {
      let v = shortUvarint(buf, p, end);
      if (v < 0) break;
      const length = zigzag(v);
      let q = p + (v & 3);
      if (length < MIN_RECORD_BODY || length > end - q) break;
      const recordEnd = q + length;
      q++; // attributes: every value is accepted
      v = shortUvarint(buf, q, recordEnd);
      if (v < 0) break;
      const timestampDelta = zigzag(v);
      q += v & 3;
      v = shortUvarint(buf, q, recordEnd);
      if (v < 0 || zigzag(v) !== i) break;
      q += v & 3;
      v = shortUvarint(buf, q, recordEnd);
      if (v < 0) break;
      q += v & 3;
      const keyLength = zigzag(v);
      if (keyLength < -1 || keyLength > recordEnd - q) break;
      const keyStart = q;
      if (keyLength > 0) q += keyLength;
      v = shortUvarint(buf, q, recordEnd);
      if (v < 0) break;
      q += v & 3;
      const valueLength = zigzag(v);
      if (valueLength < -1 || valueLength > recordEnd - q) break;
      const valueStart = q;
      if (valueLength > 0) q += valueLength;
      v = shortUvarint(buf, q, recordEnd);
      if (v < 0) break;
      q += v & 3;
      const headerCount = zigzag(v);
      if (headerCount < 0 || headerCount * MIN_HEADER_SIZE > recordEnd - q) break;
      let h = 0;
      for (; h < headerCount; h++) {
        v = shortUvarint(buf, q, recordEnd);
        if (v < 0) break;
        q += v & 3;
        const headerKeyLength = zigzag(v);
        if (headerKeyLength < 0 || headerKeyLength > recordEnd - q) break;
        q += headerKeyLength;
        v = shortUvarint(buf, q, recordEnd);
        if (v < 0) break;
        q += v & 3;
        const headerValueLength = zigzag(v);
        if (headerValueLength < -1 || headerValueLength > recordEnd - q) break;
        if (headerValueLength > 0) q += headerValueLength;
      }
      if (h !== headerCount || q !== recordEnd) break;
      if (headerCount > 0) this.headersSeen = true;
      onRecord?.(buf, keyStart, keyLength, valueStart, valueLength, i, timestampDelta);
      p = recordEnd;
    }
    this.index = i - 1;
    r.pos = p;
  }

  /** A varint length, -1 for null, that must fit before the record's end. */
  private nullableLength(recordEnd: number, index: number, what: string): number {
    const r = this.reader;
    const length = r.varint();
    if (length < -1 || length > recordEnd - r.pos) {
      throw new ProtocolError('invalid-length', `record ${index} has ${what} length ${length}`);
    }
    return length;
  }
}
