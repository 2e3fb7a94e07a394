import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { waitForMembers } from '../../src/cli/dev-cluster.js';
import { EtcdProcess } from '../../src/cli/etcd-process.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { tempDir } from './storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from './test-broker.js';
import { KafkajsReader } from './kafkajs-reader.js';
import { eventually } from './librdkafka-groups.js';
import type { ConsumedRecord } from './python-clients.js';
import { etcd, ip, nft, skipUnlessPresent } from './tools.js';

export type Settings = Record<string, string>;

/**
 * Broker settings for tests that break a cluster: a broker that is gone, and a follower that
 * lags, are noticed within seconds, a group forms without waiting for more members, and
 * __consumer_offsets is small enough to be made and moved in a moment.
 */
export const FAST_CLUSTER: Settings = {
  'broker.session.timeout.ms': '3000',
  'replica.lag.time.max.ms': '5000',
  'group.initial.rebalance.delay.ms': '0',
  'offsets.topic.num.partitions': '10',
};

/**
 * Where the brokers live. `loopback`: each on its own 127.0.0.x, all in this network namespace.
 * `netns`: each in a network namespace of its own behind a veth on one bridge, so that `cut`
 * can take the whole broker off the network, its connections to etcd and the others included.
 */
export type Addresses = 'loopback' | 'netns';

/** For node:test's `skip`: false when a cluster of this kind can run here, else why not (under CI: an error). */
export function clusterSkip(addresses: Addresses): string | false {
  if (addresses === 'loopback') return skipUnlessPresent(etcd);
  const missing = skipUnlessPresent(etcd, ip, nft);
  if (missing || process.getuid?.() === 0) return missing;
  const reason = 'network namespaces need root';
  if (process.env.CI) throw new Error(`CI must run the cluster tests as root: ${reason}`);
  return `${reason}; skipped`;
}

/** Runs a command to completion and returns its stdout; throws with its stderr when it fails. */
function sh(args: string[], input?: string): string {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', input, timeout: 15_000 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

/** For cleanup, where what is already gone may stay gone. */
function shQuietly(args: string[]): void {
  spawnSync(args[0], args.slice(1), { stdio: 'ignore', timeout: 15_000 });
}

/** This process's part of every name below: what a dead process left can be told from a live one's. */
const TEMP_PREFIX = `cluster-${process.pid}`;

/** The other processes whose command line (arguments joined by spaces) matches. */
export function processesMatching(pattern: RegExp): { pid: number; cmdline: string }[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)
    .flatMap((pid) => {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        return [];
      }
      return pattern.test(cmdline) ? [{ pid: Number(pid), cmdline }] : [];
    });
}

export interface Leftover {
  what: string;
  remove(): void;
}

/**
 * What cluster test processes whose pid passes `owner` have running or set up: brokers and
 * etcd (their command lines name their directory), temporary directories, network
 * namespaces, bridges and veths, nft tables.
 */
export function leftovers(owner: (pid: number) => boolean): Leftover[] {
  const found: Leftover[] = [];
  const add = (what: string, remove: () => void): void => void found.push({ what, remove });
  for (const { pid, cmdline } of processesMatching(/\/sluice-cluster-\d+-/)) {
    const m = /\/sluice-cluster-(\d+)-/.exec(cmdline)!;
    if (owner(Number(m[1]))) add(`process ${pid}: ${cmdline}`, () => shQuietly(['kill', '-KILL', String(pid)]));
  }
  for (const name of readdirSync(tmpdir())) {
    const m = /^sluice-cluster-(\d+)-/.exec(name);
    if (m && owner(Number(m[1]))) add(`directory ${join(tmpdir(), name)}`, () => rmSync(join(tmpdir(), name), { recursive: true, force: true }));
  }
  if (!ip.present() || !nft.present() || process.getuid?.() !== 0) return found;
  for (const line of sh(['ip', 'netns', 'list']).split('\n')) {
    const m = /^(sluice-(\d+)-\S+)/.exec(line);
    if (m && owner(Number(m[2]))) add(`network namespace ${m[1]}`, () => removeNamespace(m[1]));
  }
  for (const line of sh(['ip', '-o', 'link', 'show']).split('\n')) {
    // Bridges slb-PID-N and veths sl-PID-N-ID, PID in base 36.
    const m = /^\d+: ((?:slb-([0-9a-z]+)-[0-9a-z]+|sl-([0-9a-z]+)-[0-9a-z]+-\d+))[:@]/.exec(line);
    if (m && owner(parseInt(m[2] ?? m[3], 36))) add(`link ${m[1]}`, () => shQuietly(['ip', 'link', 'del', m[1]]));
  }
  for (const line of sh(['nft', 'list', 'tables']).split('\n')) {
    const m = /^table bridge (sluice_(\d+)_\d+)$/.exec(line.trim());
    if (m && owner(Number(m[2]))) add(`nft table bridge ${m[1]}`, () => shQuietly(['nft', 'delete', 'table', 'bridge', m[1]]));
  }
  return found;
}

