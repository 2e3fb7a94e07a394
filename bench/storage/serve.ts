import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fmt, table } from '../support/measure.js';
import { cpuSeconds, GiB, median, MiB, sizeLabel, type ResourceDelta } from '../support/resources.js';
import { perfAvailable, profileProcess, type Profile } from '../support/perf-profile.js';
import { countSyscalls, straceAvailable, type SyscallSummary } from '../support/strace.js';
import type { Workspace } from '../support/workspace.js';
import { SERVE_MODE_LABELS, SERVE_MODES, type ClientMessage, type FetchCommand, type ServeMode, type ServerMessage } from './serve-protocol.js';

export interface ServeOptions {
  fileBytes: number;
  /** Measured transfers per mode, after one warm-up transfer each. */
  runs: number;
}

export interface ServeModeResult {
  mode: ServeMode;
  runs: number;
  /** Medians over the runs; throughput as the client saw it, from request to last byte. */
  mibPerSec: number;
  serverCpuSecondsPerGiB: number;
  serverCpuRange: [number, number];
  serverUserSecondsPerGiB: number;
  serverSystemSecondsPerGiB: number;
  clientCpuSecondsPerGiB: number;
  voluntaryContextSwitchesPerGiB: number;
  involuntaryContextSwitchesPerGiB: number;
  minorPageFaultsPerGiB: number;
  /** Event-loop delay in the server (perf_hooks, 10 ms sampling): median p99, and max over the runs. */
  loopLagP99Ms: number;
  maxLoopLagMs: number;
  /** One separate transfer under strace; null when strace is missing, a message when it failed. */
  syscalls: SyscallSummary | string | null;
  /** One separate transfer under perf record; null when perf is missing, a message when it failed. */
  profile: Profile | string | null;
}

export interface ServeReport {
  options: ServeOptions;
  pinned: string;
  strace: string;
  perf: string;
  modes: ServeModeResult[];
}

interface Transfer {
  server: ResourceDelta;
  client: ResourceDelta;
  bytes: number;
  loopLagP99Ms: number;
  maxLoopLagMs: number;
}

