import { ErrorCode } from '../protocol/generated/errors.js';
import { CompressionType } from '../protocol/compression/index.js';
import { Attribute, HeaderField, RECORD_BATCH_HEADER_SIZE, CURRENT_MAGIC } from '../protocol/records/batch-layout.js';
import { batchSizeAt } from '../protocol/records/batch-spans.js';
import { validateRecordBatch, type RecordSpanVisitor, type WalkedRecords } from '../protocol/records/batch-validation.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { hasProducerId } from '../protocol/records/batch-layout.js';
import { readInt64 } from '../storage/int64.js';

export interface RecordSetProblem {
  errorCode: number;
  message: string;
  /** For Produce v8+'s record errors: Kafka's names a record; 0, the batch's first, when none is singled out. */
  batchIndex: number;
  /** Every offending record of the batch, each with its own message, when the problem is in records (Kafka's RecordValidationException). */
  recordErrors?: { batchIndex: number; message: string }[];
}

export interface ProducedRecordsRules {
  /** The Produce request version: zstd needs v7+. */
  version: number;
  /** max.message.bytes. */
  maxMessageBytes: number;
  /** cleanup.policy includes compact: every record needs a key. */
  compacted: boolean;
  /** `<topic>-<partition>`, for messages as Kafka words them. */
  topicPartition?: string;
  /**
   * message.timestamp.type=CreateTime with message.timestamp.before/after.max.ms (or the older
   * difference.max.ms): records stamped outside [now - beforeMaxMs, now + afterMaxMs] are refused.
   */
  timestampWindow?: { now: number; beforeMaxMs: number; afterMaxMs: number };
}

/**
 * The window of CreateTime timestamps a topic accepts, as Kafka's LogConfig reads it: each of
 * before/after when set (not Long.MAX_VALUE), else message.timestamp.difference.max.ms. Null
 * when nothing is refused (LogAppendTime, or every bound unlimited).
 */
export function timestampWindowOf(
  config: {
    'message.timestamp.type': string;
    'message.timestamp.before.max.ms': number;
    'message.timestamp.after.max.ms': number;
    'message.timestamp.difference.max.ms': number;
  },
  now: number,
): ProducedRecordsRules['timestampWindow'] {
  if (config['message.timestamp.type'] !== 'CreateTime') return undefined;
  const difference = config['message.timestamp.difference.max.ms'];
  const before = Number.isFinite(config['message.timestamp.before.max.ms']) ? config['message.timestamp.before.max.ms'] : difference;
  const after = Number.isFinite(config['message.timestamp.after.max.ms']) ? config['message.timestamp.after.max.ms'] : difference;
  return Number.isFinite(before) || Number.isFinite(after) ? { now, beforeMaxMs: before, afterMaxMs: after } : undefined;
}

/** Produce v7 is the first a client may send zstd batches in (KIP-110). */
const FIRST_ZSTD_VERSION = 7;

/**
 * Kafka's answer to records it refuses one by one: INVALID_RECORD, every offending record's
 * batch index with its message, and a summary naming at most the first three.
 */
function recordErrorsProblem(recordErrors: { batchIndex: number; message: string }[]): RecordSetProblem {
  const shown = recordErrors.slice(0, 3).map((e) => `RecordError(batchIndex=${e.batchIndex}, message='${e.message}')`);
  return {
    errorCode: ErrorCode.INVALID_RECORD,
    message:
      `One or more records have been rejected due to ${recordErrors.length} record errors in total, ` +
      `and only showing the first three errors at most: [${shown.join(', ')}]`,
    batchIndex: recordErrors[0]!.batchIndex,
    recordErrors,
  };
}

/** A bound of the window in a message: an unlimited one reads Long.MIN_VALUE / MAX_VALUE. */
const longString = (n: number): string => (Number.isFinite(n) ? String(n) : n > 0 ? '9223372036854775807' : '-9223372036854775808');

const problem = (errorCode: number, message: string): RecordSetProblem => ({ errorCode, message, batchIndex: 0 });

/**
 * Kafka's checks of a produced record set, before anything is written: exactly one batch (what
 * Produce v3+ allows per partition), magic 2, no zstd before Produce v7, within
 * max.message.bytes, a good CRC, well-formed records (keys required on compacted topics), not
 * a control batch, and a sequence wherever there is a producer id. Returns the first problem,
 * or what the walk saw of the records (the delay check reads it rather than walk them again).
 */
