import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { KafkaClient } from '../client/kafka-client.js';
import { buildBrokerConfig, ConfigError } from '../config/load-config.js';
import { formatHostPort } from '../config/listeners.js';
import { startServe, type ServeProcess } from './broker-process.js';
import { intParser, keyValueCollector } from './common.js';
import { CliError, UsageError } from './errors.js';
import { EtcdProcess } from './etcd-process.js';
import { formatTable } from './output.js';

/** The etcd key prefix of the dev cluster's metadata. */
const PREFIX = 'dev-cluster';
/** How long the brokers get to find each other before `ready` is printed anyway. */
const FORM_TIMEOUT_MS = 30_000;
/** How long a broker gets to hand its leaderships over and exit before it is killed. */
const STOP_TIMEOUT_MS = 30_000;
/** How long a broker's console gets to say where it listens, once the broker has started. */
const CONSOLE_TIMEOUT_MS = 10_000;

interface DevClusterOptions {
  brokers: number;
  dir: string;
  port: number;
  consolePort: number;
  override?: [string, string][];
  quiet?: boolean;
}

/**
 * Waits until a Metadata answer lists every one of `nodeIds` and names a controller; returns
 * the node ids it last saw, which fall short of `nodeIds` when the time ran out.
 */
export async function waitForMembers(bootstrap: string[], nodeIds: number[], timeoutMs: number): Promise<number[]> {
  const client = new KafkaClient({ brokers: bootstrap, retries: 0 });
  const deadline = Date.now() + timeoutMs;
  let seen: number[] = [];
  try {
    for (;;) {
      try {
        const md = await client.metadata([]);
        seen = md.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
        if (md.controllerId >= 0 && nodeIds.every((id) => seen.includes(id))) return seen;
      } catch {
        // A broker still joining may refuse or drop the connection: ask again.
      }
      if (Date.now() > deadline) return seen;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await client.close();
  }
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's fields that every line has, left out of the terminal's short form. */
const COMMON_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/** A broker's JSON log line in a few words for the terminal: time, level, message, other fields as key=value. */
function shortLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || typeof entry.msg !== 'string') return line;
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) : '';
  const level = LEVELS[entry.level as number] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([k]) => !COMMON_FIELDS.has(k))
    .map(([k, v]) => {
      // An error's message says enough; its stack is in the file.
      const value = k === 'err' && typeof v === 'object' && v !== null && 'message' in v ? (v as { message: unknown }).message : v;
      return `${k}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
    });
  return [time, level.padEnd(5), entry.msg, ...fields].filter((s) => s !== '').join(' ');
}

/** A path as the user would type it: relative below the working directory, else absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

interface DevBroker {
  id: number;
  settings: Record<string, string>;
  logFile: string;
  log: WriteStream;
  process: ServeProcess | null;
  /** Its console's URL, or 'off' when it could not listen, as its log says. */
  console: string | null;
}

/** What a broker's log line says of its console: its URL, 'off', or nothing. */
function consoleOf(line: string): string | null {
  if (line.includes('"the web console and /metrics are off')) return 'off';
  if (!line.includes('"console listening"')) return null;
  try {
    return (JSON.parse(line) as { url?: string }).url ?? null;
  } catch {
    return null;
  }
}

/** The settings of broker `id`, before the user's overrides (which win). */
function brokerSettings(id: number, dir: string, etcd: string, opts: DevClusterOptions): Record<string, string> {
  return {
    'node.id': String(id),
    listeners: `PLAINTEXT://127.0.0.1:${opts.port + id - 1}`,
    'log.dirs': join(dir, `broker-${id}`),
    'sluice.console.listener': opts.consolePort === 0 ? '' : `127.0.0.1:${opts.consolePort + id - 1}`,
    'sluice.metadata.store': `etcd://${etcd}/${PREFIX}`,
    // Replicated topics unless asked otherwise: replication is what a cluster is for.
    'default.replication.factor': String(Math.min(opts.brokers, 3)),
    ...Object.fromEntries(opts.override ?? []),
  };
}

