/**
 * End-to-end broker benchmark: a compiled broker in its own process, driven by a librdkafka
 * load generator written in C (bench/broker/loadgen.c), against the targets and the
 * machine's own disk and loopback speeds measured in the same run.
 *
 *   npm run bench:broker [-- --json[=file]]
 *
 * Environment (message counts keep the run to a few minutes on 2 vCPUs):
 *   SLUICE_BENCH_MSGS_100       100 B messages produced and consumed (default 5,000,000)
 *   SLUICE_BENCH_MSGS_1K        1 KiB messages (default 2,000,000)
 *   SLUICE_BENCH_MSGS_ACKS_ALL  100 B messages with acks=all (default 2,000,000)
 *   SLUICE_BENCH_LATENCY_RATE   msgs/s of the paced latency run, 5 s long (default 20,000)
 *   SLUICE_BENCH_PARTITIONS     partitions per topic (default 2)
 *   SLUICE_BENCH_CONSUMERS      librdkafka consumer threads per consume phase (default 2; at most
 *                               one per partition): one consumer parses ~1.5 M msgs/s on one core
 *   SLUICE_BENCH_BROKER_CONFIG  more broker settings, "key=value,key=value"
 *   SLUICE_BENCH_PROFILE        auto (profile when a target is missed), always or never
 *   SLUICE_BENCH_NICE           run broker and load generator under nice -n N (e.g. -10 on a busy box)
 *   SLUICE_BENCH_DIR            parent of the scratch directory (default .bench/)
 */
import { envChoice, envCount, envSettings } from './support/env.js';
import { emitJsonReport } from './support/json-report.js';
import { fmt } from './support/measure.js';
import { sizeLabel } from './support/resources.js';
import type { Workspace } from './support/workspace.js';
import { loopbackTcpBaseline, rawDiskWrite, type Baseline } from './broker/baselines.js';
import { startBroker } from './broker/broker-process.js';
import { buildLoadgen } from './broker/loadgen.js';
import { brokerTarget, runPhase, type PhaseResult, type PhaseSpec } from './broker/phases.js';
import { profilePhases } from './broker/profile.js';
import { beginBrokerRun } from './broker/run.js';
import { checkTargets, formatReport, PHASE, type BenchReport } from './broker/report.js';

const MSGS_100 = envCount('SLUICE_BENCH_MSGS_100', 5_000_000);
const MSGS_1K = envCount('SLUICE_BENCH_MSGS_1K', 2_000_000);
const MSGS_ACKS_ALL = envCount('SLUICE_BENCH_MSGS_ACKS_ALL', 2_000_000);
const LATENCY_RATE = envCount('SLUICE_BENCH_LATENCY_RATE', 20_000);
const LATENCY_SECONDS = 5;
const PARTITIONS = envCount('SLUICE_BENCH_PARTITIONS', 2);
const CONSUMERS = Math.min(envCount('SLUICE_BENCH_CONSUMERS', 2), PARTITIONS);
const BROKER_SETUP = { partitions: PARTITIONS, overrides: envSettings('SLUICE_BENCH_BROKER_CONFIG') };
const PROFILE = envChoice('SLUICE_BENCH_PROFILE', ['auto', 'always', 'never']);
/** The profiling pass repeats the streaming phases at this share of their counts. */
const PROFILE_SCALE = 0.5;

function phaseSpecs(scale = 1): PhaseSpec[] {
  const n = (count: number): number => Math.max(1, Math.round(count * scale));
  return [
    { name: PHASE.produce100, kind: 'produce', topic: 'bench-100', count: n(MSGS_100), size: 100, acks: '1' },
    { name: PHASE.consume100, kind: 'consume', topic: 'bench-100', count: n(MSGS_100), size: 100, consumers: CONSUMERS },
    { name: PHASE.produce1KiB, kind: 'produce', topic: 'bench-1k', count: n(MSGS_1K), size: 1024, acks: '1' },
    { name: PHASE.consume1KiB, kind: 'consume', topic: 'bench-1k', count: n(MSGS_1K), size: 1024, consumers: CONSUMERS },
  ];
}

