/**
 * End-to-end broker benchmark: a compiled broker in its own process, driven by a librdkafka
 * load generator written in C (bench/broker/loadgen.c), against the targets and the
 * machine's own disk and loopback speeds measured in the same run.
 *
 * Each topic is produced, then consumed twice from its start: by librdkafka consumers, which
 * parse every record (the client's view), then by the "(raw)" fetch phase, the load generator's
 * own Fetch client on one socket, which walks batch headers only (what the broker serves). The
 * 1 KiB consume target is checked on the raw fetch, against 1.5 GB/s or one loopback TCP stream
 * measured in the same run, whichever is lower.
 *
 *   npm run bench:broker [-- --json[=file]]
 *
 * Environment (message counts keep the run to a few minutes on 2 vCPUs):
 *   SLUICE_BENCH_MSGS_100       100 B messages produced, consumed and fetched raw (default 5,000,000)
 *   SLUICE_BENCH_MSGS_1K        1 KiB messages (default 2,000,000)
 *   SLUICE_BENCH_MSGS_ACKS_ALL  100 B messages with acks=all (default 2,000,000)
 *   SLUICE_BENCH_WARMUP         100 B messages produced, unmeasured, before the first phase (default 300,000; 0: none)
 *   SLUICE_BENCH_LATENCY_RATES  msgs/s of the paced latency runs, comma-separated (default 1000,10000,100000)
 *   SLUICE_BENCH_LATENCY_SECONDS  length of each paced run, and of the end-to-end run (default 10)
 *   SLUICE_BENCH_E2E_RATE       msgs/s of the end-to-end latency run (default 10,000)
 *   SLUICE_BENCH_ONLY           all, or latency (only the paced and end-to-end runs: before/after tail work)
 *   SLUICE_BENCH_PARTITIONS     partitions per topic (default 2)
 *   SLUICE_BENCH_CONSUMERS      librdkafka consumer threads per consume phase (default 2; at most
 *                               one per partition): one consumer parses ~1.5 M msgs/s on one core
 *   SLUICE_BENCH_BROKER_CONFIG  more broker settings, "key=value,key=value"
 *   SLUICE_BENCH_PROFILE        auto (profile when a target is missed), always or never
 *   SLUICE_BENCH_NICE           run broker and load generator under nice -n N (e.g. -10 on a busy box)
 *   SLUICE_BENCH_RT             run them under SCHED_FIFO at this priority (with SLUICE_BENCH_ONLY=latency only)
 *   SLUICE_BENCH_BROKER_ROOT    bench the dist/ of another copy of the tree (a "before" build)
 *   SLUICE_BENCH_DIR            parent of the scratch directory (default .bench/)
 */
import { envChoice, envCount, envCounts, envSettings } from './support/env.js';
import { emitJsonReport } from './support/json-report.js';
import { fmt } from './support/measure.js';
import { sizeLabel } from './support/resources.js';
import type { Workspace } from './support/workspace.js';
import { loopbackTcpBaseline, rawDiskWrite, type Baseline } from './broker/baselines.js';
import { startBroker } from './broker/broker-process.js';
import { buildLoadgen } from './broker/loadgen.js';
import { brokerTarget, runPhase, type PhaseResult, type PhaseSpec } from './broker/phases.js';
import { profilePhases } from './broker/profile.js';
import { realtimePriority } from './broker/priority.js';
import { beginBrokerRun } from './broker/run.js';
import { checkTargets, endToEndPhase, formatReport, PHASE, pacedPhase, type BenchReport } from './broker/report.js';

const MSGS_100 = envCount('SLUICE_BENCH_MSGS_100', 5_000_000);
const MSGS_1K = envCount('SLUICE_BENCH_MSGS_1K', 2_000_000);
const MSGS_ACKS_ALL = envCount('SLUICE_BENCH_MSGS_ACKS_ALL', 2_000_000);
const WARMUP_MSGS = envCount('SLUICE_BENCH_WARMUP', 300_000, 0);
const LATENCY_RATES = envCounts('SLUICE_BENCH_LATENCY_RATES', [1000, 10_000, 100_000]);
const LATENCY_SECONDS = envCount('SLUICE_BENCH_LATENCY_SECONDS', 10);
const E2E_RATE = envCount('SLUICE_BENCH_E2E_RATE', 10_000);
const ONLY = envChoice('SLUICE_BENCH_ONLY', ['all', 'latency']);
// Streaming flat out in a real-time class would take the machine from everyone else on it.
if (realtimePriority !== null && ONLY !== 'latency') throw new Error('SLUICE_BENCH_RT needs SLUICE_BENCH_ONLY=latency');
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
    { name: PHASE.fetch100Raw, kind: 'fetch', topic: 'bench-100', count: n(MSGS_100), size: 100 },
    { name: PHASE.produce1KiB, kind: 'produce', topic: 'bench-1k', count: n(MSGS_1K), size: 1024, acks: '1' },
    { name: PHASE.consume1KiB, kind: 'consume', topic: 'bench-1k', count: n(MSGS_1K), size: 1024, consumers: CONSUMERS },
    { name: PHASE.fetch1KiBRaw, kind: 'fetch', topic: 'bench-1k', count: n(MSGS_1K), size: 1024 },
  ];
}

