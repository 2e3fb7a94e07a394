import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startedListeners } from '../../src/cli/broker-process.js';
import { formatHostPort } from '../../src/config/listeners.js';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { spawnPrioritized } from './priority.js';

/**
 * The broker under test: the compiled build (`dist/`) in its own process, so neither tsx's
 * loader nor the benchmark's own work is in its CPU figures.
 */

/**
 * SLUICE_BENCH_BROKER_ROOT: bench the compiled build of another copy of the tree (built there
 * with `npm run build`), for before/after figures from the same run of the same benchmark.
 */
const BROKER_ROOT = process.env.SLUICE_BENCH_BROKER_ROOT || PACKAGE_ROOT;
const CLI = join(BROKER_ROOT, 'dist/src/cli/main.js');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Runs `npm run build` when dist/ is missing or older than any file under src/. */
export function ensureBuilt(progress: (line: string) => void): void {
  if (BROKER_ROOT !== PACKAGE_ROOT) {
    if (!existsSync(CLI)) throw new Error(`SLUICE_BENCH_BROKER_ROOT: ${CLI} does not exist (npm run build there first)`);
    progress(`broker under test: ${CLI}`);
    return;
  }
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtimeMs(join(PACKAGE_ROOT, 'src'))) return;
  progress('dist/ is older than src/: npm run build');
  try {
    // Its output goes to stderr, so that --json on stdout stays parseable.
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: PACKAGE_ROOT, stdio: ['ignore', 2, 2] });
  } catch (e) {
    // tsc still emits on type errors (someone's work in progress): bench what was emitted.
    if (!existsSync(CLI)) throw e;
    progress('npm run build reported errors; benchmarking the JavaScript it emitted');
  }
}

export interface BrokerOptions {
  dataDir: string;
  /** Partitions of auto-created topics (the benchmark's topics are created that way). */
  partitions: number;
  /** When set, the broker runs under `node --cpu-prof` and writes its profile here on exit. */
  cpuProfileDir?: string;
  /** Extra flags for node itself (before the script). */
  nodeArgs?: string[];
  /** More broker settings (--override key=value), after the benchmark's own: `listeners` may name another loopback address. */
  overrides?: Record<string, string>;
  /** Each line of its log (JSON), as it comes. */
  onLog?: (line: string) => void;
  /** Another build's `dist/src/cli/main.js` (a baseline compiled elsewhere); default this tree's. */
  cli?: string;
}

export interface RunningBroker {
  pid: number;
  bootstrap: string;
  /** From the start-up line: "sendfile" or the copying fallback. */
  fetchTransfer: string;
  nativeAddon: string;
  /** SIGTERM, then wait for the exit (the CPU profile is written during it). */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

export async function startBroker(opts: BrokerOptions): Promise<RunningBroker> {
  const settings: Record<string, string> = {
    'log.dirs': opts.dataDir,
    listeners: 'PLAINTEXT://127.0.0.1:0',
    'sluice.console.listener': '',
    'num.partitions': String(opts.partitions),
    ...opts.overrides,
  };
  const nodeArgs = [...(opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : []), ...(opts.nodeArgs ?? [])];
  const args = [...nodeArgs, opts.cli ?? CLI, 'serve', ...Object.entries(settings).flatMap(([k, v]) => ['--override', `${k}=${v}`])];
  // "info" is the level that prints the start-up line; nothing is logged per request.
  const child = spawnPrioritized(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_LOG_LEVEL: 'info' } });
  const exited = once(child, 'exit');
  // A broker left behind by a crashed benchmark would hold its port and data directory.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  // Every stdout line is read even after start-up: a full pipe would block the broker's logging.
  const lines = createInterface({ input: child.stdout! });
  if (opts.onLog) lines.on('line', opts.onLog);

  const started = await new Promise<{ line: Record<string, unknown>; bootstrap: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within ${START_TIMEOUT_MS} ms: ${stderr}`)), START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before starting: ${stderr}`));
    });
    lines.on('line', (line) => {
      const listeners = startedListeners(line);
      if (!listeners) return;
      clearTimeout(timer);
      resolve({ line: JSON.parse(line) as Record<string, unknown>, bootstrap: formatHostPort(listeners[0]) });
    });
  });

  return {
    pid: child.pid!,
    bootstrap: started.bootstrap,
    fetchTransfer: String(started.line.fetchTransfer),
    nativeAddon: String(started.line.nativeAddon),
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      process.off('exit', killOnExit);
      if (code !== 0) throw new Error(`broker exited with ${code}: ${stderr}`);
    },
  };
}
