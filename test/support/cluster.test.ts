import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { EtcdProcess } from '../../src/cli/etcd-process.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { until } from '../cli/sluice-cli.js';
import { clusterSkip, leftovers, NetnsNetwork, startCluster, sweepOrphans, type Addresses } from './cluster.js';
import { tempDir } from './storage-fixtures.js';
import { startBrokerProcess } from './test-broker.js';

const run = promisify(execFile);

/**
 * What a TCP connection attempt to host:port from namespace `ns` (or this one) comes to:
 * 'connected', 'timeout', or the error code.
 */
async function reach(ns: string | null, host: string, port: number): Promise<string> {
  const script = `const s = require('net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
s.setTimeout(1500, () => { console.log('timeout'); s.destroy(); });
s.on('connect', () => { console.log('connected'); s.destroy(); });
s.on('error', (e) => console.log(e.code));`;
  const command = [...(ns ? ['ip', 'netns', 'exec', ns] : []), process.execPath, '-e', script, host, String(port)];
  const { stdout } = await run(command[0], command.slice(1), { timeout: 10_000 });
  return stdout.trim();
}

/** Whatever this process has left of its clusters: nothing, once they are closed. */
const mine = (): string[] => leftovers((pid) => pid === process.pid).map((l) => l.what);

describe('cluster test support: network namespaces', { skip: clusterSkip('netns'), timeout: 120_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let network: NetnsNetwork;
  let etcd: EtcdProcess | undefined;

  before(async () => {
    temp = tempDir('netns-support');
    network = NetnsNetwork.create([1, 2]);
    etcd = await EtcdProcess.start({ dataDir: join(temp.dir, 'etcd'), host: network.etcdHost });
  });

  after(async () => {
    await etcd?.kill();
    network?.close();
    temp?.cleanup();
    assert.deepEqual(mine(), [], 'close() removed the namespaces, veths, bridge and nft table');
  });

  test('every namespace reaches etcd; a cut drops all of one namespace’s traffic until it heals', async () => {
    const port = etcd!.clientPort;
    const fromBoth = (): Promise<string[]> => Promise.all([1, 2].map((id) => reach(network.namespace(id), network.etcdHost, port)));
    assert.deepEqual(await fromBoth(), ['connected', 'connected']);
    network.cut(1);
    assert.deepEqual(await fromBoth(), ['timeout', 'connected'], 'broker 1 is cut off, broker 2 is not');
    network.heal(1);
    assert.deepEqual(await fromBoth(), ['connected', 'connected']);
  });

  test('a broker in a namespace: its own pid for signals, reachable from here and from the other namespace unless cut', async () => {
    const host = network.host(1);
    const broker = await startBrokerProcess(join(temp.dir, 'broker-1'), {}, 9092, { host, wrapper: network.wrapper(1) });
    try {
      assert.equal(broker.bootstrap, `${host}:9092`);
      assert.equal(readFileSync(`/proc/${broker.child.pid}/comm`, 'utf8').trim(), 'node', '`ip netns exec` execs the broker in its place');
      const client = new KafkaClient({ brokers: [broker.bootstrap], retries: 0 });
      try {
        const md = await client.metadata([]);
        assert.deepEqual(md.brokers.map((b) => `${b.host}:${b.port}`), [broker.bootstrap]);
      } finally {
        await client.close();
      }
      const fromBoth = (): Promise<string[]> => Promise.all([reach(null, host, 9092), reach(network.namespace(2), host, 9092)]);
      assert.deepEqual(await fromBoth(), ['connected', 'connected']);
      network.cut(1);
      assert.deepEqual(await fromBoth(), ['timeout', 'timeout']);
      network.heal(1);
      assert.deepEqual(await fromBoth(), ['connected', 'connected']);
    } finally {
      assert.equal(await broker.stop(), 0, 'SIGTERM reached the broker: a clean exit');
    }
  });
});

