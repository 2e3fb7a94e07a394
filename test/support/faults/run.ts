import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startCluster, type TestCluster } from '../cluster.js';
import { consumePython } from '../python-clients.js';
import { check, recoveryMs, type Findings } from './checker.js';
import { fullIsr, sleep, viewsOf, waitForViews, type PartitionState } from './cluster-state.js';
import { FAULT_KINDS, Nemesis, type FaultKind, type FaultRecord } from './nemesis.js';
import { partitionReplicas, type PartitionReplicas } from './replicas.js';
import { senders, Workload, type ProducerOutcome } from './workload.js';

export interface FaultRunOptions {
  brokers: number;
  partitions: number;
  minInsyncReplicas: number;
  /** acks=all with idempotent producers, or acks=1 without idempotence. */
  acks: 'all' | '1';
  /** unclean.leader.election.enable on the topic. */
  unclean: boolean;
  producers: number;
  /** Messages per second, per producer. */
  rate: number;
  /** Passes over `faults`, in order. */
  rounds: number;
  faults: FaultKind[];
  /** How long a killed broker or etcd stays down (a pause or cut lasts at least a session timeout more). */
  faultMs: number;
  /** Quiet time after each fault, before the next. */
  recoveryMs: number;
  /** Producing before the first fault, and after the last before the workload stops. */
  warmupMs: number;
  settleMs: number;
  /** broker.session.timeout.ms. */
  sessionTimeoutMs: number;
  /** replica.lag.time.max.ms. */
  lagTimeMs: number;
  /** Picks the partitions and brokers the faults hit. */
  seed: number;
  /** Where to write every broker's log and the clients' histories; none when absent. */
  logsDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

export const DEFAULT_OPTIONS: FaultRunOptions = {
  brokers: 3,
  partitions: 6,
  minInsyncReplicas: 2,
  acks: 'all',
  unclean: false,
  producers: 2,
  rate: 100,
  rounds: 1,
  faults: [...FAULT_KINDS],
  faultMs: 4000,
  recoveryMs: 4000,
  warmupMs: 3000,
  settleMs: 5000,
  sessionTimeoutMs: 6000,
  lagTimeMs: 6000,
  seed: 1,
};

const TOPIC = 'faults';
/** How long the replicas may take to agree once the workload has stopped. */
const CONVERGE_TIMEOUT_MS = 60_000;

export interface FaultSummary {
  kind: FaultKind;
  what: string;
  /** Seconds into the run. */
  atS: number;
  /** How long until it was healed. */
  healedAfterS: number;
  /** From each disruption until every partition acknowledged a message sent after it, the longest; null: some never did. */
  recoveredAfterS: number | null;
  /** Acknowledged messages lost whose acknowledgement came before this fault was healed and after the one before. */
  lost: number;
  notes: string[];
}

export interface FaultRunReport {
  settings: Omit<FaultRunOptions, 'log' | 'logsDir'>;
  durationS: number;
  loadAverage: { start: number[]; end: number[] };
  rounds: number;
  faults: FaultSummary[];
  faultsByKind: Partial<Record<FaultKind, number>>;
  messages: {
    sent: number;
    acked: number;
    failed: number;
    read: number;
    lost: number;
    misplaced: number;
    duplicated: number;
    unackedPresent: number;
    unknown: number;
    offsetConflicts: number;
    outOfOrder: number;
    gaps: number;
  };
  /** The first few of each kind of finding, for the reader. */
  examples: Omit<Findings, 'acked' | 'unackedPresent'>;
  failureReasons: Record<string, number>;
  producers: ProducerOutcome[];
  replicas: PartitionReplicas[];
  /** What breaks the guarantees these settings promise: the run fails. */
  violations: string[];
  /** Losses these settings allow, shown as the trade-off they are. */
  allowed: string[];
}

/** Whether these settings promise that no acknowledged message is lost (docs/replication.md). */
export function promisesNoLoss(o: Pick<FaultRunOptions, 'acks' | 'unclean'>): boolean {
  return o.acks === 'all' && !o.unclean;
}

/** A seeded generator (mulberry32): a run's choices of partitions and brokers can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A fault-injection run: etcd and `brokers` brokers in network namespaces, a topic of
 * `partitions` partitions on every broker, the workload producing and reading throughout, the
 * faults one after another with recovery time between them, then a settle period, a check that
 * every replica caught up byte for byte, a read of every partition from its start, and the
 * checks of what was acknowledged against what was read.
 */
export async function runFaultInjection(options: Partial<FaultRunOptions> = {}): Promise<FaultRunReport> {
  const o: FaultRunOptions = { ...DEFAULT_OPTIONS, ...options };
  const started = Date.now();
  const say = (line: string): void => o.log?.(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const loadStart = loadavg();
  const cluster = await startCluster({
    brokers: o.brokers,
    addresses: 'netns',
    overrides: {
      'broker.session.timeout.ms': String(o.sessionTimeoutMs),
      'replica.lag.time.max.ms': String(o.lagTimeMs),
      'replica.fetch.backoff.ms': '500',
      'auto.create.topics.enable': 'false',
      'offsets.topic.num.partitions': '1',
    },
  });
  let workload: Workload | null = null;
  let nemesis: Nemesis | null = null;
  try {
    say(`cluster up: brokers ${cluster.bootstrap.join(', ')}, etcd ${cluster.etcd.endpoint}`);
    await createTopic(cluster, o);
    const bootstrap = cluster.bootstrap.join(',');
    workload = new Workload({ bootstrap, topic: TOPIC, partitions: o.partitions, producers: o.producers, rate: o.rate, acks: o.acks });
    nemesis = new Nemesis(cluster, { topic: TOPIC, partitions: o.partitions, sessionTimeoutMs: o.sessionTimeoutMs, lagTimeMs: o.lagTimeMs, faultMs: o.faultMs, random: seeded(o.seed), log: say });
    await sleep(o.warmupMs);
    say(`workload running: ${workload.ackCount} acks so far`);

    const faults: FaultRecord[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const kind of o.faults) {
        say(`round ${round}: ${kind}`);
        const fault = await nemesis.inject(kind);
        faults.push(fault);
        say(`${kind} healed after ${((fault.healedMs - fault.startMs) / 1000).toFixed(1)} s${fault.notes.length ? `; ${fault.notes.join('; ')}` : ''}; ${workload.ackCount} acks so far`);
        await sleep(o.recoveryMs);
      }
    }
    await sleep(o.settleMs);
    const lateDeaths = nemesis.deaths();
    await nemesis.healAll();
    say('stopping the workload');
    const history = await workload.stop();
    workload = null;
    say(`${history.acked.length} acks, ${history.failures.length} failed deliveries, ${history.observed.length} records seen by the reader; waiting for the replicas to agree`);
    const replicas = await convergedReplicas(cluster, o.partitions);
    say('reading every partition from the start');
    const final = await consumePython('confluent', bootstrap, TOPIC, 120);
    const findings = check({ acked: history.acked, ...senders(history.ranges), observed: history.observed, final });
    if (o.logsDir) keepLogs(o.logsDir, nemesis, { history, final, faults });

    const ackTimes = new Map(history.acked.map((a) => [a.value, a.reportedMs]));
    const lostIn = faults.map(() => 0);
    for (const l of findings.lost) {
      const i = faults.findIndex((f) => ackTimes.get(l.value)! <= f.healedMs);
      if (i >= 0) lostIn[i]++;
    }
    const summaries = faults.map((f, i): FaultSummary => {
      const recoveries = f.disruptions.map((d) => recoveryMs(d, history.acked));
      const recovered = recoveries.includes(null) ? null : Math.max(0, ...(recoveries as number[]));
      const s = (ms: number): number => Math.round(ms / 100) / 10;
      return {
        kind: f.kind,
        what: f.what,
        atS: s(f.startMs - started),
        healedAfterS: s(f.healedMs - f.startMs),
        recoveredAfterS: recovered === null ? null : s(recovered),
        lost: lostIn[i],
        notes: f.notes,
      };
    });
    if (lateDeaths.length > 0) summaries.at(-1)?.notes.push(...lateDeaths.map((d) => `${d} after the last fault`));
    const report = buildReport(o, { started, loadStart, summaries, history, findings, replicas, final: final.length });
    say(report.violations.length === 0 ? 'no violations' : `${report.violations.length} violations`);
    return report;
  } catch (e) {
    if (o.logsDir && nemesis) keepLogs(o.logsDir, nemesis, {});
    throw e;
  } finally {
    await workload?.kill();
    await cluster.close();
  }
}

async function createTopic(cluster: TestCluster, o: FaultRunOptions): Promise<void> {
  const admin = new Kafka({ clientId: 'fault-injection', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const configEntries = [
      { name: 'min.insync.replicas', value: String(o.minInsyncReplicas) },
      { name: 'unclean.leader.election.enable', value: String(o.unclean) },
      // Several segments per partition: the replicas' rolls and truncations are compared too.
      { name: 'segment.bytes', value: String(64 * 1024) },
    ];
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: o.partitions, replicationFactor: o.brokers, configEntries }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const { reached } = await waitForViews(cluster, TOPIC, fullIsr, 30_000);
  if (!reached) throw new Error(`topic ${TOPIC}: the in-sync replicas were not full 30 s after its creation\n${cluster.logs()}`);
}

/**
 * The replicas of every partition once they agree: every replica in the ISR with the same log
 * end on disk, compared byte for byte. Followers may lag a moment behind the leader, so this
 * waits for them (the workload has stopped, so the logs stop growing); replicas that are caught
 * up but differ are given the same time to mend (a follower's truncation may be under way),
 * and are reported as they are at the deadline.
 */
async function convergedReplicas(cluster: TestCluster, partitions: number): Promise<PartitionReplicas[]> {
  const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
  for (;;) {
    const views = await viewsOf(cluster, TOPIC);
    const states = Array.from({ length: partitions }, (_, i) => agreedState(views, i));
    const replicas = states.map((state, i) => partitionReplicas(i, state, (broker) => join(cluster.logDir(broker), `${TOPIC}-${i}`)));
    if (replicas.every((r) => r.identical) || Date.now() > deadline) return replicas;
    await sleep(500);
  }
}

/** A partition's state if every broker that answered says the same of it; else one without a leader. */
function agreedState(views: Map<number, PartitionState[]>, partition: number): PartitionState {
  const seen = [...views.values()].map((v) => v.find((p) => p.partition === partition));
  const first = seen[0];
  const agree = first !== undefined && seen.every((p) => p && p.leader === first.leader && p.isr.join() === first.isr.join());
  return agree ? first : { partition, leader: -1, leaderEpoch: -1, replicas: first?.replicas ?? [], isr: [] };
}

function keepLogs(dir: string, nemesis: Nemesis, data: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  for (const [id, lines] of nemesis.logs()) writeFileSync(join(dir, `broker-${id}.log`), lines.join('\n') + '\n');
  for (const [name, value] of Object.entries(data)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(value));
}

interface Outcome {
  started: number;
  loadStart: number[];
  summaries: FaultSummary[];
  history: Awaited<ReturnType<Workload['stop']>>;
  findings: Findings;
  replicas: PartitionReplicas[];
  final: number;
}

const EXAMPLES = 10;

function buildReport(o: FaultRunOptions, r: Outcome): FaultRunReport {
  const f = r.findings;
  const { log: _log, logsDir: _dir, ...settings } = o;
  const faultsByKind: FaultRunReport['faultsByKind'] = {};
  for (const s of r.summaries) faultsByKind[s.kind] = (faultsByKind[s.kind] ?? 0) + 1;
  const failureReasons: Record<string, number> = {};
  for (const x of r.history.failures) failureReasons[x.error] = (failureReasons[x.error] ?? 0) + 1;

  const violations: string[] = [];
  const allowed: string[] = [];
  const lossy = (what: string, count: number, expected: boolean): void => {
    if (count > 0) (expected ? allowed : violations).push(what);
  };
  const safe = promisesNoLoss(o);
  lossy(`${f.lost.length} acknowledged messages lost`, f.lost.length, !safe);
  lossy(`${f.misplaced.length} acknowledged messages found at another offset than acknowledged`, f.misplaced.length, !safe);
  lossy(`${f.conflicts.length} offsets held different records at different times`, f.conflicts.length, !safe);
  // Without idempotence a retry of a batch that was written after all is written again.
  lossy(`${f.duplicated.length} messages written more than once`, f.duplicated.length, o.acks === '1');
  lossy(`${f.outOfOrder.length} messages out of their producer's order`, f.outOfOrder.length, false);
  lossy(`${f.unknown.length} records that no producer sent`, f.unknown.length, false);
  lossy(`${f.gaps.length} gaps in the offsets`, f.gaps.length, false);
  const diverged = r.replicas.filter((p) => !p.identical);
  if (diverged.length > 0) {
    violations.push(`replicas of partitions ${diverged.map((p) => `${p.partition} (${p.caughtUp ? 'caught up, different bytes' : 'not caught up'})`).join(', ')} are not identical ${CONVERGE_TIMEOUT_MS / 1000} s after the workload stopped`);
  }
  const unrecovered = r.summaries.filter((s) => s.recoveredAfterS === null);
  if (unrecovered.length > 0) violations.push(`${unrecovered.length} faults after which some partition never acknowledged a write again: ${unrecovered.map((s) => s.kind).join(', ')}`);
  const died = r.summaries.flatMap((s) => s.notes.filter((n) => n.includes('exited')));
  if (died.length > 0) violations.push(`brokers that exited on their own or uncleanly: ${died.join('; ')}`);

  return {
    settings,
    durationS: Math.round((Date.now() - r.started) / 100) / 10,
    loadAverage: { start: r.loadStart.map(round2), end: loadavg().map(round2) },
    rounds: o.rounds,
    faults: r.summaries,
    faultsByKind,
    messages: {
      sent: r.history.ranges.reduce((n, x) => n + x.count, 0),
      acked: f.acked,
      failed: r.history.failures.length,
      read: r.final,
      lost: f.lost.length,
      misplaced: f.misplaced.length,
      duplicated: f.duplicated.length,
      unackedPresent: f.unackedPresent,
      unknown: f.unknown.length,
      offsetConflicts: f.conflicts.length,
      outOfOrder: f.outOfOrder.length,
      gaps: f.gaps.length,
    },
    examples: {
      lost: f.lost.slice(0, EXAMPLES),
      misplaced: f.misplaced.slice(0, EXAMPLES),
      duplicated: f.duplicated.slice(0, EXAMPLES),
      unknown: f.unknown.slice(0, EXAMPLES),
      conflicts: f.conflicts.slice(0, EXAMPLES),
      outOfOrder: f.outOfOrder.slice(0, EXAMPLES),
      gaps: f.gaps.slice(0, EXAMPLES),
    },
    failureReasons,
    producers: r.history.producers,
    replicas: r.replicas,
    violations,
    allowed,
  };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