/** Latency at a rate far below saturation, with no linger: the broker's own response time. */
const PACED: PhaseSpec = {
  name: PHASE.paced,
  kind: 'produce',
  topic: 'bench-latency',
  count: LATENCY_RATE * LATENCY_SECONDS,
  size: 100,
  acks: '1',
  lingerMs: 0,
  rate: LATENCY_RATE,
};

async function measurePhases(loadgen: string, ws: Workspace, progress: (line: string) => void): Promise<{ phases: PhaseResult[]; broker: BenchReport['broker'] }> {
  const broker = await startBroker({ ...BROKER_SETUP, dataDir: ws.path('data') });
  const specs = [
    ...phaseSpecs(),
    { name: PHASE.produce100All, kind: 'produce', topic: 'bench-100-all', count: MSGS_ACKS_ALL, size: 100, acks: '-1' } satisfies PhaseSpec,
    PACED,
  ];
  const phases: PhaseResult[] = [];
  try {
    for (const spec of specs) {
      // Each produce phase starts with no dirty pages left by the one before.
      if (spec.kind === 'produce') ws.settle();
      progress(`${spec.name}: ${spec.count.toLocaleString('en-US')} msgs`);
      const phase = await runPhase(loadgen, brokerTarget(broker), spec);
      progress(`  ${fmt(phase.msgsPerSec)} msgs/s, ${fmt(phase.mbPerSec)} MB/s, broker ${fmt(phase.broker.cpuSecondsPerMillion)} s CPU/M msgs`);
      phases.push(phase);
    }
  } finally {
    await broker.stop();
  }
  return { phases, broker: { fetchTransfer: broker.fetchTransfer, nativeAddon: broker.nativeAddon, partitions: PARTITIONS, consumers: CONSUMERS, settings: BROKER_SETUP.overrides } };
}

async function measureBaselines(loadgen: string, ws: Workspace, phases: readonly PhaseResult[], progress: (line: string) => void): Promise<Baseline[]> {
  const baselines: Baseline[] = [];
  const producedBytes = [...new Set(phases.filter((p) => p.kind === 'produce' && p.name !== PHASE.paced).map((p) => p.bytes))];
  for (const bytes of producedBytes) {
    ws.settle();
    progress(`baseline: raw sequential write of ${sizeLabel(bytes)}`);
    baselines.push(rawDiskWrite(ws.dir, bytes));
  }
  const consumed = Math.max(...phases.filter((p) => p.kind === 'consume').map((p) => p.bytes), 1e9);
  progress(`baseline: loopback TCP, ${sizeLabel(consumed)}`);
  baselines.push(await loopbackTcpBaseline(loadgen, consumed));
  return baselines;
}

function parseArgs(argv: string[]): { json: string | null } {
  const jsonArg = argv.find((a) => a === '--json' || a.startsWith('--json='));
  const unknown = argv.filter((a) => a !== jsonArg);
  if (unknown.length > 0) throw new Error(`unknown arguments: ${unknown.join(' ')} (only --json[=file])`);
  return { json: jsonArg === undefined ? null : jsonArg.slice('--json='.length) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { started, progress, ws, machineAtEnd } = beginBrokerRun('broker');
  try {
    const loadgen = buildLoadgen(ws.dir);
    const { phases, broker } = await measurePhases(loadgen, ws, progress);
    const baselines = await measureBaselines(loadgen, ws, phases, progress);
    const targets = checkTargets(phases);
    const profile = PROFILE === 'always' || (PROFILE === 'auto' && targets.some((t) => !t.met));
    const profiles = profile ? await profilePhases(loadgen, ws, [...phaseSpecs(PROFILE_SCALE), PACED], BROKER_SETUP, progress) : null;
    const report: BenchReport = {
      date: started.toISOString(),
      command: ['npm run bench:broker', ...process.argv.slice(2)].join(' '),
      seconds: (Date.now() - started.getTime()) / 1e3,
      machine: machineAtEnd(),
      broker,
      phases,
      baselines,
      targets,
      profiles,
    };
    if (emitJsonReport(args.json, report)) return;
    console.log(formatReport(report));
  } finally {
    ws.cleanup();
  }
}

await main();