describe('cluster test support: the controls of a running cluster', { skip: clusterSkip('netns'), timeout: 120_000 }, () => {
  test('stop, start, kill, pause, resume, cut, heal, restartEtcd and close act on the right processes and addresses', async () => {
    const cluster = await startCluster({ brokers: 3, addresses: 'netns' });
    try {
      const state = (id: number): string => readFileSync(`/proc/${cluster.broker(id).child.pid}/stat`, 'utf8').split(' ')[2];
      assert.ok(cluster.ids.includes(await cluster.controllerId()));

      const [address, pid] = [cluster.address(2), cluster.broker(2).child.pid];
      assert.equal(await cluster.stop(2), 0, 'a clean exit on SIGTERM');
      assert.throws(() => cluster.broker(2), /broker 2 is not running/);
      await cluster.start(2);
      assert.equal(cluster.address(2), address, 'back on its address and port');
      assert.notEqual(cluster.broker(2).child.pid, pid);

      await cluster.kill(3);
      assert.throws(() => cluster.broker(3), /broker 3 is not running/);
      await cluster.start(3);

      // Signals arrive a moment after they are sent.
      cluster.pause(1);
      await until('broker 1 to stop on SIGSTOP', () => state(1) === 'T', 5000);
      cluster.resume(1);
      await until('broker 1 to run on after SIGCONT', () => state(1) !== 'T', 5000);

      const [host, port] = [cluster.network.host(1), Number(cluster.address(1).split(':')[1])];
      cluster.cut(1);
      assert.equal(await reach(null, host, port), 'timeout');
      cluster.heal(1);
      assert.equal(await reach(null, host, port), 'connected');

      const etcdPid = cluster.etcd.pid;
      await cluster.restartEtcd();
      assert.notEqual(cluster.etcd.pid, etcdPid);
      assert.ok(cluster.ids.includes(await cluster.controllerId()), 'the brokers answer with etcd back');

      cluster.pause(1);
      assert.equal(await cluster.stop(1), 0, 'a paused broker is resumed to see SIGTERM');
    } finally {
      await cluster.close();
    }
    assert.deepEqual(mine(), []);
  });
});

for (const addresses of ['loopback', 'netns'] as Addresses[]) {
  describe(`cluster test support: ${addresses} clean-up`, { skip: clusterSkip(addresses), timeout: 120_000 }, () => {
    test('a cluster whose brokers cannot start is removed whole', async () => {
      await assert.rejects(startCluster({ brokers: 2, addresses, overrides: { 'num.partitions': 'many' } }), /num\.partitions/);
      assert.deepEqual(mine(), []);
    });
  });
}

/** A test process that starts a cluster of brokers (each on its own, no etcd needed), says "up", then ends as `end` says. */
function clusterChild(end: 'exit' | 'SIGKILL'): Promise<{ pid: number; output: string }> {
  const support = new URL('./cluster.ts', import.meta.url).pathname;
  const script = `import { startCluster } from ${JSON.stringify(support)};
await startCluster({ brokers: 2, addresses: 'netns', waitForMembers: false, overrides: { 'sluice.metadata.store': 'embedded' } });
console.log('up');
${end === 'exit' ? 'process.exit(0);' : "process.kill(process.pid, 'SIGKILL');"}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.once('close', () => resolve({ pid: child.pid!, output })));
}

describe('cluster test support: a test process that ends without close()', { skip: clusterSkip('netns'), timeout: 120_000 }, () => {
  test('exiting removes its clusters', async () => {
    const { pid, output } = await clusterChild('exit');
    assert.match(output, /^up$/m);
    assert.deepEqual(
      leftovers((p) => p === pid).map((l) => l.what),
      [],
    );
  });

  test('what a killed one leaves, the next cluster sweeps away', async () => {
    const { pid, output } = await clusterChild('SIGKILL');
    assert.match(output, /^up$/m);
    const left = leftovers((p) => p === pid).map((l) => l.what.split(' ')[0]);
    for (const kind of ['process', 'directory', 'network', 'link', 'nft']) assert.ok(left.includes(kind), `it left a ${kind}: ${left.join(', ')}`);
    sweepOrphans();
    assert.deepEqual(
      leftovers((p) => p === pid).map((l) => l.what),
      [],
    );
  });
});
