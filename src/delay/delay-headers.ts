import { decodeRecordBatch } from '../protocol/records/record-batch.js';
import type { WalkedRecords } from '../protocol/records/batch-validation.js';
import type { RecordHeader } from '../protocol/records/record.js';

/** Milliseconds from the broker's receipt of the record, as decimal text. */
export const DELAY_HEADER = 'sluice-delay-ms';
/** Epoch milliseconds, as decimal text. */
export const DELIVER_AT_HEADER = 'sluice-deliver-at';
/** What both header names start with: an uncompressed batch without it needs no decoding. */
const HEADER_PREFIX = Buffer.from('sluice-de');
/** Decimal text only: "1e3", "0x10" or " 5" are refused rather than guessed at. */
const DECIMAL = /^-?\d{1,16}$/;

/** A record the delay store holds, and what it becomes in its topic when due. */
export interface DelayedRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  /** When it may enter its topic; also its timestamp there. */
  dueMs: number;
}

export interface DelayRules {
  /** The topic's sluice.delivery.delay.ms: the delay of records without a header. */
  topicDelayMs: number;
  /** sluice.delivery.delay.max.ms; 0 turns the feature off. */
  maxDelayMs: number;
  now: number;
}

export type DelayVerdict =
  | { kind: 'now' }
  | { kind: 'delayed'; records: DelayedRecord[] }
  | { kind: 'refused'; recordErrors: { batchIndex: number; message: string }[] };

const NOW: DelayVerdict = { kind: 'now' };

/**
 * When each record of a produced batch is due. The batch goes to its topic as it is ('now')
 * unless some record is due later: then every record of it goes to the delay store, records
 * without a delay being due at once, so a batch is never split between two paths. `walked` is
 * what the produce validation saw of the batch's records.
 */
export function delayOf(batch: Buffer, walked: WalkedRecords, rules: DelayRules): DelayVerdict {
  if (rules.maxDelayMs === 0) return NOW;
  if (rules.topicDelayMs === 0 && !mayNameDelayHeader(walked)) return NOW;
  const decoded = decodeRecordBatch(batch);
  const records: DelayedRecord[] = [];
  const recordErrors: { batchIndex: number; message: string }[] = [];
  let later = false;
  decoded.records.forEach((r, index) => {
    const due = dueOf(r.headers, rules);
    if (typeof due === 'string') return void recordErrors.push({ batchIndex: index, message: due });
    if (due > rules.now) later = true;
    records.push({ key: r.key, value: r.value, headers: r.headers, dueMs: due });
  });
  if (recordErrors.length > 0) return { kind: 'refused', recordErrors };
  return later ? { kind: 'delayed', records } : NOW;
}

/**
 * False when no record of the batch can carry a delay header: no record has headers, or the
 * header name is nowhere in the (decompressed) record bytes. The validation's walk has seen
 * both already, so most batches, which have no headers, cost nothing here.
 */
function mayNameDelayHeader(walked: WalkedRecords): boolean {
  return walked.headersSeen && walked.records.indexOf(HEADER_PREFIX) >= 0;
}

/** The record's due time, or why its headers are refused. */
function dueOf(headers: readonly RecordHeader[], rules: DelayRules): number | string {
  const delay = headers.find((h) => h.key === DELAY_HEADER);
  const at = headers.find((h) => h.key === DELIVER_AT_HEADER);
  if (delay && at) return `a record may carry ${DELAY_HEADER} or ${DELIVER_AT_HEADER}, not both`;
  if (!delay && !at) return checkedDelay(rules.topicDelayMs, 'the topic config sluice.delivery.delay.ms', rules);
  const name = delay ? DELAY_HEADER : DELIVER_AT_HEADER;
  const text = (delay ?? at)!.value?.toString('latin1') ?? '';
  if (!DECIMAL.test(text)) return `header ${name} must be decimal milliseconds, got '${text.slice(0, 40)}'`;
  const n = Number(text);
  // A time already past is due now: the producer's clock may be a little ahead of ours.
  if (at) return checkedDelay(Math.max(0, n - rules.now), `header ${DELIVER_AT_HEADER} (${n})`, rules);
  if (n < 0) return `header ${DELAY_HEADER} must not be negative, got ${n}`;
  return checkedDelay(n, `header ${DELAY_HEADER}`, rules);
}

function checkedDelay(delayMs: number, source: string, rules: DelayRules): number | string {
  if (delayMs > rules.maxDelayMs) return `${source} asks for a delay of ${delayMs} ms, more than sluice.delivery.delay.max.ms ${rules.maxDelayMs}`;
  return rules.now + delayMs;
}
