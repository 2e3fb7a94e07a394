import { encodeRecordBatch, type RecordInput } from '../../src/protocol/records/index.js';

/** Records of about this many bytes each, a typical small event. */
const RECORD_BYTES = 100;

/**
 * A valid uncompressed record batch of `target` bytes (give or take one where a varint length
 * steps), made of ~100-byte records so the per-record overhead is realistic. The last record's
 * value absorbs the difference. Timestamps default to now: segment.ms is measured against the
 * broker clock, so old timestamps would roll a segment on every append.
 */
export function batchOfSize(target: number, timestamp = Date.now()): Buffer {
  // One record fewer than fits, so the last one only ever grows to fill the gap.
  const count = Math.max(1, Math.floor(target / RECORD_BYTES) - 1);
  const records: RecordInput[] = Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`key-${i % 1000}`),
    // About 92 bytes with key and framing, under RECORD_BYTES whatever the varint widths.
    value: Buffer.alloc(RECORD_BYTES - 24, 0x61 + (i % 26)),
    timestampDelta: i,
  }));
  const encode = (): Buffer => encodeRecordBatch({ baseTimestamp: BigInt(timestamp), records });
  let batch = encode();
  for (let i = 0; i < 3 && batch.length !== target; i++) {
    const last = records[count - 1];
    last.value = Buffer.alloc(Math.max(0, (last.value?.length ?? 0) + target - batch.length), 0x7a);
    batch = encode();
  }
  return batch;
}
