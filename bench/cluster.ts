/**
 * What replication costs: etcd and three compiled brokers in cluster mode on this machine, each
 * broker its own process on its own loopback address, driven by the librdkafka load generator
 * (bench/broker/loadgen.c). Produce throughput with RF=3 acks=all (min.insync.replicas=2) against
 * RF=1 acks=1, latency at half of each one's peak, consume from the replicated topics, and the
 * brokers' CPU and memory, against the cluster issue's targets. First, the brokers' CPU with no load at
 * all: what followers polling their leaders cost, which grows with the partitions (SLUICE_BENCH_PARTITIONS).
 *
 *   npm run bench:cluster [-- --json[=file]]
 *
 * Environment (the defaults keep the run within a few minutes on 2 vCPUs):
 *   SLUICE_BENCH_MSGS_100       100 B records per peak produce phase (default 8,000,000)
 *   SLUICE_BENCH_MSGS_1K        1 KiB records per peak produce phase (default 2,000,000)
 *   SLUICE_BENCH_PACED_SECONDS  length of each paced latency run (default 5)
 *   SLUICE_BENCH_PACED_LINGER_MS  the producer's linger.ms in the paced runs (default 5, as at the peak)
 *   SLUICE_BENCH_IDLE_SECONDS   how long the brokers' CPU is measured with every topic in sync and no load (default 10)
 *   SLUICE_BENCH_PARTITIONS     partitions per topic, their leaders spread over the brokers (default 6)
 *   SLUICE_BENCH_CONSUMERS      librdkafka consumer threads of a consume phase (default 2)
 *   SLUICE_BENCH_BROKER_CONFIG  more settings for every broker, "key=value,key=value"
 *   SLUICE_BENCH_PROFILE        auto (profile when a target is missed by a factor of more than 1.25), always or never
 *   SLUICE_BENCH_NICE           run brokers and load generator under nice -n N (see bench/broker.ts)
 *   SLUICE_BENCH_DIR            parent of the scratch directory (default .bench/)
 */
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { summarizeCpuProfiles } from './broker/cpuprofile.js';
import { buildLoadgen } from './broker/loadgen.js';
import { runPhase, type PhaseResult, type PhaseSpec } from './broker/phases.js';
import { runWithPerf, type PhaseProfile } from './broker/profile.js';
import { beginBrokerRun } from './broker/run.js';
import { meterBrokerMetrics } from './cluster/broker-metrics.js';
import { meterProcesses } from './broker/proc.js';
import { startCluster, type RunningCluster } from './cluster/cluster-process.js';
import { checkTargets, formatReport, type ClusterBenchReport, type ClusterPhase, type IdleCost, type Setup } from './cluster/report.js';
import { createSyncedTopics, topicState, type TopicState } from './cluster/topics.js';
import { envChoice, envCount, envSettings } from './support/env.js';
import { emitJsonReport, jsonTarget } from './support/json-report.js';
import { fmt } from './support/measure.js';
import type { Profile } from './support/perf-profile.js';
import type { Workspace } from './support/workspace.js';

const BROKERS = 3;
const PARTITIONS = envCount('SLUICE_BENCH_PARTITIONS', 6);
const CONSUMERS = Math.min(envCount('SLUICE_BENCH_CONSUMERS', 2), PARTITIONS);
const PACED_SECONDS = envCount('SLUICE_BENCH_PACED_SECONDS', 5);
const PACED_LINGER_MS = envCount('SLUICE_BENCH_PACED_LINGER_MS', 5, 0);
const IDLE_SECONDS = envCount('SLUICE_BENCH_IDLE_SECONDS', 10);
const SETTINGS = envSettings('SLUICE_BENCH_BROKER_CONFIG');
const PROFILE = envChoice('SLUICE_BENCH_PROFILE', ['auto', 'always', 'never']);
/** The profiling pass repeats the peak phases at this share of their counts. */
const PROFILE_SCALE = 0.5;

const SIZES = [
  { label: '100 B', size: 100, count: envCount('SLUICE_BENCH_MSGS_100', 8_000_000) },
  { label: '1 KiB', size: 1024, count: envCount('SLUICE_BENCH_MSGS_1K', 2_000_000) },
];
type Size = (typeof SIZES)[number];

/** The plain setup first, the replicated one second: the targets compare them in that order. */
const SETUPS: Setup[] = [
  { key: 'rf1', label: 'RF=1 acks=1', replicationFactor: 1, acks: '1', configs: {} },
  // With 3 replicas and 2 required, acks=all still waits for every follower in the ISR.
  { key: 'rf3', label: 'RF=3 acks=all', replicationFactor: 3, acks: '-1', configs: { 'min.insync.replicas': '2' } },
];
const REPLICATED = SETUPS[1];

const topicOf = (size: Size, setup: Setup): string => `bench-${size.size}-${setup.key}`;