/** Whether `pid` was a test process that has died, so nothing will clean up after it. */
function orphaned(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

/** Removes what killed test processes left (processes first: they hold the rest). */
export function sweepOrphans(): void {
  for (const l of leftovers(orphaned)) l.remove();
}

function removeNamespace(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split('\n').filter((p) => p !== '')) shQuietly(['kill', '-KILL', pid]);
  shQuietly(['ip', 'netns', 'del', name]);
}

/** Where each broker and etcd listen, and how a broker is cut off. */
export interface BrokerNetwork {
  readonly addresses: Addresses;
  /** The address etcd listens on, which every broker reaches. */
  readonly etcdHost: string;
  host(id: number): string;
  /** The Kafka port of a broker's first start: 0 for a free one. */
  readonly port: number;
  /** The command that runs a program at broker `id`'s address, in front of it; none on loopback. */
  wrapper(id: number): string[] | undefined;
  /** Drops every packet to and from broker `id`: it can reach nothing, and nothing it. */
  cut(id: number): void;
  heal(id: number): void;
  /** Synchronous, for the exit handler too; a second call does nothing. */
  close(): void;
}

/** Any 127.0.0.x is on `lo`: distinct addresses, no set-up. */
export const loopbackNetwork: BrokerNetwork = {
  addresses: 'loopback',
  etcdHost: '127.0.0.1',
  host: (id) => `127.0.0.${10 + id}`,
  port: 0,
  wrapper: () => undefined,
  cut: () => {
    throw new Error("cut and heal need startCluster({ addresses: 'netns' })");
  },
  heal: () => {
    throw new Error("cut and heal need startCluster({ addresses: 'netns' })");
  },
  close: () => {},
};

let networksMade = 0;

