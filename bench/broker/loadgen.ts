import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { spawnPrioritized } from './priority.js';

/** Builds and runs the C load generator (loadgen.c); each run prints one JSON result. */

const SOURCE = join(PACKAGE_ROOT, 'bench/broker/loadgen.c');

/** Compiles loadgen.c into `dir`; warnings are errors, so the tool stays clean. */
export function buildLoadgen(dir: string): string {
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'rdkafka'], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch {
    throw new Error('librdkafka was not found by pkg-config: apt-get install -y librdkafka-dev build-essential pkg-config');
  }
  const bin = join(dir, 'loadgen');
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, SOURCE, ...flags], { stdio: ['ignore', 2, 2] });
  return bin;
}

export interface LoadgenCpu {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
}

export interface ProduceResult extends LoadgenCpu {
  mode: 'produce';
  topic: string;
  partitions: number;
  acks: string;
  size: number;
  msgs: number;
  failed: number;
  firstError: string | null;
  bytes: number;
  seconds: number;
  /** From the produce call to the delivery report, in microseconds. */
  latencyUs: { p50: number; p99: number; p999: number; max: number };
}

export interface ConsumeResult extends LoadgenCpu {
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

export interface TcpResult extends LoadgenCpu {
  mode: 'tcp';
  bytes: number;
  chunk: number;
  seconds: number;
  receiverCpuUserSeconds: number;
  receiverCpuSystemSeconds: number;
}

export interface ProduceSpec {
  topic: string;
  count: number;
  size: number;
  acks: '0' | '1' | '-1';
  lingerMs?: number;
  /** Messages per second; unpaced (as fast as the broker takes them) when omitted. */
  rate?: number;
}

/** Runs the binary and parses the JSON line it prints; its stderr passes through. */
function run<T>(bin: string, args: string[]): Promise<T> {
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
      if (code !== 0) return reject(new Error(`loadgen ${args[0]} failed (${signal ?? code}): ${out.trim()}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch {
        reject(new Error(`loadgen ${args[0]} printed no result: ${out.trim()}`));
      }
    });
  });
}

export function produce(bin: string, bootstrap: string, spec: ProduceSpec): Promise<ProduceResult> {
  const args = ['produce', '--bootstrap', bootstrap, '--topic', spec.topic, '--count', String(spec.count), '--size', String(spec.size), '--acks', spec.acks];
  if (spec.lingerMs !== undefined) args.push('--linger-ms', String(spec.lingerMs));
  if (spec.rate !== undefined) args.push('--rate', String(spec.rate));
  return run<ProduceResult>(bin, args);
}

export function consume(bin: string, bootstrap: string, topic: string, count: number, consumers: number): Promise<ConsumeResult> {
  return run<ConsumeResult>(bin, ['consume', '--bootstrap', bootstrap, '--topic', topic, '--count', String(count), '--consumers', String(consumers)]);
}

export function loopbackTcp(bin: string, bytes: number): Promise<TcpResult> {
  return run<TcpResult>(bin, ['tcp', '--bytes', String(bytes)]);
}
