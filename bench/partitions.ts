/**
 * Many partitions on one broker: 30,000 partitions (90,000 log files) under the machine's own
 * descriptor limit, created, written, stopped, killed and started again, against the targets of
 * the "running out of resources" issue.
 *
 *   npm run bench:partitions [-- --json[=file]]
 *
 * Environment:
 *   SLUICE_BENCH_TOPICS            topics (default 6)
 *   SLUICE_BENCH_TOPIC_PARTITIONS  partitions per topic (default 5,000)
 *   SLUICE_BENCH_MSGS              100 B records per produce phase (default 5,000,000)
 *   SLUICE_BENCH_PROFILE           1: every broker runs under node --cpu-prof, and the report says
 *                                  where each step's time went (the figures are then slower)
 *   SLUICE_BENCH_NICE              run broker and producers under nice -n N (see bench/broker.ts)
 *   SLUICE_BENCH_BROKER_CONFIG     more broker settings, "key=value,key=value" (e.g. sluice.log.append.mode=mmap)
 *   SLUICE_BENCH_DIR               parent of the scratch directory (default .bench/)
 */
import { existsSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaClient } from '../src/client/kafka-client.js';
import { descriptorBudget } from '../src/storage/descriptor-cache.js';
import { startBroker, type RunningBroker } from './broker/broker-process.js';
import { summarizeCpuProfile } from './broker/cpuprofile.js';
import { buildLoadgen, produce } from './broker/loadgen.js';
import { meterProcess } from './broker/proc.js';
import { beginBrokerRun } from './broker/run.js';
import { coverage, createTopics, timeMetadata } from './partitions/admin.js';
import { timeScrapes } from './partitions/scrape.js';
import { descriptorLimit, rssMB, sampleDescriptors } from './partitions/broker-proc.js';
import { checkTargets, formatReport, PHASE, type PartitionsBenchReport, type PhaseProfile, type ProducePhase, type StartTiming, type StopTiming } from './partitions/report.js';
import { envCount, envSettings } from './support/env.js';
import { freePort } from './support/free-port.js';
import { emitJsonReport, jsonTarget } from './support/json-report.js';
import { median, nowNs } from './support/resources.js';
import type { Workspace } from './support/workspace.js';

const TOPIC_COUNT = envCount('SLUICE_BENCH_TOPICS', 6);
const PER_TOPIC = envCount('SLUICE_BENCH_TOPIC_PARTITIONS', 5000);
const MSGS = envCount('SLUICE_BENCH_MSGS', 5_000_000);
const PROFILE = process.env.SLUICE_BENCH_PROFILE === '1';
const SETTINGS = envSettings('SLUICE_BENCH_BROKER_CONFIG');
const TOPICS = Array.from({ length: TOPIC_COUNT }, (_, i) => `many-${i}`);
const ONE = 'one-partition';
const METADATA_SAMPLES = 30;
const SCRAPE_SAMPLES = 5;
const SIZE = 100;

const load = (): number => loadavg()[0];
const monotonicUs = (): number => nowNs() / 1e3;

/** A broker process and the steps it ran, each with its CLOCK_MONOTONIC window for the profile. */
interface Life {
  broker: RunningBroker;
  /** Its console listener's port, for /metrics. */
  metricsPort: number;
  client: KafkaClient;
  profileDir: string | null;
  steps: { step: string; startUs: number; endUs: number }[];
}

class Run {
  private lives = 0;
  readonly all: Life[] = [];

  constructor(
    private readonly ws: Workspace,
    readonly dataDir: string,
    readonly progress: (line: string) => void,
  ) {}

  async start(what: string): Promise<{ life: Life; timing: StartTiming }> {
    const profileDir = PROFILE ? this.ws.path(`cpuprofile-${this.lives++}`) : null;
    const startUs = monotonicUs();
    const metricsPort = await freePort();
    const broker = await startBroker({ dataDir: this.dataDir, partitions: 1, cpuProfileDir: profileDir ?? undefined, overrides: { 'sluice.console.listener': `127.0.0.1:${metricsPort}`, ...SETTINGS } });
    const endUs = monotonicUs();
    const timing = { what, seconds: (endUs - startUs) / 1e6, rssMB: rssMB(broker.pid), loadAverage: load() };
    this.progress(`start, ${what}: ${timing.seconds.toFixed(2)} s, RSS ${timing.rssMB.toFixed(0)} MB`);
    const life: Life = { broker, metricsPort, client: new KafkaClient({ brokers: [broker.bootstrap], clientId: 'sluice-bench', retries: 0 }), profileDir, steps: [{ step: `start, ${what}`, startUs, endUs }] };
    this.all.push(life);
    return { life, timing };
  }

