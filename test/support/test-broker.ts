import type { ChildProcess } from 'node:child_process';
import type { Broker } from '../../src/broker/broker.js';
import { startServe } from '../../src/cli/broker-process.js';
import { formatHostPort } from '../../src/config/listeners.js';
import { startBroker } from '../../src/embedded.js';

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
  host: string;
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
  /** The address it listens on (default 127.0.0.1). */
  host?: string;
  /** A command that execs the broker in its place, such as `ip netns exec NS`. */
  wrapper?: string[];
  /** The Node binary to run it on; the test's by default. */
  node?: string;
}

/**
 * `sluice serve` as a child process on `dir`. Resolves once its start-up line names the port;
 * `port` may be fixed (to restart a broker where clients expect it) or 0 for a free one.
 */
export async function startBrokerProcess(dir: string, overrides: Record<string, string> = {}, port = 0, options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const host = options.host ?? '127.0.0.1';
  const settings = baseSettings(dir, { listeners: `PLAINTEXT://${host}:${port}`, ...overrides });
  const limit = options.descriptorLimit;
  const wrapper = [...(options.wrapper ?? []), ...(limit ? ['prlimit', `--nofile=${limit.soft}:${limit.hard}`] : [])];
  const output: string[] = [];
  const serve = await startServe({ settings, wrapper: wrapper.length > 0 ? wrapper : undefined, node: options.node, onLine: (line, stream) => stream === 'stdout' && output.push(line) }).catch((e: Error) => {
    // How far it got says why it did not start.
    throw new Error(`${e.message}\nits log (end):\n${output.slice(-20).join('\n')}`);
  });
  const bound = serve.listeners[0];
  return { child: serve.child, host: bound.host, port: bound.port, bootstrap: formatHostPort(bound), output, stop: serve.stop, kill: serve.kill };
}

/** The replica assignment of a topic of `partitions` partitions on a single node (node.id 1, the default). */
export function onThisNode(partitions: number, nodeId = 1): number[][] {
  return Array.from({ length: partitions }, () => [nodeId]);
}