/** A /24 in 10.0.0.0/8 that no address or route of this host touches: "10.a.b". */
function freeSubnet(): string {
  const taken = sh(['ip', '-o', '-4', 'addr', 'show']) + sh(['ip', '-4', 'route', 'show', 'table', 'all']);
  for (let attempt = 0; attempt < 100; attempt++) {
    const subnet = `10.${200 + Math.floor(Math.random() * 55)}.${Math.floor(Math.random() * 256)}`;
    if (!taken.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 for the cluster network');
}

/**
 * A bridge in this namespace holding etcd's address, and per broker a namespace joined to it
 * by a veth. An nftables table on the bridge drops the packets of the addresses in its `cut`
 * set: a cut broker's connections hang as in a real partition, rather than fail at once.
 */
export class NetnsNetwork implements BrokerNetwork {
  readonly addresses = 'netns';
  /** Each broker has the namespace's ports to itself. */
  readonly port = 9092;
  private readonly serial = networksMade++;
  // Interface names have at most 15 characters: the pid in base 36.
  private readonly tag = `${process.pid.toString(36)}-${this.serial.toString(36)}`;
  private readonly bridge = `slb-${this.tag}`;
  private readonly table = `sluice_${process.pid}_${this.serial}`;
  private readonly subnet = freeSubnet();
  private readonly ids: number[] = [];
  private closed = false;

  private constructor() {}

  static create(ids: number[]): NetnsNetwork {
    const network = new NetnsNetwork();
    try {
      network.setUp(ids);
    } catch (e) {
      network.close();
      throw e;
    }
    return network;
  }

  get etcdHost(): string {
    return `${this.subnet}.1`;
  }

  host(id: number): string {
    return `${this.subnet}.${10 + id}`;
  }

  namespace(id: number): string {
    return `sluice-${process.pid}-${this.serial}-${id}`;
  }

  private veth(id: number): string {
    return `sl-${this.tag}-${id}`;
  }

  wrapper(id: number): string[] {
    return ['ip', 'netns', 'exec', this.namespace(id)];
  }

  private setUp(ids: number[]): void {
    sh(['nft', '-f', '-'], this.rules());
    sh(['ip', 'link', 'add', this.bridge, 'type', 'bridge']);
    sh(['ip', 'addr', 'add', `${this.etcdHost}/24`, 'dev', this.bridge]);
    sh(['ip', 'link', 'set', this.bridge, 'up']);
    for (const id of ids) {
      const ns = this.namespace(id);
      sh(['ip', 'netns', 'add', ns]);
      this.ids.push(id);
      sh(['ip', 'link', 'add', this.veth(id), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh(['ip', 'link', 'set', this.veth(id), 'master', this.bridge, 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${this.host(id)}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** The bridge family sees frames between the veths (forward) and to and from this namespace (input, output). */
  private rules(): string {
    return `table bridge ${this.table} {
  set cut { type ipv4_addr; }
  chain forward { type filter hook forward priority 0; ip saddr @cut drop; ip daddr @cut drop; }
  chain input { type filter hook input priority 0; ip saddr @cut drop; }
  chain output { type filter hook output priority 0; ip daddr @cut drop; }
}
`;
  }

  cut(id: number): void {
    sh(['nft', 'add', 'element', 'bridge', this.table, 'cut', `{ ${this.host(id)} }`]);
  }

  heal(id: number): void {
    sh(['nft', 'delete', 'element', 'bridge', this.table, 'cut', `{ ${this.host(id)} }`]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.ids) {
      // Deleting either end of a veth deletes both, at once rather than when the namespace dies.
      shQuietly(['ip', 'link', 'del', this.veth(id)]);
      removeNamespace(this.namespace(id));
    }
    shQuietly(['ip', 'link', 'del', this.bridge]);
    shQuietly(['nft', 'delete', 'table', 'bridge', this.table]);
  }
}

export interface ClusterOptions {
  brokers: number;
  /** Settings for every broker, or per broker by node id; over the cluster's own. */
  overrides?: Settings | ((id: number) => Settings);
  addresses?: Addresses;
  /** Whether startCluster waits until Metadata lists every broker and a controller (default true). */
  waitForMembers?: boolean;
}

interface Member {
  id: number;
  host: string;
  /** Fixed at the first start, so a restarted broker is where clients and the others expect it. */
  port: number;
  dir: string;
  settings: Settings;
  process: BrokerProcess | null;
  paused: boolean;
  cut: boolean;
}

const open = new Set<TestCluster>();
let watchingExit = false;

/** Nothing a cluster started outlives the test process, however it ends. */
function closeAllAtExit(): void {
  for (const c of open) c.closeNow();
}

function watchExit(): void {
  if (watchingExit) return;
  watchingExit = true;
  process.on('exit', closeAllAtExit);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      closeAllAtExit();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
}

/** etcd and N `sluice serve` processes in cluster mode; see startCluster. */
export class TestCluster {
  private readonly members = new Map<number, Member>();

  private constructor(
    readonly dir: string,
    readonly network: BrokerNetwork,
    readonly etcd: EtcdProcess,
  ) {}

  /** @internal startCluster's. */
  static async create(options: ClusterOptions): Promise<TestCluster> {
    sweepOrphans();
    const ids = Array.from({ length: options.brokers }, (_, i) => i + 1);
    const temp = tempDir(TEMP_PREFIX);
    let network: BrokerNetwork | null = null;
    let etcdProcess: EtcdProcess | null = null;
    try {
      network = options.addresses === 'netns' ? NetnsNetwork.create(ids) : loopbackNetwork;
      etcdProcess = await EtcdProcess.start({ dataDir: join(temp.dir, 'etcd'), host: network.etcdHost });
    } catch (e) {
      network?.close();
      temp.cleanup();
      throw e;
    }
    watchExit();
    const cluster = new TestCluster(temp.dir, network, etcdProcess);
    open.add(cluster);
    try {
      const overrides = options.overrides ?? {};
      for (const id of ids) {
        const settings = {
          'node.id': String(id),
          'sluice.metadata.store': cluster.metadataStore,
          ...(typeof overrides === 'function' ? overrides(id) : overrides),
        };
        cluster.members.set(id, { id, host: network.host(id), port: network.port, dir: join(temp.dir, `broker-${id}`), settings, process: null, paused: false, cut: false });
      }
      // Every start settles before a failure closes the cluster: a broker still starting would outlive it.
      const failed = (await Promise.allSettled(ids.map((id) => cluster.start(id)))).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (options.waitForMembers ?? true) {
        const seen = await waitForMembers(cluster.bootstrap, ids, 30_000);
        if (ids.some((id) => !seen.includes(id))) throw new Error(`after 30 s the cluster metadata lists brokers [${seen}] of [${ids}]\n${cluster.logs()}`);
      }
      return cluster;
    } catch (e) {
      await cluster.close();
      throw e;
    }
  }

  private member(id: number): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`no broker ${id} in this cluster (brokers ${this.ids.join(', ')})`);
    return m;
  }

  private running(id: number): Member & { process: BrokerProcess } {
    const m = this.member(id);
    if (!m.process) throw new Error(`broker ${id} is not running`);
    return m as Member & { process: BrokerProcess };
  }

  /** The brokers' sluice.metadata.store: the cluster's prefix in its etcd. */
  get metadataStore(): string {
    return `etcd://${this.etcd.endpoint}/sluice`;
  }

  /** Node ids, 1 to N. */
  get ids(): number[] {
    return [...this.members.keys()];
  }

  /** Every broker's host:port, running or not (for clients). */
  get bootstrap(): string[] {
    return this.ids.map((id) => this.address(id));
  }

  /** Broker `id`'s host:port. */
  address(id: number): string {
    const m = this.member(id);
    return `${m.host}:${m.port}`;
  }

  /** The running process of broker `id`, with its log lines. */
  broker(id: number): BrokerProcess {
    return this.running(id).process;
  }

  /** The last lines of every broker's log, for a failure message. */
  logs(lines = 30): string {
    return [...this.members.values()].map((m) => `--- broker ${m.id} ---\n${(m.process?.output ?? []).slice(-lines).join('\n')}`).join('\n');
  }

  /**
   * The base URL of broker `id`'s console (sluice.console.listener), as its current process logs
   * it: the console listens a moment after the broker has started, and on a new port after a
   * restart when the setting says port 0.
   */
  async consoleUrl(id: number, timeoutMs = 10_000): Promise<string> {
    const p = this.broker(id);
    let url: string | undefined;
    await eventually(
      `broker ${id}'s console`,
      () => {
        const line = p.output.find((l) => l.includes('"console listening"'));
        url = line && (JSON.parse(line) as { url: string }).url;
        return url !== undefined;
      },
      timeoutMs,
      () => p.output.slice(-10).join('\n'),
    );
    return url!;
  }

  /** What broker `id`'s console answers on /health. */
  async health(id: number): Promise<unknown> {
    return (await fetch(`${await this.consoleUrl(id)}/health`)).json();
  }

  /** The value of a gauge without labels on broker `id`'s /metrics. */
  async gauge(id: number, name: string): Promise<number> {
    const res = await fetch(`${await this.consoleUrl(id)}/metrics`);
    if (!res.ok) throw new Error(`broker ${id}'s /metrics answered ${res.status}`);
    const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`broker ${id} does not export ${name}`);
    return Number(line.slice(name.length + 1));
  }

  /** The gauge on each of these brokers, by node id. */
  async gauges(ids: number[], name: string): Promise<Record<number, number>> {
    return Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await this.gauge(id, name)] as const)));
  }

  /** Starts broker `id` (again): the same address, port, log directory and settings. */
  async start(id: number): Promise<BrokerProcess> {
    const m = this.member(id);
    if (m.process) throw new Error(`broker ${id} is running`);
    const p = await startBrokerProcess(m.dir, m.settings, m.port, { host: m.host, wrapper: this.network.wrapper(id) });
    m.port = p.port;
    m.process = p;
    m.paused = false;
    // Whatever ends it, it is not running any more.
    p.child.once('exit', () => {
      if (m.process === p) m.process = null;
    });
    return p;
  }

  /** SIGTERM, and its exit code once it has exited (a paused broker is resumed to see the signal). */
  async stop(id: number): Promise<number | null> {
    const m = this.running(id);
    const exited = m.process.stop();
    if (m.paused) this.resume(id);
    return exited;
  }

  /** SIGKILL: a crash. */
  async kill(id: number): Promise<void> {
    await this.running(id).process.kill();
  }

  /** SIGSTOP: alive to the kernel (connections stay open) but answering nothing, as a long GC pause. */
  pause(id: number): void {
    const m = this.running(id);
    m.process.child.kill('SIGSTOP');
    m.paused = true;
  }

  resume(id: number): void {
    const m = this.running(id);
    m.process.child.kill('SIGCONT');
    m.paused = false;
  }

  /** Takes broker `id` off the network (netns only): to etcd, the other brokers and clients it is gone. */
  cut(id: number): void {
    const m = this.member(id);
    this.network.cut(id);
    m.cut = true;
  }

  heal(id: number): void {
    const m = this.member(id);
    this.network.heal(id);
    m.cut = false;
  }

  async stopEtcd(): Promise<void> {
    await this.etcd.stop();
  }

  /** Starts etcd again on its address and data: every key is still there, leases have kept running. */
  async startEtcd(): Promise<void> {
    await this.etcd.restart();
  }

  async restartEtcd(): Promise<void> {
    await this.stopEtcd();
    await this.startEtcd();
  }

  /** Brokers running, awake and on the network: those a client can talk to now. */
  get reachable(): number[] {
    return [...this.members.values()].filter((m) => m.process && !m.paused && !m.cut).map((m) => m.id);
  }

  /** Broker `id`'s log directory, running or not. */
  logDir(id: number): string {
    return this.member(id).dir;
  }

  /** The controller's node id as Metadata from a reachable broker says (-1: none); throws when none answers. */
  async controllerId(timeoutMs = 10_000): Promise<number> {
    const reachable = this.reachable.map((id) => this.address(id));
    if (reachable.length === 0) throw new Error('no broker is running, awake and on the network');
    const client = new KafkaClient({ brokers: reachable, retries: 0 });
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no Metadata answer within ${timeoutMs} ms from ${reachable.join(', ')}`)), timeoutMs);
      });
      return (await Promise.race([client.metadata([]), timeout])).controllerId;
    } finally {
      clearTimeout(timer);
      await client.close();
    }
  }

  /** Removes everything: processes, network, directories. Safe after failures and twice. */
  async close(): Promise<void> {
    const exits = [...this.members.values()].map((m) => m.process?.kill());
    await Promise.all([...exits, this.etcd.kill()]);
    this.closeNow();
  }

  /** close() for an exit handler: no waiting, so the namespaces' processes are killed by the network's own cleanup. */
  closeNow(): void {
    for (const m of this.members.values()) m.process?.child.kill('SIGKILL');
    const pid = this.etcd.pid;
    if (pid !== undefined) shQuietly(['kill', '-KILL', String(pid)]);
    this.network.close();
    rmSync(this.dir, { recursive: true, force: true });
    open.delete(this);
  }
}

/**
 * etcd (a fresh data directory, free ports) and brokers 1..N as `sluice serve` child processes
 * in cluster mode, each on its own address. Resolves once every broker has started and (unless
 * `waitForMembers: false`) Metadata lists them all and a controller. Call close() in `after`;
 * an exit handler removes what a failed test left anyway.
 */
export function startCluster(options: ClusterOptions): Promise<TestCluster> {
  return TestCluster.create(options);
}

/**
 * Sends `count` keyed records (values `${prefix}v0`, `${prefix}v1`, ...) to `topic` through
 * kafkajs (acks=all) and reads the topic from the beginning in a new consumer group until every
 * one of them has come back; returns those it read, in the order read, duplicates included
 * (records of others in the topic are left out).
 */
export async function kafkajsRoundTripRecords(brokers: string[], topic: string, count: number, options: { timeoutMs?: number; prefix?: string } = {}): Promise<ConsumedRecord[]> {
  const prefix = options.prefix ?? '';
  const kafka = new Kafka({ clientId: 'cluster-test', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, (_, i) => ({ key: `${prefix}k${i}`, value: `${prefix}v${i}` })) });
  } finally {
    await producer.disconnect();
  }
  const reader = await KafkajsReader.start(brokers, topic, `round-trip-${topic}${prefix === '' ? '' : `-${prefix}`}`);
  const own = (): ConsumedRecord[] => reader.records.filter((r) => r.k?.startsWith(`${prefix}k`) && r.v?.startsWith(`${prefix}v`));
  try {
    await reader.until(`${count} values of ${topic}`, () => new Set(own().map((r) => r.v)).size >= count, options.timeoutMs ?? 60_000);
  } finally {
    await reader.stop();
  }
  return own();
}

/** The distinct values kafkajsRoundTripRecords read back, sorted: a rebalance may deliver some twice, as Kafka may. */
export async function kafkajsRoundTrip(brokers: string[], topic: string, count: number, timeoutMs = 60_000): Promise<string[]> {
  const read = await kafkajsRoundTripRecords(brokers, topic, count, { timeoutMs });
  return [...new Set(read.map((r) => r.v ?? ''))].sort();
}