  /** Runs `work` as a named step of `life`, for its profile. */
  async step<T>(life: Life, step: string, work: () => Promise<T>): Promise<T> {
    const startUs = monotonicUs();
    try {
      return await work();
    } finally {
      life.steps.push({ step, startUs, endUs: monotonicUs() });
    }
  }

  async stop(life: Life, what: string): Promise<StopTiming> {
    await life.client.close();
    const t0 = nowNs();
    // broker-process.ts kills a broker that has not stopped within its timeout, and says so.
    const error = await this.step(life, `stop, ${what}`, () => life.broker.stop().then(() => null, (e: unknown) => e as Error));
    const timing = { what, seconds: (nowNs() - t0) / 1e9, completed: error === null, loadAverage: load() };
    this.progress(`stop, ${what}: ${timing.seconds.toFixed(2)} s${error ? ` (${error.message.trim()})` : ''}`);
    return timing;
  }

  async kill(life: Life): Promise<void> {
    await life.client.close();
    process.kill(life.broker.pid, 'SIGKILL');
    // Gone once reaped: a kill that did not land would leave it holding the data directory.
    for (let i = 0; i < 200 && existsSync(`/proc/${life.broker.pid}`); i++) await sleep(50);
    this.progress('SIGKILL');
  }

  profiles(): PhaseProfile[] {
    return this.all.flatMap((life) => {
      const file = life.profileDir && existsSync(life.profileDir) ? readdirSync(life.profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
      return life.steps.map((s) => ({
        step: s.step,
        summary: file ? summarizeCpuProfile(join(life.profileDir!, file), s) : 'no profile (the broker was killed, so V8 never wrote it)',
      }));
    });
  }
}

/** One load generator per entry of `topics`, all at once, MSGS records between them. */
async function producePhase(run: Run, life: Life, loadgen: string, name: string, topics: readonly string[], partitions: number): Promise<ProducePhase> {
  return run.step(life, `produce: ${name}`, async () => {
    const pid = life.broker.pid;
    const meter = meterProcess(pid);
    const fds = sampleDescriptors(pid, run.dataDir);
    const each = Math.ceil(MSGS / topics.length);
    const settled = await Promise.allSettled(
      topics.map(async (topic) => {
        const result = await produce(loadgen, life.broker.bootstrap, { topic, count: each, size: SIZE, acks: '1', lingerMs: 0 });
        return { result, doneNs: nowNs() };
      }),
    );
    const descriptors = fds.stop();
    const usage = meter.stop();
    const runs = settled.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
    const results = runs.map((r) => r.result);
    // Producers start a little apart (process start, metadata): the phase spans from the first
    // one's first record to the last one's last delivery, not the longest single run.
    const seconds = (Math.max(...runs.map((r) => r.doneNs)) - Math.min(...runs.map((r) => r.doneNs - r.result.seconds * 1e9))) / 1e9;
    const failed = results.reduce((n, r) => n + r.failed, 0);
    if (failed > 0) throw new Error(`${name}: ${failed} records failed, e.g. with ${results.find((r) => r.firstError)?.firstError}`);
    const msgs = results.reduce((n, r) => n + r.msgs, 0);
    const loadgenCpu = results.reduce((s, r) => s + r.cpuUserSeconds + r.cpuSystemSeconds, 0);
    const phase: ProducePhase = {
      name,
      producers: topics.length,
      partitions,
      msgs,
      bytes: msgs * SIZE,
      seconds,
      msgsPerSec: msgs / seconds,
      mbPerSec: (msgs * SIZE) / seconds / 1e6,
      p50Ms: median(results.map((r) => r.latencyUs.p50)) / 1e3,
      p99Ms: Math.max(...results.map((r) => r.latencyUs.p99)) / 1e3,
      brokerCpuSecondsPerMillion: ((usage.cpu.userSeconds + usage.cpu.systemSeconds) / msgs) * 1e6,
      brokerPeakRssMB: usage.peakRssMB,
      loadgenCpuOfWall: loadgenCpu / seconds,
      descriptors,
      loadAverage: load(),
    };
    run.progress(`produce, ${name}: ${Math.round(phase.msgsPerSec).toLocaleString('en-US')} msgs/s, broker fds peak ${descriptors.peak.total} (${descriptors.peak.logFiles} log files)`);
    return phase;
  });
}

async function main(): Promise<void> {
  const json = jsonTarget(process.argv.slice(2));
  const { started, progress, ws, machineAtEnd } = beginBrokerRun('partitions');
  const ownLimit = descriptorLimit('self');
  const moreFacts = { descriptorLimit: `${ownLimit.soft} (hard ${ownLimit.hard})`, profiled: PROFILE ? 'yes' : '' };
  const partitions = TOPIC_COUNT * PER_TOPIC;
  const run = new Run(ws, ws.path('data'), progress);
  try {
    const loadgen = buildLoadgen(ws.dir);
    const starts: StartTiming[] = [];
    const stops: StopTiming[] = [];

    const first = await run.start('empty data directory');
    starts.push(first.timing);
    const brokerLimit = descriptorLimit(first.life.broker.pid);
    progress(`creating ${TOPIC_COUNT} topics x ${PER_TOPIC.toLocaleString('en-US')} partitions`);
    const perTopic = await run.step(first.life, 'CreateTopics', () => createTopics(first.life.client, TOPICS, PER_TOPIC, progress));
    const creation = { perTopic, seconds: perTopic.reduce((s, c) => s + c.seconds, 0), rssMBAfter: rssMB(first.life.broker.pid), loadAverage: load() };
    await createTopics(first.life.client, [ONE], 1, () => {});
    const metadata = { ...(await run.step(first.life, 'Metadata', () => timeMetadata(first.life.client, TOPICS, METADATA_SAMPLES))), loadAverage: load() };
    progress(`Metadata for ${metadata.partitions.toLocaleString('en-US')} partitions: p50 ${metadata.p50Ms.toFixed(1)} ms`);
    const scrape = { ...(await run.step(first.life, '/metrics scrape', () => timeScrapes(first.life.client, first.life.metricsPort, SCRAPE_SAMPLES))), loadAverage: load() };
    progress(`/metrics: p50 ${scrape.p50Ms.toFixed(1)} ms; a request waited at most ${scrape.requestMaxMsDuring.toFixed(1)} ms during scrapes, ${scrape.requestMaxMsQuiet.toFixed(1)} ms without`);

    const produced: ProducePhase[] = [];
    const phase = async (life: Life, name: string, topics: readonly string[], spreadOver: number): Promise<void> => {
      // Each phase starts with no dirty pages left by the one before.
      ws.settle();
      produced.push(await producePhase(run, life, loadgen, name, topics, spreadOver));
    };
    await phase(first.life, PHASE.onePartitionOne, [ONE], 1);
    await phase(first.life, PHASE.oneTopicOne, [TOPICS[0]], PER_TOPIC);
    await phase(first.life, PHASE.onePartitionAll, TOPICS.map(() => ONE), 1);
    await phase(first.life, PHASE.spreadAll, TOPICS, partitions);
    const spreadCoverage = await coverage(first.life.client, TOPICS);
    const firstStop = await run.stop(first.life, 'after the produce phases');
    stops.push(firstStop);

    const second = await run.start(firstStop.completed ? 'after a clean stop' : 'after a stop cut short by SIGKILL');
    starts.push(second.timing);
    // Every partition gets records past its recovery point, for the recovery after the kill.
    await phase(second.life, PHASE.spreadAgain, TOPICS, partitions);
    const before = (await coverage(second.life.client, TOPICS)).records;
    await run.kill(second.life);

    const third = await run.start('after SIGKILL');
    starts.push(third.timing);
    const after = (await run.step(third.life, 'ListOffsets', () => coverage(third.life.client, TOPICS))).records;
    stops.push(await run.stop(third.life, 'after the restart that followed SIGKILL'));

    const partial = {
      date: started.toISOString(),
      command: ['npm run bench:partitions', ...process.argv.slice(2)].join(' '),
      seconds: (Date.now() - started.getTime()) / 1e3,
      machine: { ...machineAtEnd(), ...moreFacts },
      layout: { topics: TOPICS, partitionsPerTopic: PER_TOPIC, partitions, logFiles: 3 * partitions, settings: SETTINGS, brokerLimit, budget: descriptorBudget(brokerLimit.soft === 'unlimited' ? -1 : Number(brokerLimit.soft), -1) },
      starts,
      creation,
      metadata,
      scrape,
      produce: produced,
      spreadCoverage: { written: spreadCoverage.written, partitions: spreadCoverage.partitions },
      stops,
      killRecovery: { before, after },
    };
    const report: PartitionsBenchReport = { ...partial, targets: checkTargets(partial), profiles: PROFILE ? run.profiles() : null };
    if (emitJsonReport(json, report)) return;
    console.log(formatReport(report));
  } finally {
    for (const life of run.all) await life.broker.stop().catch(() => {});
    ws.cleanup();
  }
}

await main();