/** The next message of `type` from a child, failing if the child dies first. */
function nextMessage<M extends { type: string }, T extends M['type']>(child: ChildProcess, type: T): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M): void => {
      if (m.type !== type) return;
      cleanup();
      resolve(m as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`${child.spawnfile} exited (${code}) while waiting for "${type}"`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** A file of random bytes, written back to disk so no writeback runs during the transfers. */
function createServedFile(path: string, bytes: number): void {
  const chunk = Buffer.allocUnsafe(MiB);
  const fd = openSync(path, 'w');
  for (let at = 0; at < bytes; at += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, bytes - at), at);
  fdatasyncSync(fd);
  closeSync(fd);
}

/**
 * Pins every thread of the server to CPU 0 and of the client to CPU 1 (threads created later
 * inherit it), so the two never share a core and the server's CPU time is its own work.
 */
function pin(server: number, client: number): string {
  if (availableParallelism() < 2) return 'not pinned: fewer than 2 CPUs';
  try {
    execFileSync('taskset', ['-a', '-cp', '0', String(server)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-cp', '1', String(client)], { stdio: 'ignore' });
    return 'server pinned to CPU 0, client to CPU 1 (taskset -a)';
  } catch {
    return 'not pinned: taskset is missing or failed';
  }
}

class ServeHarness {
  private constructor(
    readonly server: ChildProcess,
    readonly client: ChildProcess,
    readonly port: number,
    readonly modes: readonly ServeMode[],
    readonly fileBytes: number,
  ) {}

  static async start(file: string): Promise<ServeHarness> {
    const script = (name: string): URL => new URL(name, import.meta.url);
    // fork() passes this process's execArgv on, so the children load TypeScript the same way.
    const server = fork(script('./serve-server.ts'), [file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const client = fork(script('./serve-client.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [ready] = await Promise.all([
      nextMessage<ServerMessage, 'ready'>(server, 'ready'),
      nextMessage<ClientMessage, 'ready'>(client, 'ready'),
    ]);
    return new ServeHarness(server, client, ready.port, ready.modes, ready.fileBytes);
  }

  async transfer(mode: ServeMode): Promise<Transfer> {
    const served = nextMessage<ServerMessage, 'served'>(this.server, 'served');
    const fetched = nextMessage<ClientMessage, 'fetched'>(this.client, 'fetched');
    const command: FetchCommand = { type: 'fetch', port: this.port, mode, bytes: this.fileBytes };
    this.client.send(command);
    const [s, f] = await Promise.all([served, fetched]);
    return { server: s.usage, client: f.usage, bytes: f.bytes, loopLagP99Ms: s.loopLagP99Ms, maxLoopLagMs: s.maxLoopLagMs };
  }

  stop(): void {
    this.server.disconnect();
    this.client.disconnect();
  }
}

/** The result of an optional measurement, or why it failed (a missing tool must not sink the run). */
async function attempt<T>(what: string, run: () => Promise<T>): Promise<T | string> {
  try {
    return await run();
  } catch (e) {
    return `${what} failed: ${(e as Error).message}`;
  }
}

type Instrumented = Pick<ServeModeResult, 'syscalls' | 'profile'>;

function summarize(mode: ServeMode, transfers: Transfer[], instrumented: Instrumented): ServeModeResult {
  const perGiB = (f: (t: Transfer) => number): number => median(transfers.map((t) => f(t) / (t.bytes / GiB)));
  const serverCpu = transfers.map((t) => cpuSeconds(t.server) / (t.bytes / GiB));
  return {
    mode,
    runs: transfers.length,
    // The client's clock: from sending the request to the last byte received.
    mibPerSec: median(transfers.map((t) => t.bytes / MiB / t.client.wallSeconds)),
    serverCpuSecondsPerGiB: median(serverCpu),
    serverCpuRange: [Math.min(...serverCpu), Math.max(...serverCpu)],
    serverUserSecondsPerGiB: perGiB((t) => t.server.cpuUserSeconds),
    serverSystemSecondsPerGiB: perGiB((t) => t.server.cpuSystemSeconds),
    clientCpuSecondsPerGiB: perGiB((t) => cpuSeconds(t.client)),
    voluntaryContextSwitchesPerGiB: perGiB((t) => t.server.voluntaryContextSwitches),
    involuntaryContextSwitchesPerGiB: perGiB((t) => t.server.involuntaryContextSwitches),
    minorPageFaultsPerGiB: perGiB((t) => t.server.minorPageFaults),
    loopLagP99Ms: median(transfers.map((t) => t.loopLagP99Ms)),
    maxLoopLagMs: Math.max(...transfers.map((t) => t.maxLoopLagMs)),
    ...instrumented,
  };
}

/**
 * Serves a file warm in the page cache over loopback by read+write, mmap+write and sendfile:
 * one warm-up transfer per mode, then `runs` rounds in rotating mode order (so no mode always
 * follows the same one), then one more transfer per mode under strace and one under perf.
 */
export async function runServeBench(ws: Workspace, opts: ServeOptions, progress: (line: string) => void): Promise<ServeReport> {
  const file = ws.path('served.bin');
  progress(`serve: writing a ${sizeLabel(opts.fileBytes)} file`);
  createServedFile(file, opts.fileBytes);
  const harness = await ServeHarness.start(file);
  try {
    const modes = harness.modes;
    const pinned = pin(harness.server.pid!, harness.client.pid!);
    for (const mode of modes) await harness.transfer(mode);
    const transfers = new Map<ServeMode, Transfer[]>(modes.map((m) => [m, []]));
    for (let round = 0; round < opts.runs; round++) {
      progress(`serve: round ${round + 1} of ${opts.runs}`);
      for (let i = 0; i < modes.length; i++) {
        const mode = modes[(round + i) % modes.length];
        transfers.get(mode)!.push(await harness.transfer(mode));
      }
    }
    // Tracing and sampling slow the server down, so they get transfers of their own.
    const strace = straceAvailable();
    const perf = perfAvailable();
    const pid = harness.server.pid!;
    const results: ServeModeResult[] = [];
    for (const mode of modes) {
      const transfer = (): Promise<void> => harness.transfer(mode).then(() => undefined);
      progress(`serve: ${mode} under strace and perf`);
      const instrumented: Instrumented = {
        syscalls: strace ? await attempt('strace', () => countSyscalls(pid, ws.path(`strace-${mode}.txt`), transfer)) : null,
        profile: perf ? await attempt('perf', () => profileProcess(pid, ws.path(`perf-${mode}.data`), transfer)) : null,
      };
      results.push(summarize(mode, transfers.get(mode)!, instrumented));
    }
    return {
      options: opts,
      pinned,
      strace: strace ? 'strace -c -f -p <server pid>, one separate transfer per mode' : 'strace is missing: no syscall counts',
      perf: perf ? 'perf record -F 4999 -p <server pid>, one separate transfer per mode' : 'perf is missing: no profiles',
      modes: results,
    };
  } finally {
    harness.stop();
    ws.remove('served.bin');
  }
}

/** The few syscalls that dominate, e.g. "pread64 1,024, writev 1,030". */
function topSyscalls(s: SyscallSummary, n = 4): string {
  return s.calls
    .slice(0, n)
    .map((c) => `${c.name} ${c.calls.toLocaleString('en-US')}`)
    .join(', ');
}

/** The hottest symbols, e.g. "rep_movs_alternative [k] 41%". */
function topSymbols(p: Profile, n = 4): string {
  return p.top
    .slice(0, n)
    .map((s) => `${s.symbol} [${s.space}] ${Math.round(s.percent)}%`)
    .join(', ');
}

export function formatServeReport(r: ServeReport): string {
  const count = (v: number): string => Math.round(v).toLocaleString('en-US');
  const rows = r.modes.map((m) => [
    SERVE_MODE_LABELS[m.mode],
    fmt(m.mibPerSec),
    fmt(m.serverCpuSecondsPerGiB),
    `${fmt(m.serverCpuRange[0])}-${fmt(m.serverCpuRange[1])}`,
    `${fmt(m.serverUserSecondsPerGiB)}/${fmt(m.serverSystemSecondsPerGiB)}`,
    fmt(m.clientCpuSecondsPerGiB),
    count(m.voluntaryContextSwitchesPerGiB),
    count(m.involuntaryContextSwitchesPerGiB),
    count(m.minorPageFaultsPerGiB),
    `${fmt(m.loopLagP99Ms)}/${fmt(m.maxLoopLagMs)}`,
    m.syscalls === null ? 'n/a' : typeof m.syscalls === 'string' ? 'failed' : count(m.syscalls.total / (r.options.fileBytes / GiB)),
  ]);
  const copy = r.modes.find((m) => m.mode === 'copy');
  const lines = [
    `2. Serving a ${sizeLabel(r.options.fileBytes)} file warm in the page cache to a loopback client that discards it`,
    `   (server and client in separate processes; ${r.pinned}; median of ${r.options.runs} runs after a warm-up; per GiB sent)`,
    '',
    table(
      ['mode', 'MiB/s', 'server CPU s', '(min-max)', 'user/sys s', 'client CPU s', 'vol. cs', 'invol. cs', 'minor faults', 'lag p99/max ms', 'syscalls'],
      rows,
    ),
  ];
  lines.push('');
  for (const m of r.modes) {
    if (typeof m.syscalls === 'string') lines.push(`${m.mode}: ${m.syscalls}`);
    else if (m.syscalls) lines.push(`syscalls, ${m.mode}: ${topSyscalls(m.syscalls)} (of ${count(m.syscalls.total)})`);
  }
  for (const m of r.modes) {
    if (typeof m.profile === 'string') lines.push(`${m.mode}: ${m.profile}`);
    else if (m.profile) {
      lines.push(`server profile, ${m.mode} (${count(m.profile.samples)} samples): ${fmt(m.profile.copyPercent)}% in copy routines; top: ${topSymbols(m.profile)}`);
    }
  }
  if (r.modes.length < SERVE_MODES.length) lines.push('the native addon is not loaded: mmap and sendfile cannot be measured');
  lines.push(`syscall counts: ${r.strace}; profiles: ${r.perf}`);
  const sendfile = r.modes.find((m) => m.mode === 'sendfile');
  if (copy && sendfile) {
    lines.push(`sendfile server CPU / read+write server CPU: ${fmt(sendfile.serverCpuSecondsPerGiB / copy.serverCpuSecondsPerGiB)}`);
  }
  return lines.join('\n');
}