type PhaseMeta = Pick<ClusterPhase, 'mode' | 'setup' | 'sizeLabel' | 'requestedRate'>;

/** One cluster and the phases run against it, under perf when `perfData` names its output. */
class Pass {
  readonly phases: ClusterPhase[] = [];
  readonly perf: (Profile | string | null)[] = [];

  constructor(
    readonly cluster: RunningCluster,
    private readonly loadgen: string,
    private readonly ws: Workspace,
    private readonly progress: (line: string) => void,
    private readonly perfData: string | null = null,
  ) {}

  async run(spec: PhaseSpec, meta: PhaseMeta): Promise<ClusterPhase> {
    // Each produce phase starts with no dirty pages left by the one before.
    if (spec.kind === 'produce') this.ws.settle();
    this.progress(`${spec.name}: ${spec.count.toLocaleString('en-US')} msgs${spec.rate ? ` at ${spec.rate.toLocaleString('en-US')} msgs/s` : ''}`);
    const shrinks = this.cluster.countLogLines(/"ISR shrunk"/);
    const metrics = await meterBrokerMetrics(this.cluster.metricsUrls);
    const measure = (): Promise<PhaseResult> => runPhase(this.loadgen, this.cluster.target, spec);
    let result: PhaseResult;
    if (this.perfData) {
      const profiled = await runWithPerf(this.cluster.target.brokerPids, this.perfData, measure);
      result = profiled.phase;
      this.perf.push(profiled.perf);
    } else {
      result = await measure();
    }
    const phase: ClusterPhase = { ...result, ...meta, isrShrinks: shrinks(), metrics: await metrics(), loadAverage: loadavg()[0] };
    const latency = phase.latencyUs ? `, p99 ${fmt(phase.latencyUs.p99 / 1e3)} ms` : '';
    this.progress(`  ${fmt(phase.msgsPerSec)} msgs/s, ${fmt(phase.mbPerSec)} MB/s${latency}, brokers ${fmt(phase.broker.cpuSecondsPerMillion)} s CPU/M msgs`);
    this.phases.push(phase);
    return phase;
  }

  /** Every record size at its peak in both setups, then consumed from the replicated topic. */
  async peaks(scale: number, consume: boolean): Promise<void> {
    for (const size of SIZES) {
      const count = Math.max(1, Math.round(size.count * scale));
      for (const setup of SETUPS) {
        const spec: PhaseSpec = { name: `produce ${size.label} ${setup.label}`, kind: 'produce', topic: topicOf(size, setup), count, size: size.size, acks: setup.acks };
        await this.run(spec, { mode: 'peak', setup: setup.key, sizeLabel: size.label, requestedRate: null });
      }
      if (!consume) continue;
      const spec: PhaseSpec = { name: `consume ${size.label} RF=${REPLICATED.replicationFactor}`, kind: 'consume', topic: topicOf(size, REPLICATED), count, size: size.size, consumers: CONSUMERS };
      await this.run(spec, { mode: 'consume', setup: REPLICATED.key, sizeLabel: size.label, requestedRate: null });
    }
  }

  /**
   * Every setup and size at half of the peak `peaks` measured for it, with the producer
   * otherwise as at the peak: a load the cluster has room for, so the latency is the brokers'
   * and the replication's rather than a queue's. (Without linger, librdkafka sends a request
   * per handful of records, and half of the peak is then more than the brokers can take.)
   */
  async paced(peaks: readonly ClusterPhase[]): Promise<void> {
    for (const size of SIZES) {
      for (const setup of SETUPS) {
        const peak = peaks.find((p) => p.mode === 'peak' && p.setup === setup.key && p.sizeLabel === size.label);
        if (!peak) continue;
        const rate = Math.max(1, Math.round(peak.msgsPerSec / 2));
        const spec: PhaseSpec = { name: `paced ${size.label} ${setup.label}`, kind: 'produce', topic: topicOf(size, setup), count: rate * PACED_SECONDS, size: size.size, acks: setup.acks, lingerMs: PACED_LINGER_MS, rate };
        await this.run(spec, { mode: 'paced', setup: setup.key, sizeLabel: size.label, requestedRate: rate });
      }
    }
  }
}

/** A cluster with every topic created and fully in sync. */
async function openCluster(dir: string, cpuProfileDir?: string): Promise<{ cluster: RunningCluster; topics: TopicState[] }> {
  const cluster = await startCluster({ dir, brokers: BROKERS, overrides: SETTINGS, cpuProfileDir });
  try {
    const bootstrap = cluster.brokers.map((b) => b.bootstrap);
    const topics: TopicState[] = [];
    for (const setup of SETUPS) {
      const layout = { replicationFactor: setup.replicationFactor, configs: setup.configs };
      topics.push(...(await createSyncedTopics(bootstrap, SIZES.map((size) => topicOf(size, setup)), PARTITIONS, layout)));
    }
    return { cluster, topics };
  } catch (e) {
    await cluster.stop().catch(() => {});
    throw e;
  }
}

