import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort } from '../../src/cli/etcd-process.js';
import { spawnPrioritized } from '../broker/priority.js';

/**
 * The peer servers (redis-server, nats-server) as the benchmark runs them: on 127.0.0.1, a free
 * port, data under the benchmark's scratch directory, the benchmark's priority, and stopped
 * (or killed, if the benchmark dies) when it is done with them.
 */

/** What a phase needs of a server under test, Sluice's included (RunningBroker has the same shape). */
export interface ServerUnderTest {
  pid: number;
  /** host:port for its clients. */
  bootstrap: string;
  stop(): Promise<void>;
}

/** Debian puts daemons in /usr/sbin, which a non-root PATH may lack. */
const SEARCH_PATH = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin'];

/** The executable's path, or null when it is not installed. */
export function findBinary(name: string): string | null {
  for (const dir of SEARCH_PATH.filter((d) => d !== '')) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 15_000;

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startServer(name: string, bin: string, args: string[], port: number): Promise<ServerUnderTest> {
  const child: ChildProcess = spawnPrioritized(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  // Its log is drained as it comes (a full pipe would stall it) and its tail kept for errors.
  let log = '';
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (log = (log + d).slice(-4000)));
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before listening: ${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    pid: child.pid!,
    bootstrap: `127.0.0.1:${port}`,
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killOnExit);
    },
  };
}

export type AppendFsync = 'everysec' | 'always';

/**
 * Redis with its append-only file on: every XADD is written to the AOF before its reply, and
 * `appendfsync` says when the file is fsynced. Snapshots and AOF rewrites are off, so the log
 * is written once (as Sluice's is) and no forked child does work that /proc of the server would
 * not count.
 */
export async function startRedis(bin: string, dataDir: string, fsync: AppendFsync): Promise<ServerUnderTest> {
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const args = [
    '--bind', '127.0.0.1', '--port', String(port), '--dir', dataDir, '--daemonize', 'no', '--protected-mode', 'no',
    '--appendonly', 'yes', '--appendfsync', fsync, '--save', '', '--auto-aof-rewrite-percentage', '0', '--logfile', '',
  ];
  return startServer('redis-server', bin, args, port);
}

/**
 * nats-server with JetStream on its file store. Its fsync cadence is the store's default (every
 * 2 minutes): 2.9 has no setting for it, 2.10 added `sync_interval` (and `always`).
 */
export async function startNats(bin: string, dataDir: string): Promise<ServerUnderTest> {
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const config = join(dataDir, 'nats.conf');
  writeFileSync(config, `listen: "127.0.0.1:${port}"\njetstream {\n  store_dir: "${join(dataDir, 'jetstream')}"\n  max_file_store: 50G\n}\n`);
  return startServer('nats-server', bin, ['-c', config], port);
}
