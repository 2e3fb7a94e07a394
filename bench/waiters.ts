/**
 * Parked consumers and idle connections: a compiled broker in its own process.
 *
 *   npm run bench:waiters
 *
 * 1. Long polls: 1,000 partitions, each watched by a raw Fetch (max_wait 30 s) that is parked
 *    again as soon as it is answered, in two layouts: 1,000 connections of one partition each,
 *    10 connections of 100 partitions each, and the same in incremental fetch sessions (KIP-227:
 *    each fetch names only the partitions it read from last, each answer only those with records;
 *    a build without sessions answers them in full). After a warm-up record to every partition
 *    (not measured), a producer writes one 100 B record (acks=1) to a random partition at a
 *    steady rate; the figure is produce sent -> the waiting consumer's receipt, with the broker's
 *    CPU, how many partitions parked fetches looked at again per record
 *    (sluice_fetch_parked_evaluations_total; absent from builds before it existed), and the
 *    consumers' own garbage-collection time. The consumers run in a worker thread
 *    (waiters-pollers.ts) apart from the producer: more threads measured worse on two cores,
 *    since they compete with the broker for CPU.
 * 2. Idle connections: a paced producer's latency on its own, then with 10,000 idle
 *    connections held (each has had one ApiVersions answered), and the broker's RSS growth per
 *    connection.
 *
 * Environment:
 *   SLUICE_BENCH_WAITERS_RATE       records/s of the long-poll and produce probes (default 500)
 *   SLUICE_BENCH_WAITERS_SECONDS    length of each probe (default 10)
 *   SLUICE_BENCH_IDLE_CONNECTIONS   idle connections held (default 10,000)
 *   SLUICE_BENCH_WAITERS_THREADS    worker threads the long-polling consumers are spread over (default 1)
 *   SLUICE_BENCH_WAITERS_BASELINE   another build's dist/src/cli/main.js, measured first in the same run
 *   SLUICE_BENCH_BROKER_CONFIG      more broker settings, "key=value,..." (sluice.log.append.mode=mmap, say)
 *   SLUICE_BENCH_PROFILE            1: the brokers run under node --cpu-prof, and each long-poll
 *                                   layout reports what its tail waited behind (the main thread's
 *                                   long busy stretches, and the gaps when it got no CPU)
 *   SLUICE_BENCH_NICE               as for bench:broker
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { apis } from '../src/protocol/generated/api-table.js';
import { encodeRequestFrame } from '../src/protocol/headers.js';
import { encodeRecordBatch } from '../src/protocol/records/record-batch.js';
import { RawConnection } from '../test/support/raw-connection.js';
import { createTopic } from '../test/support/raw-requests.js';
import { ensureBuilt, startBroker, type RunningBroker } from './broker/broker-process.js';
import { longStretches, type Stretches } from './broker/cpuprofile.js';
import { STRETCH_MS } from './broker/profile.js';
import { formatStretches } from './broker/report.js';
import { meterProcess } from './broker/proc.js';
import { envCount, envSettings } from './support/env.js';
import { freePort } from './support/free-port.js';
import { machineFacts, progressLog } from './support/machine.js';
import { fmt, table } from './support/measure.js';
import { LatencySamples, nowNs } from './support/resources.js';
import { openWorkspace } from './support/workspace.js';
import { startPollerThread } from './waiters-pollers.js';

const PARTITIONS = 1000;
const RATE = envCount('SLUICE_BENCH_WAITERS_RATE', 500);
const SECONDS = envCount('SLUICE_BENCH_WAITERS_SECONDS', 10);
const IDLE = envCount('SLUICE_BENCH_IDLE_CONNECTIONS', 10_000);
const BASELINE = process.env.SLUICE_BENCH_WAITERS_BASELINE ?? '';
const PROFILE = process.env.SLUICE_BENCH_PROFILE === '1';
const SETTINGS = envSettings('SLUICE_BENCH_BROKER_CONFIG');
const THREADS = envCount('SLUICE_BENCH_WAITERS_THREADS', 1);
const MAX_WAIT_MS = 30_000;
const FETCH_VERSION = 11;
const TOPIC = 'waiters';
const progress = progressLog(new Date());

function portOf(b: RunningBroker): number {
  return Number(b.bootstrap.split(':').at(-1));
}

async function parkedEvaluations(metricsPort: number): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = /^sluice_fetch_parked_evaluations_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

const record = (): Buffer => encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: null, value: Buffer.alloc(100, 7), timestampDelta: 0, headers: [] }] });

/** Produce v9, acks=1, one record to `partition`, without waiting for the answer. */
function produceFrame(correlationId: number, partition: number): Buffer {
  return encodeRequestFrame({ correlationId, clientId: 'bench-producer' }, apis.Produce.apiKey, 9, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 10_000,
    topicData: [{ name: TOPIC, partitionData: [{ index: partition, records: record() }] }],
  });
}