/**
 * Latency at fixed rates below saturation, with no linger: the broker's own response time.
 * Each run gets a topic of its own, created by its first metadata request, as a new user's is.
 */
const pacedSpec = (rate: number, seconds = LATENCY_SECONDS): PhaseSpec => ({
  name: pacedPhase(rate),
  kind: 'produce',
  topic: `bench-latency-${rate}`,
  count: rate * seconds,
  size: 100,
  acks: '1',
  lingerMs: 0,
  rate,
});

const PACED: PhaseSpec[] = [
  ...LATENCY_RATES.map((rate) => pacedSpec(rate)),
  { ...pacedSpec(E2E_RATE), name: endToEndPhase(E2E_RATE), topic: `bench-e2e-${E2E_RATE}`, endToEnd: true },
];

/**
 * The phases, each streaming produce phase right after the raw write of its bytes. On a VM
 * whose freed memory goes back to the host (free page reporting), a page-cache page that is new
 * to the guest costs several times the copy into it (docs/broker-benchmark.md, "Page-cache
 * pages new to the guest"): the raw write's file is kept until the phase ends, so that both
 * write into pages of the same kind and neither reuses the other's.
 */
async function measurePhases(loadgen: string, ws: Workspace, progress: (line: string) => void): Promise<{ phases: PhaseResult[]; rawWrites: Baseline[]; broker: BenchReport['broker'] }> {
  const broker = await startBroker({ ...BROKER_SETUP, dataDir: ws.path('data') });
  const streaming: PhaseSpec[] = [...phaseSpecs(), { name: PHASE.produce100All, kind: 'produce', topic: 'bench-100-all', count: MSGS_ACKS_ALL, size: 100, acks: '-1' }];
  const specs = [...(ONLY === 'all' ? streaming : []), ...PACED];
  const phases: PhaseResult[] = [];
  const rawWrites: Baseline[] = [];
  try {
    // A broker in service has compiled its hot paths; a fresh one would charge the first phase
    // for the JIT's work, and the CPU targets are about the broker's steady state.
    if (WARMUP_MSGS > 0) {
      progress(`warm-up: ${WARMUP_MSGS.toLocaleString('en-US')} msgs, not measured`);
      await runPhase(loadgen, brokerTarget(broker), { name: 'warm-up', kind: 'produce', topic: 'bench-warmup', count: WARMUP_MSGS, size: 100, acks: '1' });
    }
    for (const spec of specs) {
      let rawWrite: ReturnType<typeof rawDiskWrite> | null = null;
      if (spec.kind === 'produce' && spec.rate === undefined) {
        ws.settle();
        progress(`baseline: raw sequential write of ${sizeLabel(spec.count * spec.size)}`);
        rawWrite = rawDiskWrite(ws.dir, spec.count * spec.size);
        rawWrites.push(rawWrite);
      }
      // Each produce phase starts with no dirty pages left by the one before.
      if (spec.kind === 'produce') ws.settle();
      progress(`${spec.name}: ${spec.count.toLocaleString('en-US')} msgs`);
      try {
        const phase = await runPhase(loadgen, brokerTarget(broker), spec);
        progress(`  ${fmt(phase.msgsPerSec)} msgs/s, ${fmt(phase.mbPerSec)} MB/s, broker ${fmt(phase.broker.cpuSecondsPerMillion)} s CPU/M msgs`);
        phases.push(phase);
      } finally {
        rawWrite?.remove();
      }
    }
  } finally {
    await broker.stop();
  }
  return { phases, rawWrites, broker: { fetchTransfer: broker.fetchTransfer, nativeAddon: broker.nativeAddon, partitions: PARTITIONS, consumers: CONSUMERS, settings: BROKER_SETUP.overrides } };
}

async function loopbackBaseline(loadgen: string, phases: readonly PhaseResult[], progress: (line: string) => void): Promise<Baseline> {
  const consumed = Math.max(...phases.filter((p) => p.kind === 'consume').map((p) => p.bytes), 1e9);
  progress(`baseline: loopback TCP, ${sizeLabel(consumed)}`);
  return loopbackTcpBaseline(loadgen, consumed);
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
    const { phases, rawWrites, broker } = await measurePhases(loadgen, ws, progress);
    const baselines = ONLY === 'all' ? [...rawWrites, await loopbackBaseline(loadgen, phases, progress)] : [];
    const targets = checkTargets(phases, baselines);
    const profile = PROFILE === 'always' || (PROFILE === 'auto' && targets.some((t) => !t.met));
    // One paced run, shorter, is enough to show what a small request costs.
    const profiled = ONLY === 'all' ? [...phaseSpecs(PROFILE_SCALE), pacedSpec(E2E_RATE, Math.min(LATENCY_SECONDS, 5))] : PACED;
    const profiles = profile ? await profilePhases(loadgen, ws, profiled, BROKER_SETUP, progress) : null;
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
