import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { spawnPrioritized } from '../broker/priority.js';

/** Builds and runs the transactional load generator (txngen.c); each run prints one JSON result. */

const SOURCE = join(PACKAGE_ROOT, 'bench/transactions/txngen.c');

export function buildTxngen(dir: string): string {
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'rdkafka'], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch {
    throw new Error('librdkafka was not found by pkg-config: apt-get install -y librdkafka-dev build-essential pkg-config');
  }
  const bin = join(dir, 'txngen');
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, SOURCE, ...flags, '-lpthread'], { stdio: ['ignore', 2, 2] });
  return bin;
}

/** Percentiles in microseconds over the transactions that committed. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

interface Cpu {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
}

export interface TxnProduceResult extends Cpu {
  mode: 'produce';
  topic: string;
  partitions: number;
  size: number;
  /** Records per transaction; 0: an idempotent producer without transactions. */
  txnRecords: number;
  msgs: number;
  failed: number;
  firstError: string;
  transactions: number;
  aborted: number;
  committedMsgs: number;
  bytes: number;
  seconds: number;
  /** rd_kafka_commit_transaction after every record was delivered: EndTxn. */
  commitUs: Percentiles;
  /** From begin_transaction to the commit's return. */
  transactionUs: Percentiles;
}

export interface TxnConsumeResult extends Cpu {
  mode: 'consume';
  topic: string;
  isolation: Isolation;
  partitions: number;
  consumers: number;
  msgs: number;
  bytes: number;
  errors: number;
  seconds: number;
}

export type Isolation = 'read_committed' | 'read_uncommitted';

function run<T>(bin: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawnPrioritized(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => (out += d));
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      process.off('exit', killOnExit);
      if (code !== 0) return reject(new Error(`txngen ${args[0]} failed (${signal ?? code}): ${out.trim()}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch {
        reject(new Error(`txngen ${args[0]} printed no result: ${out.trim()}`));
      }
    });
  });
}

export interface TxnProduceSpec {
  topic: string;
  count: number;
  size: number;
  /** 0: idempotent, no transactions. */
  txnRecords: number;
  abortEvery?: number;
  transactionalId?: string;
}

export function produceTxn(bin: string, bootstrap: string, spec: TxnProduceSpec): Promise<TxnProduceResult> {
  const args = ['produce', '--bootstrap', bootstrap, '--topic', spec.topic, '--count', String(spec.count), '--size', String(spec.size), '--txn-records', String(spec.txnRecords)];
  if (spec.abortEvery) args.push('--abort-every', String(spec.abortEvery));
  if (spec.transactionalId) args.push('--transactional-id', spec.transactionalId);
  return run<TxnProduceResult>(bin, args);
}

export function consumeTxn(bin: string, bootstrap: string, topic: string, count: number, isolation: Isolation, consumers: number): Promise<TxnConsumeResult> {
  return run<TxnConsumeResult>(bin, ['consume', '--bootstrap', bootstrap, '--topic', topic, '--count', String(count), '--isolation', isolation, '--consumers', String(consumers)]);
}
