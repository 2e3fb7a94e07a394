import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../package-root.js';
import type { ListenerAddress } from '../config/broker-config.js';
import { parseListener } from '../config/listeners.js';

/** The log message that says a broker serves its listeners; its fields name them. */
export const STARTED_MESSAGE = 'broker started';

/** Whether dist/ holds a build at least as new as every source file under src/. */
function builtFromTheseSources(): boolean {
  const sources = readdirSync(join(PACKAGE_ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  return sources.every((f) => {
    const built = join(PACKAGE_ROOT, 'dist/src', f.replace(/\.ts$/, '.js'));
    return existsSync(built) && statSync(built).mtimeMs >= statSync(join(PACKAGE_ROOT, 'src', f)).mtimeMs;
  });
}

let entry: string[] | null = null;

/**
 * The command line of this CLI for a child process: the built main.js, or, running from the
 * sources, main.ts through tsx, unless a build of those very sources is there (`npm test`
 * builds first), which starts without compiling them again. A child runs its parent's code.
 */
export function cliEntry(): string[] {
  if (entry) return entry;
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return (entry = [fileURLToPath(new URL('./main.js', import.meta.url))]);
  return (entry = builtFromTheseSources() ? [join(PACKAGE_ROOT, 'dist/src/cli/main.js')] : ['--import', 'tsx', fileURLToPath(new URL('./main.ts', import.meta.url))]);
}

export interface ServeOptions {
  /** Broker settings, each passed as `--override key=value`. */
  settings: Record<string, string>;
  /**
   * A command that execs the broker in its place (`prlimit --nofile=...`, `ip netns exec NS`),
   * so the child's pid stays the broker's and signals reach it.
   */
  wrapper?: string[];
  /** The Node binary to run it on; this process's by default. */
  node?: string;
  /** Each line it writes, as it comes: its log on stdout, anything else (a crash) on stderr. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** In a process group of its own, out of reach of a terminal's Ctrl-C (the parent stops it). */
  detached?: boolean;
  startTimeoutMs?: number;
}

export interface ServeProcess {
  child: ChildProcess;
  /** The listeners it bound, as its start line names them (port 0 resolved). */
  listeners: ListenerAddress[];
  /** Its exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit: a clean stop. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: an unclean stop. */
  kill(): Promise<void>;
}

/** The listeners a "broker started" JSON log line names, or null for any other line. */
export function startedListeners(line: string): ListenerAddress[] | null {
  if (!line.includes(`"${STARTED_MESSAGE}"`)) return null;
  let entry: { msg?: unknown; listeners?: unknown };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return null;
  }
  if (entry.msg !== STARTED_MESSAGE || !Array.isArray(entry.listeners)) return null;
  return entry.listeners.flatMap((text: string) => {
    const parsed = parseListener(text);
    return parsed.ok ? [parsed.value] : [];
  });
}

/**
 * The log level for a child whose start line must be seen: its parent's when that is more
 * verbose than info, else info (a test runner's default of warn would hide the line).
 */
function childLogLevel(): string {
  const level = process.env.SLUICE_LOG_LEVEL;
  return level === 'debug' || level === 'trace' ? level : 'info';
}

/**
 * `sluice serve` as a child process. Resolves once the broker logs that it started, with the
 * listeners it bound; rejects with its stderr when it exits or takes too long before that.
 */
export function startServe(options: ServeOptions): Promise<ServeProcess> {
  const serve = [...cliEntry(), 'serve', ...Object.entries(options.settings).flatMap(([k, v]) => ['--override', `${k}=${v}`])];
  const node = options.node ?? process.execPath;
  const [command, ...args] = [...(options.wrapper ?? []), node, ...serve];
  // JSON lines whatever the terminal: the start line is read as JSON.
  const env = { ...process.env, SLUICE_LOG_LEVEL: childLogLevel(), SLUICE_LOG_FORMAT: 'json' };
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: options.detached });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const onLine = options.onLine;
  if (onLine) createInterface({ input: child.stderr! }).on('line', (line) => onLine(line, 'stderr'));
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker did not start within ${timeoutMs / 1000} s: ${stderr}`));
    }, timeoutMs);
    // 'close' rather than 'exit': stderr is complete only then.
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before starting: ${stderr}`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${e.message}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      onLine?.(line, 'stdout');
      const listeners = startedListeners(line);
      if (!listeners) return;
      clearTimeout(timer);
      resolve({
        child,
        listeners,
        exited,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}