/**
 * The brokers' CPU over IDLE_SECONDS with every topic in sync and nothing produced: followers
 * fetching from their leaders (each fetch parked up to replica.fetch.wait.max.ms), and whatever
 * else runs on a timer.
 */
async function idleCost(cluster: RunningCluster, progress: (line: string) => void): Promise<IdleCost> {
  progress(`idle: ${IDLE_SECONDS} s with no load`);
  // The followers' first fetches after the topics were made have opened their sessions by then.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const metrics = await meterBrokerMetrics(cluster.metricsUrls);
  const meter = meterProcesses(cluster.target.brokerPids);
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
  const usage = meter.stop();
  const fetches = (await metrics())?.requests.Fetch ?? null;
  const cpuSeconds = usage.processes.reduce((sum, p) => sum + p.cpu.userSeconds + p.cpu.systemSeconds, 0);
  progress(`  brokers ${fmt(cpuSeconds)} s CPU, ${fetches ?? '?'} Fetch requests`);
  return { seconds: IDLE_SECONDS, brokerCpuSeconds: cpuSeconds, fetchRequests: fetches };
}

/** Partitions of the replicated topics whose ISR is short of their replicas now. */
async function underReplicated(cluster: RunningCluster): Promise<number> {
  const bootstrap = cluster.brokers.map((b) => b.bootstrap);
  let count = 0;
  for (const size of SIZES) count += (await topicState(bootstrap, topicOf(size, REPLICATED))).underReplicated;
  return count;
}

/**
 * The produce phases again on a cluster whose brokers run under `node --cpu-prof` (and perf
 * record, when present): where the brokers' time goes. Profilers slow them down, so this pass's
 * figures are not the measurement.
 */
async function profileCluster(loadgen: string, ws: Workspace, measured: readonly ClusterPhase[], progress: (line: string) => void): Promise<PhaseProfile[]> {
  const profileDir = ws.path('cpuprofile');
  const { cluster } = await openCluster(ws.path('profile-cluster'), profileDir);
  const pass = new Pass(cluster, loadgen, ws, (line) => progress(`profiling: ${line}`), ws.path('perf.data'));
  try {
    await pass.peaks(PROFILE_SCALE, false);
    await pass.paced(measured);
  } finally {
    await cluster.stop();
  }
  const files = cluster.brokers.flatMap((_, i) => {
    const dir = join(profileDir, `broker-${i + 1}`);
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
  });
  return pass.phases.map((phase, i) => ({
    phase: phase.name,
    msgsPerSec: phase.msgsPerSec,
    brokerCpuSecondsPerMillion: phase.broker.cpuSecondsPerMillion,
    js: files.length > 0 ? summarizeCpuProfiles(files, phase.window) : 'the brokers wrote no .cpuprofile',
    perf: pass.perf[i],
  }));
}

async function main(): Promise<void> {
  const json = jsonTarget(process.argv.slice(2));
  const { started, progress, ws, machineAtEnd } = beginBrokerRun('cluster');
  try {
    const loadgen = buildLoadgen(ws.dir);
    progress(`starting etcd and ${BROKERS} brokers`);
    const { cluster, topics } = await openCluster(ws.path('cluster'));
    const pass = new Pass(cluster, loadgen, ws, progress);
    let underReplicatedAfter: number;
    let idle: IdleCost;
    try {
      idle = await idleCost(cluster, progress);
      await pass.peaks(1, true);
      await pass.paced(pass.phases);
      underReplicatedAfter = await underReplicated(cluster);
    } finally {
      await cluster.stop();
    }
    ws.remove('cluster');
    const targets = checkTargets(pass.phases, SETUPS);
    const profile = PROFILE === 'always' || (PROFILE === 'auto' && targets.some((t) => t.missedBadly));
    const profiles = profile ? await profileCluster(loadgen, ws, pass.phases, progress) : null;
    const report: ClusterBenchReport = {
      date: started.toISOString(),
      command: ['npm run bench:cluster', ...process.argv.slice(2)].join(' '),
      seconds: (Date.now() - started.getTime()) / 1e3,
      machine: machineAtEnd(),
      cluster: {
        brokers: cluster.brokers.map((b, i) => ({ id: i + 1, bootstrap: b.bootstrap })),
        etcd: cluster.etcd.endpoint,
        partitions: PARTITIONS,
        consumers: CONSUMERS,
        pacedLingerMs: PACED_LINGER_MS,
        setups: SETUPS,
        settings: SETTINGS,
        topics,
        underReplicatedAfter,
        idle,
      },
      phases: pass.phases,
      targets,
      profiles,
    };
    if (emitJsonReport(json, report)) return;
    console.log(formatReport(report));
  } finally {
    ws.cleanup();
  }
}

await main();
