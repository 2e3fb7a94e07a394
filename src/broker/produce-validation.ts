import { ErrorCode } from '../protocol/generated/errors.js';
import { CompressionType } from '../protocol/compression/index.js';
import { Attribute, HeaderField, RECORD_BATCH_HEADER_SIZE, CURRENT_MAGIC } from '../protocol/records/batch-layout.js';
import { batchSizeAt } from '../protocol/records/batch-spans.js';
import { validateRecordBatch, type RecordSpanVisitor } from '../protocol/records/batch-validation.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { hasProducerId } from '../replication/producers/producer-entry.js';

export interface RecordSetProblem {
  errorCode: number;
  message: string;
  /** For Produce v8+'s record errors: Kafka's names a record; 0, the batch's first, when none is singled out. */
  batchIndex: number;
}

export interface ProducedRecordsRules {
  /** The Produce request version: zstd needs v7+. */
  version: number;
  /** max.message.bytes. */
  maxMessageBytes: number;
  /** cleanup.policy includes compact: every record needs a key. */
  compacted: boolean;
}

/** Produce v7 is the first a client may send zstd batches in (KIP-110). */
const FIRST_ZSTD_VERSION = 7;

const requireKeys: RecordSpanVisitor = (_records, _keyStart, keyLength) => {
  if (keyLength < 0) throw new ProtocolError('invalid-value', 'compacted topics accept only records with keys');
};

const problem = (errorCode: number, message: string): RecordSetProblem => ({ errorCode, message, batchIndex: 0 });

/**
 * Kafka's checks of a produced record set, before anything is written: exactly one batch (what
 * Produce v3+ allows per partition), magic 2, no zstd before Produce v7, within
 * max.message.bytes, a good CRC, well-formed records (keys required on compacted topics), not
 * a control batch, and a sequence wherever there is a producer id. Returns the first problem,
 * or null.
 */
export function checkProducedRecords(records: Buffer | null, rules: ProducedRecordsRules): RecordSetProblem | null {
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
    validateRecordBatch(records, 0, rules.compacted ? { onRecord: requireKeys } : {});
    if (attributes & Attribute.control) return problem(ErrorCode.INVALID_RECORD, 'clients may not write control batches');
    const baseSequence = records.readInt32BE(HeaderField.baseSequence);
    if (hasProducerId(records) && baseSequence < 0) {
      return problem(ErrorCode.INVALID_RECORD, `invalid sequence number ${baseSequence} in a batch with a producer id`);
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    const errorCode = e.kind === 'checksum' || e.kind === 'truncated' || e.kind === 'invalid-length' ? ErrorCode.CORRUPT_MESSAGE : ErrorCode.INVALID_RECORD;
    return problem(errorCode, e.message);
  }
  return null;
}