interface LongPollResult {
  layout: string;
  records: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
  cpuSeconds: number;
  evaluationsPerRecord: number | null;
  /** The consumers' own garbage collections while measuring (their threads' added up). */
  consumerGc: { totalMs: number; maxMs: number };
  /** CLOCK_MONOTONIC µs, for the broker's profile. */
  window: { startUs: number; endUs: number };
  stretches?: Stretches;
}

async function longPolls(b: RunningBroker, metricsPort: number, connections: number, sessions: boolean): Promise<LongPollResult> {
  const per = PARTITIONS / connections;
  const sentAt = new BigInt64Array(new SharedArrayBuffer(PARTITIONS * 8));
  const shares = Array.from({ length: Math.min(THREADS, connections) }, () => [] as number[][]);
  for (let c = 0; c < connections; c++) shares[c % shares.length].push(Array.from({ length: per }, (_, i) => c * per + i));
  const threads = await Promise.all(shares.map((share) => startPollerThread({ port: portOf(b), topic: TOPIC, connections: share, sessions, maxWaitMs: MAX_WAIT_MS, fetchVersion: FETCH_VERSION, sentAt: sentAt.buffer as SharedArrayBuffer })));
  // Every fetch is parked before the first record goes out.
  await sleep(2000);
  const producer = await RawConnection.open(portOf(b));
  // Warm-up, not measured: a record to every partition, so that the figures are of a broker whose
  // code paths are compiled and whose partitions have each been written and read once.
  for (let partition = 0; partition < PARTITIONS; partition++) producer.send(produceFrame(partition + 1, partition));
  for (let partition = 0; partition < PARTITIONS; partition++) await producer.nextFrame(10_000);
  await sleep(2000);
  const evaluations0 = await parkedEvaluations(metricsPort);
  for (const t of threads) t.measure();
  const meter = meterProcess(b.pid);
  const total = RATE * SECONDS;
  const start = nowNs();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1e9) / RATE;
    const wait = (due - nowNs()) / 1e6;
    if (wait > 1) await sleep(wait);
    // One record in flight per partition: the latency is of that record alone.
    let partition = Math.floor(Math.random() * PARTITIONS);
    while (Atomics.load(sentAt, partition) !== 0n) partition = Math.floor(Math.random() * PARTITIONS);
    Atomics.store(sentAt, partition, process.hrtime.bigint());
    producer.send(produceFrame(PARTITIONS + i + 1, partition));
    void producer.nextFrame(10_000);
  }
  await sleep(1000);
  const window = { startUs: start / 1e3, endUs: nowNs() / 1e3 };
  const usage = meter.stop();
  const evaluations1 = await parkedEvaluations(metricsPort);
  producer.destroy();
  const results = await Promise.all(threads.map((t) => t.stop()));
  const latencies = new LatencySamples();
  for (const r of results) for (const ns of r.latenciesNs) latencies.add(ns);
  return {
    layout: `${connections} conns x ${per} partitions${sessions ? ', sessions' : ''}`,
    records: total,
    received: latencies.count,
    p50: latencies.percentileUs(0.5) / 1e3,
    p99: latencies.percentileUs(0.99) / 1e3,
    max: latencies.maxUs() / 1e3,
    cpuSeconds: usage.cpu.userSeconds + usage.cpu.systemSeconds,
    evaluationsPerRecord: evaluations0 === null || evaluations1 === null ? null : (evaluations1 - evaluations0) / total,
    consumerGc: { totalMs: results.reduce((a, r) => a + r.gc.totalMs, 0), maxMs: Math.max(...results.map((r) => r.gc.maxMs)) },
    window,
  };
}

/** A paced acks=1 producer on its own connection, one request outstanding: its request -> response latency. */
async function produceLatency(b: RunningBroker): Promise<{ p50: number; p99: number; max: number }> {
  const conn = await RawConnection.open(portOf(b));
  const samples = new LatencySamples();
  const total = RATE * SECONDS;
  for (let i = 0; i < total; i++) {
    const t = nowNs();
    conn.send(produceFrame(i + 1, i % PARTITIONS));
    if ((await conn.nextFrame(10_000)) === null) throw new Error('no produce answer');
    samples.add(nowNs() - t);
    await sleep(1000 / RATE);
  }
  conn.destroy();
  return { p50: samples.percentileUs(0.5) / 1e3, p99: samples.percentileUs(0.99) / 1e3, max: samples.maxUs() / 1e3 };
}

