import { formatProfile, pct, phaseCells, phaseColumns, type TargetCheck } from '../broker/report.js';
import type { PhaseProfile } from '../broker/profile.js';
import type { PhaseResult } from '../broker/phases.js';
import { fmt, table } from '../support/measure.js';
import type { MetricsDelta } from './broker-metrics.js';
import type { TopicState } from './topics.js';

/** What replication costs, against the cluster issue's targets. */

export const TARGETS = {
  /** RF=3 acks=all throughput as a share of RF=1 acks=1, same record size. */
  replicatedShare: 0.5,
  /** p99 produce latency at half of the setup's own peak rate. */
  pacedP99Ms: 10,
};

/** A target missed by more than this factor (a share below target / 1.25, a latency above target x 1.25) is worth a profile. */
const BADLY = 1.25;

export type SetupKey = 'rf1' | 'rf3';

export interface Setup {
  key: SetupKey;
  label: string;
  replicationFactor: number;
  acks: '1' | '-1';
  configs: Record<string, string>;
}

export interface ClusterPhase extends PhaseResult {
  mode: 'peak' | 'consume' | 'paced';
  setup: SetupKey;
  /** "100 B" or "1 KiB". */
  sizeLabel: string;
  /** Of a paced run: the rate asked for, half of the same setup's peak. */
  requestedRate: number | null;
  /** "ISR shrunk" lines the brokers logged during the phase: a follower that fell behind is no longer waited for. */
  isrShrinks: number;
  /** What the brokers' /metrics counted over the phase, added up; null when one did not answer. */
  metrics: MetricsDelta | null;
  loadAverage: number;
}

export interface ClusterTargetCheck extends TargetCheck {
  /** Missed by more than the factor BADLY: the profiling pass runs. */
  missedBadly: boolean;
}

/** The brokers with every topic in sync and no load. */
export interface IdleCost {
  seconds: number;
  /** The three brokers' CPU added up. */
  brokerCpuSeconds: number;
  /** Fetch requests the brokers answered meanwhile (followers'), null if /metrics did not answer. */
  fetchRequests: number | null;
}

export interface ClusterBenchReport {
  date: string;
  command: string;
  seconds: number;
  machine: Record<string, string | number>;
  cluster: {
    brokers: { id: number; bootstrap: string }[];
    etcd: string;
    partitions: number;
    consumers: number;
    pacedLingerMs: number;
    setups: Setup[];
    settings: Record<string, string>;
    topics: TopicState[];
    /** Of the replicated topics after the produce phases: partitions whose ISR lacked a replica. */
    underReplicatedAfter: number;
    idle: IdleCost;
  };
  phases: ClusterPhase[];
  targets: ClusterTargetCheck[];
  profiles: PhaseProfile[] | null;
}

const each = (values: number[]): string => values.map((v) => fmt(v)).join(' / ');
const count = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : n.toLocaleString('en-US'));

export function checkTargets(phases: readonly ClusterPhase[], setups: readonly Setup[]): ClusterTargetCheck[] {
  const [plain, replicated] = setups;
  const checks: ClusterTargetCheck[] = [];
  for (const size of [...new Set(phases.map((p) => p.sizeLabel))]) {
    const peak = (key: SetupKey): ClusterPhase | undefined => phases.find((p) => p.mode === 'peak' && p.setup === key && p.sizeLabel === size);
    const a = peak(plain.key);
    const b = peak(replicated.key);
    if (a && b) {
      const share = b.msgsPerSec / a.msgsPerSec;
      checks.push({
        target: `produce ${size}: ${replicated.label} >= ${pct(TARGETS.replicatedShare)} of ${plain.label} msgs/s`,
        measured: `${pct(share)} (${fmt(b.msgsPerSec)} vs ${fmt(a.msgsPerSec)})`,
        met: share >= TARGETS.replicatedShare,
        missedBadly: share < TARGETS.replicatedShare / BADLY,
      });
    }
    for (const p of phases.filter((x) => x.mode === 'paced' && x.sizeLabel === size)) {
      const p99Ms = p.latencyUs!.p99 / 1e3;
      checks.push({
        target: `p99 produce latency <= ${TARGETS.pacedP99Ms} ms at half of peak (${size}, ${setups.find((s) => s.key === p.setup)!.label})`,
        measured: `${fmt(p99Ms)} ms`,
        met: p99Ms <= TARGETS.pacedP99Ms,
        missedBadly: p99Ms > TARGETS.pacedP99Ms * BADLY,
      });
    }
  }
  return checks;
}

function formatPhases(phases: readonly ClusterPhase[]): string {
  return table(
    [
      ...phaseColumns('brokers'),
      'CPU s b1 / b2 / b3',
      'peak RSS MB b1 / b2 / b3',
      'Produce reqs',
      'Fetch reqs',
      'major GCs',
      'GC s',
      'etcd CPU s',
      'loadgen CPU',
      'others CPU',
      'ISR shrinks',
      'load avg',
    ],
    phases.map((p) => [
      ...phaseCells(p),
      each(p.broker.each.map((b) => b.cpuSeconds)),
      each(p.broker.each.map((b) => b.peakRssMB)),
      count(p.metrics?.requests.Produce),
      count(p.metrics?.requests.Fetch),
      count(p.metrics && (p.metrics.gc.major?.count ?? 0)),
      p.metrics ? fmt(Object.values(p.metrics.gc).reduce((sum, k) => sum + k.seconds, 0)) : '-',
      fmt(p.supportCpuSeconds),
      pct(p.loadgen.cpuOfWall),
      pct(p.othersShare),
      String(p.isrShrinks),
      fmt(p.loadAverage),
    ]),
  );
}

