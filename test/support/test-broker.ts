import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Broker } from '../../src/broker/broker.js';
import { startBroker } from '../../src/embedded.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** Settings every broker process gets: a free port on loopback, its own directory, no console. */
function baseSettings(dir: string, overrides: Record<string, string>): Record<string, string> {
  return {
    listeners: 'PLAINTEXT://127.0.0.1:0',
    'log.dirs': dir,
    'sluice.console.listener': '',
    ...overrides,
  };
}

export interface InProcessBroker {
  broker: Broker;
  bootstrap: string;
  dir: string;
  stop(): Promise<void>;
}

/** A broker in this process (the embedding API), on a free port and a directory removed at stop. */
export async function startTestBroker(overrides: Record<string, string> = {}, dir?: string): Promise<InProcessBroker> {
  const embedded = await startBroker({ config: { ...overrides, ...(dir ? { 'log.dirs': dir } : {}) } });
  return { broker: embedded.broker, bootstrap: embedded.bootstrap, dir: embedded.dataDir, stop: () => embedded.stop() };
}

export interface BrokerProcess {
  child: ChildProcess;
  port: number;
  bootstrap: string;
  /** Its log so far, a line each. */
  output: string[];
  /** SIGTERM and wait for a clean exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: an unclean stop. */
  kill(): Promise<void>;
}

export interface BrokerProcessOptions {
  /** Runs it under `prlimit --nofile=SOFT:HARD`: the descriptor limit it starts with. */
  descriptorLimit?: { soft: number; hard: number };
}

/**
 * `sluice serve` as a child process on `dir`. Resolves once its start-up line names the port;
 * `port` may be fixed (to restart a broker where clients expect it) or 0 for a free one.
 */
export function startBrokerProcess(dir: string, overrides: Record<string, string> = {}, port = 0, options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const settings = baseSettings(dir, { listeners: `PLAINTEXT://127.0.0.1:${port}`, ...overrides });
  let command = process.execPath;
  let args = ['--import', 'tsx', CLI, 'serve', ...Object.entries(settings).flatMap(([k, v]) => ['--override', `${k}=${v}`])];
  const limit = options.descriptorLimit;
  if (limit) {
    // prlimit execs the command: the child's pid stays the broker's, for signals.
    args = [`--nofile=${limit.soft}:${limit.hard}`, command, ...args];
    command = 'prlimit';
  }
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_LOG_LEVEL: 'info' } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within 30 s: ${stderr}`)), 30_000);
    // 'close' rather than 'exit': stderr is complete only then.
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before starting: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (!line.includes('"broker started"')) return;
      clearTimeout(timer);
      const bound = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
      resolve({
        child,
        port: bound,
        bootstrap: `127.0.0.1:${bound}`,
        output,
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
