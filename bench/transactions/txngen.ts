import { buildGenerator, consumeArgs, produceArgs, runGenerator, type ConsumeResult, type Percentiles, type ProduceResultBase, type ProduceTarget } from '../support/rdkafka-bench.js';

/** The transactional load generator (txngen.c); each run prints one JSON result. */

export type { Percentiles } from '../support/rdkafka-bench.js';

export function buildTxngen(dir: string): string {
  return buildGenerator(dir, 'txngen', 'bench/transactions/txngen.c');
}

export interface TxnProduceResult extends ProduceResultBase {
  /** Records per transaction; 0: an idempotent producer without transactions. */
  txnRecords: number;
  transactions: number;
  aborted: number;
  committedMsgs: number;
  /** rd_kafka_commit_transaction after every record was delivered: EndTxn; over the transactions that committed. */
  commitUs: Percentiles;
  /** From begin_transaction to the commit's return. */
  transactionUs: Percentiles;
}

export type Isolation = 'read_committed' | 'read_uncommitted';

export interface TxnConsumeResult extends ConsumeResult {
  isolation: Isolation;
}

export interface TxnProduceSpec extends ProduceTarget {
  /** 0: idempotent, no transactions. */
  txnRecords: number;
  abortEvery?: number;
  transactionalId?: string;
}

export function produceTxn(bin: string, bootstrap: string, spec: TxnProduceSpec): Promise<TxnProduceResult> {
  const args = [...produceArgs(bootstrap, spec), '--txn-records', String(spec.txnRecords)];
  if (spec.abortEvery) args.push('--abort-every', String(spec.abortEvery));
  if (spec.transactionalId) args.push('--transactional-id', spec.transactionalId);
  return runGenerator<TxnProduceResult>(bin, args);
}

export function consumeTxn(bin: string, bootstrap: string, topic: string, count: number, isolation: Isolation, consumers: number): Promise<TxnConsumeResult> {
  return runGenerator<TxnConsumeResult>(bin, [...consumeArgs(bootstrap, topic, count, consumers), '--isolation', isolation]);
}
