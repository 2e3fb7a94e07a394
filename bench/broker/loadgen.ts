import { buildGenerator, consumeArgs, produceArgs, runGenerator, type ConsumeResult, type GeneratorCpu, type Percentiles, type ProduceResultBase, type ProduceTarget } from '../support/rdkafka-bench.js';

/** The C load generator (loadgen.c) of the broker, partitions and cluster benchmarks; each run prints one JSON result. */

export type { ConsumeResult } from '../support/rdkafka-bench.js';

export function buildLoadgen(dir: string): string {
  return buildGenerator(dir, 'loadgen', 'bench/broker/loadgen.c');
}

export interface ProduceResult extends ProduceResultBase {
  acks: string;
  /** From the produce call to the delivery report, in microseconds. */
  latencyUs: Percentiles;
  /** With `endToEnd`: from the produce call to the record's receipt by a consumer in the same process. */
  endToEndUs?: Percentiles;
}

export interface TcpResult extends GeneratorCpu {
  mode: 'tcp';
  bytes: number;
  chunk: number;
  seconds: number;
  receiverCpuUserSeconds: number;
  receiverCpuSystemSeconds: number;
}

export interface ProduceSpec extends ProduceTarget {
  acks: '0' | '1' | '-1';
  lingerMs?: number;
  /** Messages per second; unpaced (as fast as the broker takes them) when omitted. */
  rate?: number;
  /** Also consume the topic in the same process and time each record to its receipt (records of at least 16 B). */
  endToEnd?: boolean;
}

/** `--set key=value` for each librdkafka setting. */
const settingArgs = (settings: Readonly<Record<string, string>>): string[] => Object.entries(settings).flatMap(([k, v]) => ['--set', `${k}=${v}`]);

export function produce(bin: string, bootstrap: string, spec: ProduceSpec, settings: Readonly<Record<string, string>> = {}): Promise<ProduceResult> {
  const args = [...produceArgs(bootstrap, spec), '--acks', spec.acks, ...settingArgs(settings)];
  if (spec.lingerMs !== undefined) args.push('--linger-ms', String(spec.lingerMs));
  if (spec.rate !== undefined) args.push('--rate', String(spec.rate));
  if (spec.endToEnd) args.push('--end-to-end', '1');
  return runGenerator<ProduceResult>(bin, args);
}

export function consume(bin: string, bootstrap: string, topic: string, count: number, consumers: number, settings: Readonly<Record<string, string>> = {}): Promise<ConsumeResult> {
  return runGenerator<ConsumeResult>(bin, [...consumeArgs(bootstrap, topic, count, consumers), ...settingArgs(settings)]);
}

/** What the fetch mode reports: a plain-socket Fetch client that walks batch headers only, never records. */
export interface FetchResult extends GeneratorCpu {
  mode: 'fetch';
  topic: string;
  partitions: number;
  /** Always 1: one thread, one connection, one request in flight per partition. */
  consumers: number;
  msgs: number;
  /** Payload bytes as the consume mode counts them, taken as records × the size asked for (the records are not parsed). */
  bytes: number;
  /** The whole record batches as served, framing included. */
  batchBytes: number;
  /** Fetch responses in the measured window, and their bytes on the wire. */
  responses: number;
  responseBytes: number;
  errors: number;
  seconds: number;
}

export function rawFetch(bin: string, bootstrap: string, topic: string, count: number, size: number): Promise<FetchResult> {
  return runGenerator<FetchResult>(bin, ['fetch', '--bootstrap', bootstrap, '--topic', topic, '--count', String(count), '--size', String(size)]);
}

export function loopbackTcp(bin: string, bytes: number): Promise<TcpResult> {
  return runGenerator<TcpResult>(bin, ['tcp', '--bytes', String(bytes)]);
}