export function checkProducedRecords(records: Buffer | null, rules: ProducedRecordsRules): RecordSetProblem | WalkedRecords {
  if (records === null || records.length === 0) return problem(ErrorCode.INVALID_RECORD, 'the produce request holds no record batch');
  if (records.length > HeaderField.magic && records[HeaderField.magic] !== CURRENT_MAGIC) {
    return problem(
      ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
      `record batch magic ${records[HeaderField.magic]} is not supported: Sluice accepts magic 2 (Kafka 0.11+ clients) only`,
    );
  }
  try {
    if (records.length < RECORD_BATCH_HEADER_SIZE) throw new ProtocolError('truncated', `${records.length} bytes are not a record batch`);
    const size = batchSizeAt(records, 0);
    if (size !== records.length) {
      return problem(ErrorCode.INVALID_RECORD, `Produce requests with version ${rules.version} may hold exactly one record batch per partition`);
    }
    const attributes = records.readInt16BE(HeaderField.attributes);
    if ((attributes & Attribute.compressionMask) === CompressionType.Zstd && rules.version < FIRST_ZSTD_VERSION) {
      return problem(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Produce requests with version ${rules.version} may not use zstd; v${FIRST_ZSTD_VERSION}+ may`);
    }
    if (size > rules.maxMessageBytes) {
      return problem(ErrorCode.MESSAGE_TOO_LARGE, `the batch is ${size} bytes, larger than max.message.bytes ${rules.maxMessageBytes}`);
    }
    let keyless: number[] | null = null;
    const requireKeys: RecordSpanVisitor = (_records, _keyStart, keyLength, _valueStart, _valueLength, index) => {
      if (keyLength < 0) (keyless ??= []).push(index);
    };
    // Kafka's LogValidator.validateTimestamp, record by record (NO_TIMESTAMP, -1, passes).
    const window = rules.timestampWindow;
    const badTimestamps: { batchIndex: number; message: string }[] = [];
    const baseTimestamp = readInt64(records, HeaderField.baseTimestamp);
    const checkTimestamp: RecordSpanVisitor = (_records, _keyStart, _keyLength, _valueStart, _valueLength, index, timestampDelta) => {
      const ts = baseTimestamp + timestampDelta;
      if (!window || ts === -1 || (ts >= window.now - window.beforeMaxMs && ts <= window.now + window.afterMaxMs)) return;
      badTimestamps.push({
        batchIndex: index,
        message:
          `Timestamp ${ts} of message with offset ${index} is out of range. The timestamp should be within ` +
          `[${longString(window.now - window.beforeMaxMs)}, ${longString(window.now + window.afterMaxMs)}]`,
      });
    };
    const onRecord: RecordSpanVisitor | undefined =
      rules.compacted && window
        ? (...args) => {
            requireKeys(...args);
            checkTimestamp(...args);
          }
        : rules.compacted
          ? requireKeys
          : window
            ? checkTimestamp
            : undefined;
    const walked = validateRecordBatch(records, 0, onRecord ? { onRecord } : {});
    if (badTimestamps.length > 0) {
      // Kafka's InvalidTimestampException wins over the other record errors of the batch.
      return { errorCode: ErrorCode.INVALID_TIMESTAMP, message: 'One or more records have been rejected due to invalid timestamp', batchIndex: badTimestamps[0]!.batchIndex, recordErrors: badTimestamps };
    }
    if (keyless !== null) {
      const message = `Compacted topic cannot accept message without key in topic partition ${rules.topicPartition ?? 'this partition'}.`;
      return recordErrorsProblem((keyless as number[]).map((batchIndex) => ({ batchIndex, message })));
    }
    if (attributes & Attribute.control) return problem(ErrorCode.INVALID_RECORD, 'clients may not write control batches');
    const baseSequence = records.readInt32BE(HeaderField.baseSequence);
    if (hasProducerId(records) && baseSequence < 0) {
      return problem(ErrorCode.INVALID_RECORD, `invalid sequence number ${baseSequence} in a batch with a producer id`);
    }
    return walked;
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    const errorCode = e.kind === 'checksum' || e.kind === 'truncated' || e.kind === 'invalid-length' ? ErrorCode.CORRUPT_MESSAGE : ErrorCode.INVALID_RECORD;
    return problem(errorCode, e.message);
  }
}

export const isRecordSetProblem = (checked: RecordSetProblem | WalkedRecords): checked is RecordSetProblem => 'errorCode' in checked;
