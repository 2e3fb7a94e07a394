import { Attribute, DEFAULT_MAX_DECOMPRESSED_BYTES, HeaderField } from '../protocol/records/batch-layout.js';
import { RecordBatchHeader } from '../protocol/records/batch-header.js';
import { openBatchRecords } from '../protocol/records/batch-records.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordBatch } from '../protocol/records/record-batch.js';
import type { Record as KafkaRecord } from '../protocol/records/record.js';
import { readInt64 } from './int64.js';

/**
 * What compaction does to one record batch. This and the log cleaner are the only places that
 * decompress and re-encode stored batches; the produce path never does.
 *
 * Transactions, as Kafka's cleaner treats them: a batch of an aborted transaction (the
 * transaction index says which) is dropped whole and takes no part in the key map; a committed
 * transaction's records are compacted like any others. A transaction marker stays while any
 * record of its transaction does, and goes once none does and delete.retention.ms has passed
 * since it was written, with its aborted-transaction index entry.
 */

/** The latest offset of every key in the dirty part of a log, keys as latin1 strings (one char per byte). */
export type KeyOffsets = Map<string, number>;

function keyString(buf: Buffer, start: number, length: number): string {
  return buf.toString('latin1', start, start + length);
}

/** What the cleaner knows of the transactions in the range it cleans. */
export interface CleanedTransactions {
  /** Whether a transactional batch of this producer at this offset belongs to an aborted transaction. */
  aborted(producerId: bigint, offset: number): boolean;
  /** A batch of the producer's current transaction is kept. */
  keptData(producerId: bigint): void;
  /** Whether the producer's transaction ended by a marker here kept no record; its tracking ends with the marker. */
  emptyAtMarker(producerId: bigint): boolean;
}

function takesPart(header: RecordBatchHeader, txns: CleanedTransactions): boolean {
  return !header.isControl && !(header.isTransactional && txns.aborted(header.producerId, Number(header.baseOffset)));
}

/**
 * Calls visit for every keyed record of a batch that takes part in compaction, in offset
 * order, without building records. Checks the CRC first.
 */
export function forEachKeyedRecord(batch: Buffer, txns: CleanedTransactions, visit: (key: string, offset: number) => void): void {
  const header = new RecordBatchHeader(batch);
  const cursor = openBatchRecords(batch, 0, header, DEFAULT_MAX_DECOMPRESSED_BYTES);
  if (!takesPart(header, txns)) return;
  const base = readInt64(batch, HeaderField.baseOffset);
  while (cursor.next(null)) {
    if (cursor.keyLength >= 0) visit(keyString(cursor.buf, cursor.keyStart, cursor.keyLength), base + cursor.offsetDelta);
  }
}

export interface CompactionRules {
  latest: KeyOffsets;
  /** The cleaner's clock: delete horizons are set from it and compared with it. */
  now: number;
  deleteRetentionMs: number;
  transactions: CleanedTransactions;
}

export interface CompactedBatch {
  /** What to write: the batch itself, a rewritten batch, or null when no record is left. */
  bytes: Buffer | null;
  /** Whether bytes is the original batch, untouched. */
  verbatim: boolean;
  records: number;
  removed: number;
  tombstonesRemoved: number;
  /** The delete horizon of the tombstones kept, or -1 when none is kept. */
  deleteHorizon: number;
}

/**
 * Keeps a record unless a later record has its key or it is a tombstone past its batch's
 * delete horizon. Records without a key are kept: Kafka refuses them on produce to compacted
 * topics, and a log that holds one anyway (the topic was switched to compact) keeps it.
 */
function keeps(record: KafkaRecord, offset: number, horizon: number, rules: CompactionRules): boolean {
  if (record.key === null) return true;
  const latest = rules.latest.get(keyString(record.key, 0, record.key.length));
  if (latest !== undefined && offset < latest) return false;
  return record.value !== null || horizon < 0 || rules.now < horizon;
}

/**
 * Compacts one stored batch. A batch that keeps every record and needs no new delete horizon
 * is returned as it is; one that keeps none is dropped (Kafka keeps a producer's last batch
 * for idempotence; there is no producer state here to need it). Otherwise it is re-encoded the
 * way Kafka's cleaner does: same base offset and lastOffsetDelta (the offset range, and so the
 * producer's last sequence, stay put), records keeping their offsets and timestamps, same
 * producer id, epoch, base sequence, leader epoch, timestamp type and codec (recompressed).
 *
 * Tombstones follow KIP-534: the first cleaning that keeps one stamps its batch with a delete
 * horizon (now + delete.retention.ms), stored in baseTimestamp under the deleteHorizon
 * attribute; record timestamp deltas are re-based on it so every record keeps its timestamp.
 * Once a cleaning runs at or after the horizon, the batch's tombstones are dropped.
 */