/** What the replicated setup costs per record beside the plain one, size by size. */
function formatCost(phases: readonly ClusterPhase[], setups: readonly Setup[]): string {
  const [plain, replicated] = setups;
  const rows = [...new Set(phases.map((p) => p.sizeLabel))].flatMap((size) => {
    const find = (mode: ClusterPhase['mode'], key: SetupKey): ClusterPhase | undefined => phases.find((p) => p.mode === mode && p.setup === key && p.sizeLabel === size);
    const a = find('peak', plain.key);
    const b = find('peak', replicated.key);
    const pa = find('paced', plain.key);
    const pb = find('paced', replicated.key);
    if (!a || !b) return [];
    return [
      [
        size,
        pct(b.msgsPerSec / a.msgsPerSec),
        `${fmt(b.broker.cpuSecondsPerMillion / a.broker.cpuSecondsPerMillion)}x`,
        pa && pb ? `${fmt(pa.latencyUs!.p50 / 1e3)} -> ${fmt(pb.latencyUs!.p50 / 1e3)}` : '-',
        pa && pb ? `${fmt(pa.latencyUs!.p99 / 1e3)} -> ${fmt(pb.latencyUs!.p99 / 1e3)}` : '-',
      ],
    ];
  });
  return table([`${replicated.label} vs ${plain.label}`, 'throughput', 'brokers CPU per msg', 'paced p50 ms', 'paced p99 ms'], rows);
}

function formatTargets(checks: readonly ClusterTargetCheck[]): string {
  return table(
    ['target (issue)', 'measured', 'verdict'],
    checks.map((c) => [c.target, c.measured, c.met ? 'met' : c.missedBadly ? 'MISSED (badly)' : 'MISSED']),
  );
}

export function formatReport(r: ClusterBenchReport): string {
  const m = r.machine;
  const c = r.cluster;
  const layout = c.topics
    .map((t) => `${t.topic} (RF ${t.replicationFactor}, leaders ${Object.entries(t.leaders).map(([id, n]) => `b${id}:${n}`).join(' ')})`)
    .join(', ');
  const header =
    `sluice cluster bench, ${r.date}: ${r.command}\n` +
    `node ${m.node}, Linux ${m.kernel}, ${m.cpus}, ${m.memory} RAM; data on ${m.fsType}; ` +
    `load average ${m.loadAverageAtStart} at start, ${m.loadAverageAtEnd} at end; ${fmt(r.seconds)} s; brokers and load generator at ${m.priority} priority\n` +
    `cluster: etcd ${c.etcd} and ${c.brokers.length} compiled brokers (${c.brokers.map((b) => `b${b.id} ${b.bootstrap}`).join(', ')}), each its own process and data directory` +
    `${Object.entries(c.settings).map(([k, v]) => `, ${k}=${v}`).join('')}\n` +
    `topics, ${c.partitions} partitions each: ${layout}; ` +
    `${c.setups.map((s) => `${s.label}${Object.entries(s.configs).map(([k, v]) => ` ${k}=${v}`).join('')}`).join('; ')}\n` +
    `load generator: librdkafka, one producer (linger.ms=5, batch.size=1000000, no compression), ${c.consumers} consumer thread(s) reading from the leaders; ` +
    `latency = produce call to delivery report; "paced" = linger.ms=${c.pacedLingerMs} at half of the same setup's peak rate; ` +
    '"brokers CPU" = the three brokers\' CPU added up; from the brokers\' /metrics, added up: Produce and Fetch requests (Fetch: followers\' and consumers\'), ' +
    'mark-compacts ("major GCs") and time in GC pauses; ' +
    '"loadgen CPU" = its CPU / wall (100% = one core); ' +
    '"others CPU" = processes outside the benchmark, share of all CPUs; "load avg" = 1-minute load average after the phase';
  const after =
    c.underReplicatedAfter === 0
      ? 'every replicated partition had its full ISR after the produce phases'
      : `${c.underReplicatedAfter} replicated partition(s) had lost a replica from the ISR after the produce phases: acks=all waited for fewer replicas`;
  const i = c.idle;
  const idle = `idle, every topic in sync and no load, ${fmt(i.seconds)} s: brokers ${fmt(i.brokerCpuSeconds)} CPU s (${fmt((100 * i.brokerCpuSeconds) / i.seconds)}% of a core), ${i.fetchRequests === null ? '?' : count(i.fetchRequests)} Fetch requests`;
  const parts = [header, idle, `${formatPhases(r.phases)}\n${after}`, formatCost(r.phases, c.setups), formatTargets(r.targets)];
  if (r.profiles) parts.push(...r.profiles.map(formatProfile));
  return parts.join('\n\n');
}
