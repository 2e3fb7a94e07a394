import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { buildLoadgen, consume, produce, type ProduceResult } from '../broker/loadgen.js';
import { buildGenerator, consumeArgs, produceArgs, runGenerator, type ConsumeResult, type Percentiles, type ProduceResultBase } from '../support/rdkafka-bench.js';

/**
 * One load generator per protocol, each its server's fastest client that installs here, all
 * taking the same runs and printing the same JSON: librdkafka in C for Sluice (loadgen.c),
 * hiredis in C for Redis (redis-loadgen.c), nats.go for JetStream (nats-loadgen.go).
 */

export interface ProduceRun {
  topic: string;
  count: number;
  size: number;
  /** Paced: one message per slot at this rate, sent whatever is in flight (linger 0); else batched or pipelined. */
  rate?: number;
  /** The peers' generators stop sending then and report what was stored (a slow peer keeps the run short). */
  maxSeconds: number;
}

export type ProduceOutcome = ProduceResultBase & { latencyUs: Percentiles };

export interface Generator {
  /** Its client library, for the report. */
  client: string;
  produce(bootstrap: string, run: ProduceRun): Promise<ProduceOutcome>;
  consume(bootstrap: string, topic: string, count: number): Promise<ConsumeResult>;
}

/** librdkafka as bench:broker drives Sluice: acks=1, batches of up to 1 MB after linger 5 ms, or linger 0 when paced; one consumer. */
export function kafkaGenerator(dir: string): Generator {
  const bin = buildLoadgen(dir);
  return {
    client: 'librdkafka (C), acks=1',
    produce: (bootstrap, run): Promise<ProduceResult> =>
      produce(bin, bootstrap, { topic: run.topic, count: run.count, size: run.size, acks: '1', ...(run.rate === undefined ? {} : { rate: run.rate, lingerMs: 0 }) }),
    consume: (bootstrap, topic, count) => consume(bin, bootstrap, topic, count, 1),
  };
}

/** Why a peer's generator cannot be built here, with the command that fixes it; null when it can. */
export function hiredisMissing(): string | null {
  try {
    execFileSync('pkg-config', ['--exists', 'hiredis']);
    return null;
  } catch {
    return 'libhiredis-dev is not installed: apt-get install -y --no-install-recommends libhiredis-dev';
  }
}

/** The options both peer generators take besides the Kafka ones. */
function peerProduceArgs(bootstrap: string, run: ProduceRun): string[] {
  return [...produceArgs(bootstrap, run), '--max-seconds', String(run.maxSeconds), ...(run.rate === undefined ? [] : ['--rate', String(run.rate)])];
}

export function redisGenerator(dir: string): Generator {
  const bin = buildGenerator(dir, 'redis-loadgen', 'bench/peers/redis-loadgen.c', ['-lhiredis']);
  return {
    client: 'hiredis (C), 1,000 XADD pipelined, XREAD COUNT 10000',
    produce: (bootstrap, run) => runGenerator<ProduceOutcome>(bin, peerProduceArgs(bootstrap, run)),
    consume: (bootstrap, topic, count) => runGenerator<ConsumeResult>(bin, consumeArgs(bootstrap, topic, count, 1)),
  };
}

/** Debian's Go packages live here, outside any module: the generator builds in GOPATH mode, offline. */
const GO_PATH = '/usr/share/gocode';
const NATS_GO = join(GO_PATH, 'src/github.com/nats-io/nats.go');

/** Why the NATS generator cannot be built here, with the command that fixes it; null when it can. */
export function natsGoMissing(): string | null {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    return 'go is not installed: apt-get install -y --no-install-recommends golang-go golang-github-nats-io-go-nats-dev';
  }
  if (!existsSync(NATS_GO)) return `nats.go is not in ${GO_PATH}: apt-get install -y --no-install-recommends golang-github-nats-io-go-nats-dev`;
  return null;
}

export function natsGenerator(dir: string): Generator {
  const bin = join(dir, 'nats-loadgen');
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: GO_PATH, GOCACHE: join(dir, 'go-cache'), GOFLAGS: '' };
  execFileSync('go', ['build', '-o', bin, join(PACKAGE_ROOT, 'bench/peers/nats-loadgen.go')], { env, stdio: ['ignore', 2, 2] });
  return {
    client: 'nats.go (Go), 1,000 async publishes in flight, ordered consumer',
    produce: (bootstrap, run) => runGenerator<ProduceOutcome>(bin, peerProduceArgs(bootstrap, run)),
    consume: (bootstrap, topic, count) => runGenerator<ConsumeResult>(bin, consumeArgs(bootstrap, topic, count, 1)),
  };
}
