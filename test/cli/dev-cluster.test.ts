import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/cli/etcd-process.js';
import { clusterSkip, kafkajsRoundTrip, processesMatching } from '../support/cluster.js';
import { tempDir } from '../support/storage-fixtures.js';
import { expectExit, sluice, startSluice, until } from './sluice-cli.js';

function listen(port: number): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** The first of `n` consecutive ports that are free on 127.0.0.1 just now. */
async function freePortRun(n: number): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + n > 65536) continue;
    const servers = await Promise.all(Array.from({ length: n }, (_, i) => listen(base + i)));
    await Promise.all(servers.map((s) => s && new Promise((resolve) => s.close(resolve))));
    if (servers.every((s) => s !== null)) return base;
  }
}

/** What still runs with `dir` on its command line: nothing, once dev-cluster has exited. */
const runningIn = (dir: string): string[] => processesMatching(new RegExp(dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).map((p) => p.cmdline);

describe('sluice dev-cluster', { skip: clusterSkip('loopback'), timeout: 240_000 }, () => {
  let temp: ReturnType<typeof tempDir>;

  before(() => {
    temp = tempDir('dev-cluster');
  });

  after(() => temp.cleanup());

  test('bad settings are a usage error, found before anything starts', async () => {
    const r = await sluice(['dev-cluster', '--dir', temp.dir, '-o', 'num.partitions=many']);
    expectExit(r, 2, 'dev-cluster with a bad setting');
    assert.match(r.stderr, /^sluice dev-cluster: num\.partitions.* — see `sluice dev-cluster --help`/m);
    assert.deepEqual(runningIn(temp.dir), []);
  });

  test('3 brokers: ready, a replicated topic takes and returns records, `sluice cluster` shows them; SIGTERM stops all', async () => {
    const dir = `${temp.dir}/three`;
    const [port, consolePort] = [await freePortRun(3), await freePortRun(3)];
    const lines: string[] = [];
    const dev = startSluice(['dev-cluster', '--brokers', '3', '--dir', dir, '--port', String(port), '--console-port', String(consolePort)], (l) => lines.push(l), 180_000);
    try {
      await until(
        'dev-cluster to be ready',
        () => {
          if (dev.child.exitCode !== null) throw new Error(`dev-cluster exited with ${dev.child.exitCode}:\n${dev.stderr()}`);
          return lines.some((l) => l.startsWith('ready'));
        },
        90_000,
      );
      const bootstrap = [0, 1, 2].map((i) => `127.0.0.1:${port + i}`);
      assert.ok(lines.includes(`bootstrap servers: ${bootstrap.join(',')}`), lines.join('\n'));
      for (const i of [0, 1, 2]) assert.match(lines.join('\n'), new RegExp(`^${i + 1} +127\\.0\\.0\\.1:${port + i} +http://127\\.0\\.0\\.1:${consolePort + i} +\\d+ `, 'm'));
      const health = await fetch(`http://127.0.0.1:${consolePort + 2}/health`);
      assert.equal(health.status, 200, 'the console of broker 3 answers');
      assert.match(dev.stderr(), /^\[broker 2\] \S+ INFO +broker started /m, 'the terminal gets each broker’s log, prefixed');

      const brokers = ['--brokers', bootstrap.join(',')];
      expectExit(await sluice(['topic', 'create', 'orders', '--partitions', '3', '--replication-factor', '3', ...brokers]), 0, 'topic create');
      const values = await kafkajsRoundTrip(bootstrap, 'orders', 30);
      assert.deepEqual([...values].sort(), Array.from({ length: 30 }, (_, i) => `v${i}`).sort());

      const info = await sluice(['cluster', ...brokers]);
      expectExit(info, 0, 'sluice cluster');
      assert.match(info.stdout, /^brokers: +3$/m);
      const controller = Number(/^controller: +(\d+)$/m.exec(info.stdout)?.[1]);
      assert.ok([1, 2, 3].includes(controller), info.stdout);
      for (const i of [0, 1, 2]) {
        const role = i + 1 === controller ? 'controller' : '-';
        assert.match(info.stdout, new RegExp(`^${i + 1} +127\\.0\\.0\\.1:${port + i} +- +${role} +\\d+ +\\d+$`, 'm'));
      }
      const partitions = await sluice(['cluster', 'partitions', '--topic', 'orders', ...brokers]);
      expectExit(partitions, 0, 'sluice cluster partitions');
      assert.equal(partitions.stdout.match(/^orders +\d +[123] +[123],[123],[123] +/gm)?.length, 3, partitions.stdout);
    } finally {
      dev.child.kill('SIGTERM');
    }
    const result = await dev.result;
    expectExit(result, 0, 'dev-cluster after SIGTERM');
    assert.match(result.stderr, /\[broker \d\] .*broker stopped/);
    assert.deepEqual(runningIn(dir), [], 'the brokers and etcd have exited');
  });

  test('a broker that cannot start: exit 1 naming it, and nothing left running', async () => {
    const dir = `${temp.dir}/busy`;
    const port = await freePortRun(2);
    const taken = (await listen(port + 1))!;
    try {
      const r = await sluice(['dev-cluster', '--brokers', '2', '--dir', dir, '--port', String(port), '--console-port', '0'], { timeoutMs: 90_000 });
      expectExit(r, 1, 'dev-cluster with a port taken');
      assert.match(r.stderr, new RegExp(`^sluice: broker 2: .*127\\.0\\.0\\.1:${port + 1} is already in use`, 'm'));
      assert.deepEqual(runningIn(dir), []);
    } finally {
      taken.close();
    }
  });
});
