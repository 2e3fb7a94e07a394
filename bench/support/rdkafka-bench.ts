import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { spawnPrioritized } from '../broker/priority.js';

/**
 * Builds and runs the librdkafka load generators in C (bench/broker/loadgen.c,
 * bench/transactions/txngen.c), each compiled with the code they share
 * (bench/support/rdkafka-bench.c); each run prints one JSON result.
 */

const SHARED_SOURCE = join(PACKAGE_ROOT, 'bench/support/rdkafka-bench.c');

/**
 * Compiles `source` (relative to the package) into `dir`/`name`, linked with `libs` as well;
 * warnings are errors, so the tool stays clean.
 */
export function buildGenerator(dir: string, name: string, source: string, libs: readonly string[] = []): string {
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'rdkafka'], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch {
    throw new Error('librdkafka was not found by pkg-config: apt-get install -y librdkafka-dev build-essential pkg-config');
  }
  const bin = join(dir, name);
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, join(PACKAGE_ROOT, source), SHARED_SOURCE, ...flags, ...libs, '-lpthread'], { stdio: ['ignore', 2, 2] });
  return bin;
}

/** Runs a generator and parses the JSON line it prints; its stderr passes through. */
export function runGenerator<T>(bin: string, args: string[]): Promise<T> {
  const what = `${basename(bin)} ${args[0]}`;
  return new Promise((resolve, reject) => {
    const child = spawnPrioritized(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => (out += d));
    // Detached under SLUICE_BENCH_NICE: a crashed benchmark must not leave it running.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('error', reject);
    // 'close', not 'exit': the last of its output may still be in the pipe when it exits.
    child.once('close', (code, signal) => {
      process.off('exit', killOnExit);
      if (code !== 0) return reject(new Error(`${what} failed (${signal ?? code}): ${out.trim()}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch {
        reject(new Error(`${what} printed no result: ${out.trim()}`));
      }
    });
  });
}

/** The generator's own CPU over the measured window, librdkafka's threads included. */
export interface GeneratorCpu {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
}

/** Percentiles in microseconds over `count` values. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** What both generators' produce mode reports (print_produce_result). */
export interface ProduceResultBase extends GeneratorCpu {
  mode: 'produce';
  topic: string;
  partitions: number;
  size: number;
  /** Records delivered. */
  msgs: number;
  failed: number;
  firstError: string | null;
  bytes: number;
  seconds: number;
}

/** What the consume mode reports (run_consume). */
export interface ConsumeResult extends GeneratorCpu {
  mode: 'consume';
  topic: string;
  partitions: number;
  /** librdkafka consumers (threads), each with its share of the partitions. */
  consumers: number;
  msgs: number;
  bytes: number;
  errors: number;
  seconds: number;
}

/** The options every produce run takes. */
export interface ProduceTarget {
  topic: string;
  count: number;
  size: number;
}

export function produceArgs(bootstrap: string, spec: ProduceTarget): string[] {
  return ['produce', '--bootstrap', bootstrap, '--topic', spec.topic, '--count', String(spec.count), '--size', String(spec.size)];
}

export function consumeArgs(bootstrap: string, topic: string, count: number, consumers: number): string[] {
  return ['consume', '--bootstrap', bootstrap, '--topic', topic, '--count', String(count), '--consumers', String(consumers)];
}
