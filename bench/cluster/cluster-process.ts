import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { waitForMembers } from '../../src/cli/dev-cluster.js';
import { EtcdProcess, freePort } from '../../src/cli/etcd-process.js';
import { startBroker, type RunningBroker } from '../broker/broker-process.js';
import type { PhaseTarget } from '../broker/phases.js';

/**
 * etcd and N compiled brokers in cluster mode, each broker a child process on its own
 * loopback address and data directory, for the cluster benchmark.
 */

export interface ClusterOptions {
  dir: string;
  brokers: number;
  /** Broker settings for all of them, after the cluster's own. */
  overrides: Record<string, string>;
  /**
   * When set, every broker runs under `node --cpu-prof` and writes its profile into
   * `<this>/broker-<id>` as it stops, and writes the map perf needs for JIT-compiled code.
   */
  cpuProfileDir?: string;
}

export interface RunningCluster {
  etcd: EtcdProcess;
  /** Broker i + 1 at index i. */
  brokers: RunningBroker[];
  /** Each broker's Prometheus endpoint, in the same order. */
  metricsUrls: string[];
  target: PhaseTarget;
  /** Log lines every broker has written that match `pattern`, counted from now until the returned function is called. */
  countLogLines(pattern: RegExp): () => number;
  stop(): Promise<void>;
}

/** A loopback address of its own per broker: the brokers' connections to each other are as distinct as on a network. */
const brokerHost = (id: number): string => `127.0.0.${10 + id}`;
const MEMBERS_TIMEOUT_MS = 30_000;

export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  const etcd = await EtcdProcess.start({ dataDir: join(opts.dir, 'etcd') });
  // The brokers' own exit handlers kill them; etcd would outlive a benchmark that fails or is stopped.
  const killEtcdOnExit = (): void => void etcd.kill();
  process.once('exit', killEtcdOnExit);
  const brokers: RunningBroker[] = [];
  const watchers = new Set<{ pattern: RegExp; count: number }>();
  const onLog = (line: string): void => {
    for (const w of watchers) if (w.pattern.test(line)) w.count++;
  };
  const stop = async (): Promise<void> => {
    const stopped = await Promise.allSettled(brokers.map((b) => b.stop()));
    await etcd.stop();
    process.off('exit', killEtcdOnExit);
    if (opts.cpuProfileDir) for (const b of brokers) rmSync(`/tmp/perf-${b.pid}.map`, { force: true });
    const failed = stopped.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    const ids = Array.from({ length: opts.brokers }, (_, i) => i + 1);
    const consolePorts = await Promise.all(ids.map((id) => freePort(brokerHost(id))));
    const started = await Promise.allSettled(
      ids.map((id) =>
        startBroker({
          dataDir: join(opts.dir, `broker-${id}`),
          partitions: 1,
          cpuProfileDir: opts.cpuProfileDir ? join(opts.cpuProfileDir, `broker-${id}`) : undefined,
          nodeArgs: opts.cpuProfileDir ? ['--perf-basic-prof-only-functions'] : undefined,
          overrides: {
            'node.id': String(id),
            listeners: `PLAINTEXT://${brokerHost(id)}:0`,
            // For /metrics: the brokers' own count of their garbage collections.
            'sluice.console.listener': `${brokerHost(id)}:${consolePorts[id - 1]}`,
            'sluice.metadata.store': `etcd://${etcd.endpoint}/sluice-bench`,
            // Nothing to hand over at the end: a controlled shutdown would wait for leaderships
            // to move to brokers that are stopping too.
            'controlled.shutdown.enable': 'false',
            ...opts.overrides,
          },
          onLog,
        }),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') brokers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const bootstrap = brokers.map((b) => b.bootstrap);
    const seen = await waitForMembers(bootstrap, ids, MEMBERS_TIMEOUT_MS);
    if (ids.some((id) => !seen.includes(id))) throw new Error(`after ${MEMBERS_TIMEOUT_MS / 1000} s the cluster metadata lists brokers [${seen}] of [${ids}]`);
    return {
      etcd,
      brokers,
      metricsUrls: ids.map((id) => `http://${brokerHost(id)}:${consolePorts[id - 1]}/metrics`),
      target: { bootstrap: bootstrap.join(','), brokerPids: brokers.map((b) => b.pid), supportPids: etcd.pid === undefined ? [] : [etcd.pid] },
      countLogLines(pattern) {
        const watcher = { pattern, count: 0 };
        watchers.add(watcher);
        return () => {
          watchers.delete(watcher);
          return watcher.count;
        };
      },
      stop,
    };
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}