/** Bad flags or settings, found before anything starts. */
function checkOptions(opts: DevClusterOptions): void {
  const last = (base: number): number => base + opts.brokers - 1;
  if (last(opts.port) > 65535) throw new UsageError(`--port ${opts.port} leaves no port for broker ${opts.brokers}: ports go up to 65535`);
  if (opts.consolePort > 0 && last(opts.consolePort) > 65535) throw new UsageError(`--console-port ${opts.consolePort} leaves no port for broker ${opts.brokers}`);
  try {
    buildBrokerConfig(new Map(), new Map(Object.entries(brokerSettings(1, resolve(opts.dir), '127.0.0.1:2379', opts))));
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

class DevCluster {
  private readonly brokers: DevBroker[] = [];
  private etcd: EtcdProcess | null = null;
  /** The broker that last said it became the controller: it is stopped last, so control moves once at most. */
  private controller = -1;
  private stopping = false;

  constructor(
    private readonly dir: string,
    private readonly opts: DevClusterOptions,
  ) {}

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.etcd = await EtcdProcess.start({ dataDir: join(this.dir, 'etcd'), detached: true });
    for (let id = 1; id <= this.opts.brokers; id++) {
      const logFile = join(this.dir, `broker-${id}.log`);
      const log = createWriteStream(logFile, { flags: 'a' });
      const settings = brokerSettings(id, this.dir, this.etcd.endpoint, this.opts);
      this.brokers.push({ id, settings, logFile, log, process: null, console: settings['sluice.console.listener'] ? null : 'off' });
    }
    const started = await Promise.allSettled(this.brokers.map((b) => this.startBroker(b)));
    const failed = started.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      const { id, logFile } = this.brokers[failed];
      const why = ((started[failed] as PromiseRejectedResult).reason as Error).message.trim().split('\n')[0];
      throw new CliError(`broker ${id}: ${why} — see ${shown(logFile)}`);
    }
  }

  private async startBroker(b: DevBroker): Promise<void> {
    const onLine = (line: string, stream: 'stdout' | 'stderr'): void => {
      b.log.write(line + '\n');
      if (line.includes('"this broker is the controller"')) this.controller = b.id;
      b.console ??= consoleOf(line);
      if (!this.opts.quiet) process.stderr.write(`[broker ${b.id}] ${stream === 'stdout' ? shortLogLine(line) : line}\n`);
    };
    b.process = await startServe({ settings: b.settings, onLine, detached: true });
    void b.process.exited.then((code) => {
      if (!this.stopping) process.stderr.write(`[broker ${b.id}] exited with ${code ?? 'a signal'} (log: ${shown(b.logFile)})\n`);
    });
  }

  /** Where to reach the brokers, once they see each other. */
  async announce(): Promise<void> {
    const bootstrap = this.brokers.map((b) => formatHostPort(b.process!.listeners[0]));
    const ids = this.brokers.map((b) => b.id);
    const seen = await waitForMembers(bootstrap, ids, FORM_TIMEOUT_MS);
    // The consoles come up right after the Kafka listeners: the table should give working URLs.
    const consoleDeadline = Date.now() + CONSOLE_TIMEOUT_MS;
    while (this.brokers.some((b) => b.console === null) && Date.now() < consoleDeadline) await new Promise((r) => setTimeout(r, 50));
    if (ids.some((id) => !seen.includes(id))) {
      process.stderr.write(`sluice dev-cluster: after ${FORM_TIMEOUT_MS / 1000} s the cluster metadata lists brokers [${seen.join(',')}] of [${ids.join(',')}]; see the logs in ${shown(this.dir)}\n`);
    }
    const rows = this.brokers.map((b, i) => [b.id, bootstrap[i], b.console ?? '?', b.process!.child.pid ?? '-', shown(b.logFile)]);
    process.stdout.write(
      formatTable(['node', 'bootstrap', 'console', 'pid', 'log'], rows) +
        `etcd: ${this.etcd!.endpoint} (prefix /${PREFIX}, data in ${shown(join(this.dir, 'etcd'))})\n` +
        `bootstrap servers: ${bootstrap.join(',')}\n` +
        `ready: try \`sluice cluster --brokers ${bootstrap.join(',')}\`; Ctrl-C stops the brokers, then etcd\n`,
    );
  }

  /**
   * Stops the brokers one by one, the controller last (each hands its leaderships to those
   * still up), then etcd, which they needed for that. Returns whether every broker exited cleanly.
   */
  async stop(force: () => boolean): Promise<boolean> {
    this.stopping = true;
    const order = [...this.brokers].sort((a, b) => Number(a.id === this.controller) - Number(b.id === this.controller));
    let clean = true;
    for (const b of order) {
      const p = b.process;
      if (!p || p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill(force() ? 'SIGKILL' : 'SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const code = await p.exited;
      clearTimeout(timer);
      if (code !== 0) {
        clean = false;
        process.stderr.write(`sluice dev-cluster: broker ${b.id} exited with ${code ?? 'a signal'}\n`);
      }
    }
    await Promise.all(this.brokers.map((b) => new Promise((r) => b.log.end(r))));
    await this.etcd?.stop();
    return clean;
  }

  killBrokers(): void {
    for (const b of this.brokers) b.process?.child.kill('SIGKILL');
  }

  /** For an exit that cannot wait: nothing started here outlives this process. */
  killAll(): void {
    this.killBrokers();
    const pid = this.etcd?.pid;
    try {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    } catch {
      // It has exited already.
    }
  }
}

async function run(opts: DevClusterOptions): Promise<void> {
  checkOptions(opts);
  const cluster = new DevCluster(resolve(opts.dir), opts);
  let signals = 0;
  let stopRequested: () => void = () => {};
  const stopped = new Promise<void>((r) => (stopRequested = r));
  const onSignal = (): void => {
    if (++signals === 2) {
      process.stderr.write('sluice dev-cluster: killing the brokers\n');
      cluster.killBrokers();
    }
    stopRequested();
  };
  const signalNames = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signalNames) process.on(s, onSignal);
  const onExit = (): void => cluster.killAll();
  process.on('exit', onExit);
  try {
    let failure: unknown = null;
    try {
      // The brokers start (or fail) first even when a signal comes meanwhile: then all stop in order.
      await cluster.start();
      if (signals === 0) await Promise.race([cluster.announce(), stopped]);
      await stopped;
    } catch (e) {
      failure = e;
    }
    const clean = await cluster.stop(() => signals > 1);
    if (failure) throw failure;
    if (!clean) throw new CliError('not every broker stopped cleanly');
  } finally {
    for (const s of signalNames) process.off(s, onSignal);
    process.off('exit', onExit);
  }
}

/** `sluice dev-cluster`: etcd and N brokers on this machine, in the foreground. */
export function registerDevCluster(program: Command): void {
  program
    .command('dev-cluster')
    .description('Run a cluster on this machine: etcd and N brokers, until Ctrl-C')
    .option('-n, --brokers <n>', 'how many brokers', intParser(1, 99), 3)
    .option('-d, --dir <dir>', 'where the data and logs go (kept from one run to the next)', './dev-cluster')
    .option('-p, --port <port>', 'the Kafka port of broker 1; broker i gets port+i-1, on 127.0.0.1', intParser(1, 65535), 9092)
    .option('--console-port <port>', 'the web console port of broker 1, then one up for each broker; 0: no consoles', intParser(0, 65535), 8080)
    .option('-o, --override <key=value>', 'a broker setting for every broker, as `sluice serve --override` takes (repeatable)', keyValueCollector)
    .option('-q, --quiet', 'broker logs to their files only, not to the terminal')
    .addHelpText(
      'after',
      `
Broker i is node.id i with its log directory <dir>/broker-i; etcd keeps the cluster metadata
in <dir>/etcd, on a free loopback port. Each broker's whole log (JSON lines) is appended to
<dir>/broker-i.log; the terminal (stderr) gets a short form of each line, prefixed with
[broker i]. Once the brokers see each other, a table of their addresses, consoles and pids
goes to stdout, then the bootstrap servers and a line starting with "ready".
New topics get replication factor min(N, 3) unless -o default.replication.factor=... says
otherwise. Ctrl-C or SIGTERM stops the brokers one by one (each hands its leaderships over),
then etcd; a second Ctrl-C kills them. Delete <dir> to start afresh.

Example:
  sluice dev-cluster --brokers 3 -o num.partitions=6
  sluice cluster --brokers 127.0.0.1:9092`,
    )
    .action((opts: DevClusterOptions) => run(opts));
}