async function idleConnections(b: RunningBroker): Promise<{ held: number; rssPerConnection: number; alone: Awaited<ReturnType<typeof produceLatency>>; withIdle: Awaited<ReturnType<typeof produceLatency>> }> {
  const alone = await produceLatency(b);
  const rss0 = rssBytes(b.pid);
  const idle: RawConnection[] = [];
  for (let i = 0; i < IDLE; i += 500) {
    const batch = await Promise.all(Array.from({ length: Math.min(500, IDLE - i) }, () => RawConnection.open(portOf(b), 30_000)));
    await Promise.all(batch.map((c) => c.request(apis.ApiVersions, 3, { clientSoftwareName: 'idle', clientSoftwareVersion: '1' })));
    idle.push(...batch);
  }
  await sleep(2000);
  const rss1 = rssBytes(b.pid);
  const withIdle = await produceLatency(b);
  const held = idle.filter((c) => !c.peerClosed).length;
  for (const c of idle) c.destroy();
  return { held, rssPerConnection: (rss1 - rss0) / IDLE, alone, withIdle };
}

async function measureBuild(label: string, cli: string | undefined): Promise<{ label: string; polls: LongPollResult[]; idle: Awaited<ReturnType<typeof idleConnections>> }> {
  const ws = openWorkspace(`waiters-${label}`);
  const metricsPort = await freePort();
  const profileDir = PROFILE ? ws.path('cpuprofile') : undefined;
  try {
    const b = await startBroker({ dataDir: ws.path('data'), partitions: 1, cli, cpuProfileDir: profileDir, overrides: { 'sluice.console.listener': `127.0.0.1:${metricsPort}`, 'connections.max.idle.ms': '600000', ...SETTINGS } });
    const polls: LongPollResult[] = [];
    let idle: Awaited<ReturnType<typeof idleConnections>>;
    try {
      const admin = await RawConnection.open(portOf(b));
      if ((await createTopic(admin, TOPIC, {}, PARTITIONS)) !== 0) throw new Error('could not create the topic');
      admin.destroy();
      for (const [connections, sessions] of [[1000, false], [10, false], [10, true]] as const) {
        progress(`${label}: long polls, ${connections} connections${sessions ? ' in fetch sessions' : ''}`);
        polls.push(await longPolls(b, metricsPort, connections, sessions));
      }
      progress(`${label}: ${IDLE} idle connections`);
      idle = await idleConnections(b);
    } finally {
      // The profile is written as the broker exits.
      await b.stop();
    }
    const profile = profileDir && readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (profile) for (const p of polls) p.stretches = longStretches(join(profileDir, profile), p.window, STRETCH_MS);
    return { label, polls, idle };
  } finally {
    ws.cleanup();
  }
}

async function main(): Promise<void> {
  ensureBuilt(progress);
  const facts = machineFacts('');
  const load0 = loadavg();
  const builds = [...(BASELINE ? [await measureBuild('baseline', BASELINE)] : []), await measureBuild('this tree', join(process.cwd(), 'dist/src/cli/main.js'))];
  const load1 = loadavg();
  console.log(`machine: ${facts.cpus}, ${facts.memory}, node ${facts.node}, kernel ${facts.kernel}`);
  console.log(`load average (1, 5, 15 min): start ${load0.map((l) => l.toFixed(2)).join(' ')}, end ${load1.map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`\nLong polls: ${PARTITIONS} partitions, one 100 B record at a time to a random one, ${RATE}/s for ${SECONDS} s; produce sent -> consumer receipt`);
  console.log(
    table(
      ['build', 'layout', 'received', 'p50 ms', 'p99 ms', 'max ms', 'broker CPU s', 'CPU ms/record', 'parked looks/record', 'consumers GC ms (max)'],
      builds.flatMap((b) =>
        b.polls.map((p) => [b.label, p.layout, `${p.received}/${p.records}`, fmt(p.p50), fmt(p.p99), fmt(p.max), fmt(p.cpuSeconds), fmt((p.cpuSeconds * 1e3) / p.records), p.evaluationsPerRecord === null ? 'n/a' : fmt(p.evaluationsPerRecord), `${fmt(p.consumerGc.totalMs)} (${fmt(p.consumerGc.maxMs)})`]),
      ),
    ),
  );
  for (const b of builds) {
    for (const p of b.polls) if (p.stretches) console.log([`\nwhere the tail waits under --cpu-prof: ${b.label}, ${p.layout} (p99 ${fmt(p.p99)} ms, max ${fmt(p.max)} ms)`, ...formatStretches(p.stretches)].join('\n'));
  }
  console.log(`\nIdle connections: a paced acks=1 producer (${RATE}/s, ${SECONDS} s) alone, then with ${IDLE} idle connections held`);
  console.log(
    table(
      ['build', 'held', 'RSS/conn KiB', 'alone p50/p99/max ms', `with idle p50/p99/max ms`, 'p99 ratio'],
      builds.map((b) => [b.label, String(b.idle.held), fmt(b.idle.rssPerConnection / 1024), [b.idle.alone.p50, b.idle.alone.p99, b.idle.alone.max].map(fmt).join(' / '), [b.idle.withIdle.p50, b.idle.withIdle.p99, b.idle.withIdle.max].map(fmt).join(' / '), fmt(b.idle.withIdle.p99 / b.idle.alone.p99)]),
    ),
  );
}

await main();
