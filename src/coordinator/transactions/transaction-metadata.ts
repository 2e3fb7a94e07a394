import { versionedRecord } from '../coordinator-log.js';
import { TransactionLogKeyCodec } from '../../protocol/generated/transaction-coordinator/transaction-log-key.js';
import { TransactionLogValueCodec, type TransactionLogValue } from '../../protocol/generated/transaction-coordinator/transaction-log-value.js';
import { Reader } from '../../protocol/primitives/reader.js';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';

/** Kafka's TransactionState ids, as __transaction_state stores them. */
export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TxnStateId = (typeof TxnState)[keyof typeof TxnState];

/** Kafka's names for the states (DescribeTransactions, ListTransactions). */
export const TXN_STATE_NAMES: readonly string[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead', 'PrepareEpochFence'];

/** No producer id or epoch yet. */
export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;

/** One transactional id as its coordinator keeps it (Kafka's TransactionMetadata). */
export interface TransactionMetadata {
  transactionalId: string;
  producerId: bigint;
  /** The id before the epoch ran out and a new one was given: a retried InitProducerId may still name it. */
  previousProducerId: bigint;
  producerEpoch: number;
  /** The epoch before the last bump, for retries of InitProducerId (KIP-360). */
  lastProducerEpoch: number;
  timeoutMs: number;
  state: TxnStateId;
  /** Partitions in the open transaction, by topic. */
  partitions: Map<string, Set<number>>;
  /** When the open transaction began; -1 when none is open. */
  startTimestamp: number;
  lastUpdateTimestamp: number;
  /** A state change is being written: requests meanwhile get CONCURRENT_TRANSACTIONS. */
  writing: boolean;
}

/** Key and value versions written: the ones Kafka 3.x writes for its transactions. */
const KEY_VERSION = 0;
const VALUE_VERSION = 0;

export function transactionLogKey(transactionalId: string): Buffer {
  return versionedRecord(KEY_VERSION, (w) => TransactionLogKeyCodec.write(w, { transactionalId }, KEY_VERSION));
}

export function transactionLogValue(md: TransactionMetadata): Buffer {
  const value: TransactionLogValue = {
    producerId: md.producerId,
    previousProducerId: md.previousProducerId,
    nextProducerId: NO_PRODUCER_ID,
    producerEpoch: md.producerEpoch,
    transactionTimeoutMs: md.timeoutMs,
    transactionStatus: md.state,
    transactionPartitions: [...md.partitions].map(([topic, ids]) => ({ topic, partitionIds: [...ids].sort((a, b) => a - b) })),
    transactionLastUpdateTimestampMs: BigInt(md.lastUpdateTimestamp),
    transactionStartTimestampMs: BigInt(md.startTimestamp),
    clientTransactionVersion: 0,
  };
  return versionedRecord(VALUE_VERSION, (w) => TransactionLogValueCodec.write(w, value, VALUE_VERSION));
}

/** Reads one __transaction_state record: the transactional id and its metadata, or null for a tombstone. */
export function readTransactionLogRecord(key: Buffer, value: Buffer | null): { transactionalId: string; metadata: TransactionMetadata | null } {
  const kr = new Reader(key);
  const { transactionalId } = TransactionLogKeyCodec.read(kr, kr.int16());
  if (value === null) return { transactionalId, metadata: null };
  const vr = new Reader(value);
  const v = TransactionLogValueCodec.read(vr, vr.int16());
  return {
    transactionalId,
    metadata: {
      transactionalId,
      producerId: v.producerId,
      previousProducerId: v.previousProducerId,
      producerEpoch: v.producerEpoch,
      lastProducerEpoch: NO_PRODUCER_EPOCH,
      timeoutMs: v.transactionTimeoutMs,
      state: v.transactionStatus as TxnStateId,
      partitions: new Map((v.transactionPartitions ?? []).map((p) => [p.topic, new Set(p.partitionIds)])),
      startTimestamp: Number(v.transactionStartTimestampMs),
      lastUpdateTimestamp: Number(v.transactionLastUpdateTimestampMs),
      writing: false,
    },
  };
}

export function partitionList(md: TransactionMetadata): { topic: string; partition: number }[] {
  return [...md.partitions].flatMap(([topic, ids]) => [...ids].map((partition) => ({ topic, partition })));
}
