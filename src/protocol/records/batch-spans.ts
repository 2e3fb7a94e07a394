import { ProtocolError } from '../protocol-error.js';
import { BATCH_LENGTH_OVERHEAD, CURRENT_MAGIC, HeaderField, MIN_BATCH_LENGTH } from './batch-layout.js';

/**
 * Size in bytes of the batch that starts at offset, checked as far as possible without reading
 * its records: a length field that fits, batchLength >= 49, magic 2, and the whole batch before
 * end. With allowPartialTail, a batch that the input cuts short gives 0 instead of an error:
 * a Fetch response may legally end inside its last batch.
 */
export function batchSizeAt(buf: Buffer, offset: number, end = buf.length, allowPartialTail = false): number {
  const available = end - offset;
  if (available < BATCH_LENGTH_OVERHEAD) {
    if (allowPartialTail) return 0;
    throw new ProtocolError('truncated', `${available} bytes at ${offset} cannot hold a batch length`);
  }
  const batchLength = buf.readInt32BE(offset + HeaderField.batchLength);
  if (batchLength < MIN_BATCH_LENGTH) {
    throw new ProtocolError(
      'invalid-length',
      `batch at ${offset} has batchLength ${batchLength}, below ${MIN_BATCH_LENGTH}`,
    );
  }
  if (available > HeaderField.magic) {
    const magic = buf.readInt8(offset + HeaderField.magic);
    if (magic !== CURRENT_MAGIC) {
      throw new ProtocolError(
        'invalid-value',
        `batch at ${offset} has magic ${magic}; only ${CURRENT_MAGIC} is supported`,
      );
    }
  }
  const size = BATCH_LENGTH_OVERHEAD + batchLength;
  if (size > available) {
    if (allowPartialTail) return 0;
    throw new ProtocolError(
      'invalid-length',
      `batch at ${offset} of ${size} bytes overruns the ${available} bytes left`,
    );
  }
  return size;
}

export interface BatchSpan {
  /** Where the batch starts in the records blob. */
  offset: number;
  /** Its size in bytes, header included. */
  size: number;
}

export interface BatchSpanOptions {
  /** Stop quietly at a trailing batch the input cuts short (Fetch-style input). */
  allowPartialTail?: boolean;
}

/** The batches of a records field (Produce or Fetch): zero or more batches back to back. */
export function* batchSpans(records: Buffer, options: BatchSpanOptions = {}): Generator<BatchSpan, void, undefined> {
  const allowPartialTail = options.allowPartialTail ?? false;
  for (let offset = 0; offset < records.length; ) {
    const size = batchSizeAt(records, offset, records.length, allowPartialTail);
    if (size === 0) return;
    yield { offset, size };
    offset += size;
  }
}
