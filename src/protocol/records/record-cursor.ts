import { Reader } from '../primitives/reader.js';
import { ProtocolError } from '../protocol-error.js';
import { MIN_RECORD_HEADER_SIZE, MIN_RECORD_SIZE } from './batch-layout.js';
import type { RecordHeader } from './record.js';

/** A record's length prefix does not count itself. */
const MIN_RECORD_BODY = MIN_RECORD_SIZE - 1;

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

  readonly buf: Buffer;
  private readonly reader: Reader;
  private readonly recordCount: number;

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
