/**
 * Storage benchmarks: appends in both append modes and both flush modes against the machine's
 * raw write speed, serving a page-cached file to a loopback socket by read+write, mmap+write
 * and sendfile, memory staying flat while gigabytes go through a partition log, one mmap
 * segment's costs taken apart by way of warming it, and what a partition written to now and
 * then costs in each append mode.
 *
 *   npm run bench:storage [-- --json[=file]] [-- --only=append,serve,flat,warm,sparse]
 *
 * SLUICE_BENCH_FLAT_BYTES sets the size of the memory run (default 5 GB); SLUICE_BENCH_DIR
 * the parent of the scratch directory (default .bench/ in the repository).
 */
import { emitJsonReport } from './support/json-report.js';
import { loadavg } from 'node:os';
import { machineFacts, progressLog } from './support/machine.js';
import { nativeAddonError } from '../src/native/addon.js';
import { countFdatasyncCalls } from './support/fsync-counter.js';
import { fmt } from './support/measure.js';
import { GiB, MiB } from './support/resources.js';
import { openWorkspace } from './support/workspace.js';
import { runAppendBench, type AppendBenchOptions, type AppendReport } from './storage/append.js';
import { formatAppendReport } from './storage/append-report.js';
import { formatFlatMemoryReport, runFlatMemoryBench, type FlatMemoryReport } from './storage/flat-memory.js';
import { formatServeReport, runServeBench, type ServeReport } from './storage/serve.js';
import { formatWarmReport, runWarmBench, type WarmOptions, type WarmReport } from './storage/mmap-warm.js';
import { formatSparseReport, runSparseBench, type SparseOptions, type SparseReport } from './storage/sparse-partitions.js';
import { evaluateTargets, formatTargets, type Targets } from './storage/targets.js';

/**
 * Sizes chosen so that a run (its appends plus as many raw bytes) stays under the kernel's
 * background writeback threshold (10% of memory, 2.3 GiB on a 24 GiB machine): larger runs
 * measure the flusher racing the writer, not the append path. Each segment is filled whole,
 * so every run pays per-segment costs in the same proportion.
 */
const APPEND_OPTIONS: AppendBenchOptions = {
  sizes: [
    { batchBytes: 1024, bytes: 128 * MiB },
    { batchBytes: 16 * 1024, bytes: 512 * MiB },
    { batchBytes: MiB, bytes: 512 * MiB },
  ],
  repeats: 5,
  syncSeconds: 3,
  syncInFlight: 64,
  segmentBytes: 128 * MiB,
};
const SERVE_OPTIONS = { fileBytes: GiB, runs: 5 };
const WARM_OPTIONS: WarmOptions = { segmentBytes: APPEND_OPTIONS.segmentBytes, runs: 5 };
const SPARSE_OPTIONS: SparseOptions = { partitions: 200, segmentBytes: 16 * MiB, rounds: 20, batchBytes: 1024 };
const FLAT_BYTES = Number(process.env.SLUICE_BENCH_FLAT_BYTES ?? 5e9);
if (!(FLAT_BYTES > 0)) throw new Error(`SLUICE_BENCH_FLAT_BYTES must be a positive number of bytes, not "${process.env.SLUICE_BENCH_FLAT_BYTES}"`);
const SECTIONS = ['append', 'serve', 'flat', 'warm', 'sparse'] as const;
type Section = (typeof SECTIONS)[number];

interface StorageBenchReport {
  date: string;
  seconds: number;
  machine: Record<string, string | number>;
  append: AppendReport | null;
  serve: ServeReport | null;
  flat: FlatMemoryReport | null;
  warm: WarmReport | null;
  sparse: SparseReport | null;
  targets: Targets;
}

function parseArgs(argv: string[]): { json: string | null; sections: Set<Section> } {
  const jsonArg = argv.find((a) => a === '--json' || a.startsWith('--json='));
  const only = argv.find((a) => a.startsWith('--only='));
  const sections = new Set<Section>(only ? (only.slice('--only='.length).split(',') as Section[]) : SECTIONS);
  for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`unknown section "${s}"; use ${SECTIONS.join(',')}`);
  return { json: jsonArg === undefined ? null : jsonArg.slice('--json='.length), sections };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  countFdatasyncCalls();
  const ws = openWorkspace('storage');
  const started = new Date();
  const progress = progressLog(started);
  const machine = {
    ...machineFacts(ws.fsType),
    dir: ws.dir,
    nativeAddon: nativeAddonError ?? 'loaded',
    loadAverageAtStart: loadavg()[0],
  };
  try {
    const append = args.sections.has('append') ? await runAppendBench(ws, APPEND_OPTIONS, progress) : null;
    const serve = args.sections.has('serve') ? await runServeBench(ws, SERVE_OPTIONS, progress) : null;
    const flat = args.sections.has('flat') ? await runFlatMemoryBench(ws, FLAT_BYTES, progress) : null;
    const warm = args.sections.has('warm') ? await runWarmBench(ws, WARM_OPTIONS, progress) : null;
    const sparse = args.sections.has('sparse') ? await runSparseBench(ws, SPARSE_OPTIONS, progress) : null;
    const report: StorageBenchReport = {
      date: started.toISOString(),
      seconds: (Date.now() - started.getTime()) / 1e3,
      machine: { ...machine, loadAverageAtEnd: loadavg()[0] },
      append,
      serve,
      flat,
      warm,
      sparse,
      targets: evaluateTargets(append, serve),
    };

    if (emitJsonReport(args.json, report)) return;
    print(report);
  } finally {
    ws.cleanup();
  }
}

function print(report: StorageBenchReport): void {
  const m = report.machine;
  console.log(
    `sluice storage bench, ${report.date}: node ${m.node}, Linux ${m.kernel}, ${m.cpus}, ${m.memory} RAM; ` +
      `${m.dir} on ${m.fsType}; native addon ${m.nativeAddon}; load average ${fmt(Number(m.loadAverageAtStart))} at start, ` +
      `${fmt(Number(m.loadAverageAtEnd))} at end; ${fmt(report.seconds)} s\n`,
  );
  if (m.fsType === 'tmpfs') console.log('WARNING: the scratch directory is on tmpfs: "disk" figures below are memory figures\n');
  const { append, serve, flat, warm, sparse } = report;
  const sections = [
    append && formatAppendReport(append),
    serve && formatServeReport(serve),
    flat && formatFlatMemoryReport(flat),
    warm && formatWarmReport(warm),
    sparse && formatSparseReport(sparse),
    formatTargets(report.targets),
  ];
  console.log(sections.filter((s) => s).join('\n\n'));
}

await main();