export function compactBatch(batch: Buffer, rules: CompactionRules): CompactedBatch {
  const decoded = decodeRecordBatch(batch);
  const records = decoded.records.length;
  const untouched: CompactedBatch = { bytes: batch, verbatim: true, records, removed: 0, tombstonesRemoved: 0, deleteHorizon: -1 };
  const dropped: CompactedBatch = { bytes: null, verbatim: false, records, removed: records, tombstonesRemoved: 0, deleteHorizon: -1 };
  const baseOffset = Number(decoded.baseOffset);
  if (decoded.control) {
    const expired = rules.now >= Number(decoded.maxTimestamp) + rules.deleteRetentionMs;
    return rules.transactions.emptyAtMarker(decoded.producerId) && expired ? dropped : untouched;
  }
  if (decoded.transactional && rules.transactions.aborted(decoded.producerId, baseOffset)) return dropped;
  const result = compactRecords(decoded, batch, rules, untouched);
  if (decoded.transactional && result.bytes !== null) rules.transactions.keptData(decoded.producerId);
  return result;
}

function compactRecords(decoded: RecordBatch, batch: Buffer, rules: CompactionRules, untouched: CompactedBatch): CompactedBatch {
  const records = decoded.records.length;
  const baseOffset = Number(decoded.baseOffset);
  const horizon = decoded.hasDeleteHorizon ? Number(decoded.baseTimestamp) : -1;
  const kept: KafkaRecord[] = [];
  let tombstonesKept = 0;
  let tombstonesRemoved = 0;
  for (const r of decoded.records) {
    const tombstone = r.key !== null && r.value === null;
    if (keeps(r, baseOffset + r.offsetDelta, horizon, rules)) {
      kept.push(r);
      if (tombstone) tombstonesKept++;
    } else if (tombstone) tombstonesRemoved++;
  }
  const deleteHorizon = tombstonesKept === 0 ? -1 : horizon >= 0 ? horizon : rules.now + rules.deleteRetentionMs;
  const removed = records - kept.length;
  if (removed === 0 && (tombstonesKept === 0 || horizon >= 0)) return { ...untouched, deleteHorizon };
  const bytes = kept.length === 0 ? null : reencode(decoded, kept, horizon >= 0 ? horizon : deleteHorizon);
  return { bytes, verbatim: false, records, removed, tombstonesRemoved, deleteHorizon };
}

/** The batch with only `kept`, stamped with `horizon` unless it is -1. */
function reencode(original: RecordBatch, kept: readonly KafkaRecord[], horizon: number): Buffer {
  const oldBase = original.baseTimestamp;
  const newBase = horizon >= 0 ? BigInt(horizon) : oldBase;
  const shift = Number(oldBase - newBase);
  const out = encodeRecordBatch({
    baseOffset: original.baseOffset,
    partitionLeaderEpoch: original.partitionLeaderEpoch,
    compression: original.compression,
    timestampType: original.timestampType,
    producerId: original.producerId,
    producerEpoch: original.producerEpoch,
    baseSequence: original.baseSequence,
    transactional: original.transactional,
    baseTimestamp: newBase,
    // Log-append time gives every record the batch's time; create time takes the kept records'.
    maxTimestamp: original.timestampType === 'log-append' ? original.maxTimestamp : undefined,
    records: shift === 0 ? kept : kept.map((r) => ({ ...r, timestampDelta: r.timestampDelta + shift })),
  });
  // The encoder derives these from the records it is given; the cleaner keeps the original
  // offset range and marks the horizon, then the CRC must cover the new header.
  out.writeInt32BE(original.lastOffsetDelta, HeaderField.lastOffsetDelta);
  if (horizon >= 0) out.writeInt16BE(out.readInt16BE(HeaderField.attributes) | Attribute.deleteHorizon, HeaderField.attributes);
  const header = new RecordBatchHeader(out);
  out.writeUInt32BE(header.computeCrc(), HeaderField.crc);
  return out;
}
