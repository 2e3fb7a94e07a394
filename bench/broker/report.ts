import { fmt, table } from '../support/measure.js';
import type { Baseline } from './baselines.js';
import type { Stretches } from './cpuprofile.js';
import type { PhaseProfile } from './profile.js';
import type { PhaseResult } from './phases.js';

/** The targets of the broker performance issue, checked against the measured phases. */

export const TARGETS = {
  produce100MsgsPerSec: 1_000_000,
  consume100MsgsPerSec: 2_000_000,
  /**
   * 1.5 GB/s of 1 KiB message payload, decimal megabytes, or one loopback TCP stream when that
   * is slower: checked on the raw fetch, since librdkafka's parsing is the limit before the broker.
   */
  consume1KiBMbPerSec: 1500,
  /** Any other phase streaming at full speed. */
  brokerCpuSecondsPerMillion: 0.5,
  /** 100 B produce, acks=1. */
  produce100CpuSecondsPerMillion: 0.25,
  /** 1 KiB produce: broker CPU per GB over the raw sequential write's of the same bytes. */
  produce1KiBCpuOverRawWrite: 1.3,
  brokerRssMB: 200,
  /** Paced produce, 100 B, acks=1, linger 0 (produce call to delivery report). */
  pacedP99Ms: 2,
  pacedP999Ms: 5,
  /** Produce call to consumer receipt. */
  endToEndP99Ms: 3,
};

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchReport {
  date: string;
  command: string;
  seconds: number;
  machine: Record<string, string | number>;
  broker: { fetchTransfer: string; nativeAddon: string; partitions: number; consumers: number; settings: Record<string, string> };
  phases: PhaseResult[];
  baselines: Baseline[];
  targets: TargetCheck[];
  profiles: PhaseProfile[] | null;
}

/** Phase names the targets refer to; the orchestrator uses the same ones. */
export const PHASE = {
  produce100: 'produce 100 B acks=1',
  consume100: 'consume 100 B',
  produce1KiB: 'produce 1 KiB acks=1',
  consume1KiB: 'consume 1 KiB',
  fetch100Raw: 'fetch 100 B (raw)',
  fetch1KiBRaw: 'fetch 1 KiB (raw)',
  produce100All: 'produce 100 B acks=all',
} as const;

const rateLabel = (rate: number): string => `${rate.toLocaleString('en-US')}/s`;
export const pacedPhase = (rate: number): string => `produce 100 B acks=1 paced ${rateLabel(rate)}`;
export const endToEndPhase = (rate: number): string => `end to end 100 B acks=1 paced ${rateLabel(rate)}`;

const gbps = (mbPerSec: number): string => `${fmt(mbPerSec / 1000)} GB/s`;

export function checkTargets(phases: readonly PhaseResult[], baselines: readonly Baseline[]): TargetCheck[] {
  const byName = new Map(phases.map((p) => [p.name, p]));
  const checks: TargetCheck[] = [];
  const rate = (name: string, min: number, label: string): void => {
    const p = byName.get(name);
    if (p) checks.push({ target: `${label} >= ${fmt(min)} msgs/s`, measured: `${fmt(p.msgsPerSec)} msgs/s`, met: p.msgsPerSec >= min });
  };
  rate(PHASE.produce100, TARGETS.produce100MsgsPerSec, 'produce 100 B, acks=1');
  rate(PHASE.consume100, TARGETS.consume100MsgsPerSec, 'consume 100 B');
  const raw1k = byName.get(PHASE.fetch1KiBRaw);
  if (raw1k) {
    const tcp = loopbackOf(baselines);
    const goal = Math.min(TARGETS.consume1KiBMbPerSec, tcp?.mbPerSec ?? Infinity);
    const consumed = byName.get(PHASE.consume1KiB);
    checks.push({
      target: `consume 1 KiB (raw fetch) >= ${gbps(goal)}: ${gbps(TARGETS.consume1KiBMbPerSec)}${tcp ? ` or loopback TCP ${gbps(tcp.mbPerSec)}, the lower` : ''}`,
      measured: `${gbps(raw1k.mbPerSec)}${consumed ? ` (librdkafka ${gbps(consumed.mbPerSec)})` : ''}`,
      met: raw1k.mbPerSec >= goal,
    });
  }
  // The CPU budget is for streaming at full speed; a paced run spends more per message by design.
  const disk = rawWriteOf(baselines, phases);
  for (const p of phases.filter((x) => x.rate === null)) {
    const cpu = p.broker.cpuSecondsPerMillion;
    if (p.name === PHASE.produce1KiB) {
      if (!disk) continue;
      const rawPerGB = disk.cpuSeconds / (disk.bytes / 1e9);
      const ratio = cpuPerGB(p) / rawPerGB;
      checks.push({
        target: `broker CPU per GB <= ${TARGETS.produce1KiBCpuOverRawWrite}x the raw write's (${p.name})`,
        measured: `${fmt(cpuPerGB(p))} vs ${fmt(rawPerGB)} s/GB (${fmt(ratio)}x)`,
        met: ratio <= TARGETS.produce1KiBCpuOverRawWrite,
      });
      continue;
    }
    const budget = p.name === PHASE.produce100 ? TARGETS.produce100CpuSecondsPerMillion : TARGETS.brokerCpuSecondsPerMillion;
    checks.push({ target: `broker CPU <= ${budget} s per million msgs (${p.name})`, measured: `${fmt(cpu)} s`, met: cpu <= budget });
  }
  for (const p of phases.filter((x) => x.rate !== null && x.latencyUs)) {
    const l = p.latencyUs!;
    if (p.endToEndUs) {
      const e = p.endToEndUs;
      checks.push({ target: `end-to-end p99 <= ${TARGETS.endToEndP99Ms} ms (${p.name})`, measured: `${ms(e.p99)} ms (max ${ms(e.max)})`, met: e.p99 <= TARGETS.endToEndP99Ms * 1e3 });
      continue;
    }
    checks.push({
      target: `p99 <= ${TARGETS.pacedP99Ms} ms, p999 <= ${TARGETS.pacedP999Ms} ms (${p.name})`,
      measured: `${ms(l.p99)} / ${ms(l.p999)} ms (max ${ms(l.max)})`,
      met: l.p99 <= TARGETS.pacedP99Ms * 1e3 && l.p999 <= TARGETS.pacedP999Ms * 1e3,
    });
  }
  if (phases.length > 0) {
    const peak = Math.max(...phases.map((p) => p.broker.peakRssMB));
    checks.push({ target: `broker RSS < ${TARGETS.brokerRssMB} MB (peak of all phases)`, measured: `${fmt(peak)} MB`, met: peak < TARGETS.brokerRssMB });
  }
  return checks;
}

const ms = (us: number | undefined): string => (us === undefined ? '-' : fmt(us / 1e3));
export const pct = (x: number): string => `${Math.round(x * 100)}%`;

/** The columns a phase table starts with: what ran, how fast, how late, for how much CPU of `brokers`. */
export function phaseColumns(brokers: string): string[] {
  return ['phase', 'msgs', 'msgs/s', 'MB/s', 'p50 ms', 'p99 ms', 'p999 ms', `${brokers} CPU s/M msgs`, 'user/sys'];
}

export function phaseCells(p: PhaseResult): string[] {
  const cpu = p.broker.cpuUserSeconds + p.broker.cpuSystemSeconds;
  return [
    p.name,
    p.msgs.toLocaleString('en-US'),
    fmt(p.msgsPerSec),
    fmt(p.mbPerSec),
    ms(p.latencyUs?.p50),
    ms(p.latencyUs?.p99),
    ms(p.latencyUs?.p999),
    fmt(p.broker.cpuSecondsPerMillion),
    cpu > 0 ? `${pct(p.broker.cpuUserSeconds / cpu)}/${pct(p.broker.cpuSystemSeconds / cpu)}` : '-',
  ];
}

function formatPhases(phases: readonly PhaseResult[]): string {
  return table(
    [...phaseColumns('broker'), 'broker peak RSS MB', 'loadgen CPU', 'others CPU'],
    phases.map((p) => [...phaseCells(p), fmt(p.broker.peakRssMB), pct(p.loadgen.cpuOfWall), pct(p.othersShare)]),
  );
}

/** The paced runs' tails: every percentile the targets name, and the worst record. */
function formatTail(phases: readonly PhaseResult[]): string {
  const rows: string[][] = [];
  for (const p of phases.filter((x) => x.rate !== null && x.latencyUs)) {
    const cells = (what: string, l: NonNullable<PhaseResult['latencyUs']>): string[] => [p.name, what, fmt(p.msgsPerSec), ms(l.p50), ms(l.p99), ms(l.p999), ms(l.max), fmt(p.broker.cpuSecondsPerMillion), pct(p.othersShare)];
    rows.push(cells('produce call to delivery report', p.latencyUs!));
    if (p.endToEndUs) rows.push(cells('produce call to consumer receipt', p.endToEndUs));
  }
  return table(['tail latency', 'measured', 'msgs/s', 'p50 ms', 'p99 ms', 'p999 ms', 'max ms', 'broker CPU s/M msgs', 'others CPU'], rows);
}

const loopbackOf = (baselines: readonly Baseline[]): Baseline | undefined => baselines.find((b) => b.name.startsWith('loopback'));
/** The raw write of as many bytes as the 1 KiB produce phase wrote. */
const rawWriteOf = (baselines: readonly Baseline[], phases: readonly PhaseResult[]): Baseline | undefined =>
  baselines.find((b) => b.name.startsWith('disk') && b.bytes === phases.find((p) => p.name === PHASE.produce1KiB)?.bytes);
const cpuPerGB = (p: PhaseResult): number => (p.broker.cpuUserSeconds + p.broker.cpuSystemSeconds) / (p.bytes / 1e9);

function formatBaselines(baselines: readonly Baseline[], phases: readonly PhaseResult[]): string {
  const rows = baselines.map((b) => [b.name, `${fmt(b.bytes / 1e6)} MB`, fmt(b.mbPerSec), fmt(b.cpuSeconds), fmt(b.cpuSeconds / (b.bytes / 1e9))]);
  const lines = [table(['baseline (same run)', 'bytes', 'MB/s', 'CPU s', 'CPU s/GB'], rows)];
  const disk = rawWriteOf(baselines, phases);
  const tcp = loopbackOf(baselines);
  const p1k = phases.find((p) => p.name === PHASE.produce1KiB);
  const c1k = phases.find((p) => p.name === PHASE.consume1KiB);
  const raw1k = phases.find((p) => p.name === PHASE.fetch1KiBRaw);
  if (disk && p1k) {
    lines.push(
      `produce 1 KiB reaches ${pct(p1k.mbPerSec / disk.mbPerSec)} of the raw sequential write of the same bytes; ` +
        `broker CPU ${fmt(cpuPerGB(p1k))} s/GB vs ${fmt(disk.cpuSeconds / (disk.bytes / 1e9))} s/GB for the raw write alone`,
    );
  }
  if (tcp && c1k) lines.push(`consume 1 KiB reaches ${pct(c1k.mbPerSec / tcp.mbPerSec)} of one loopback TCP stream`);
  if (tcp && raw1k) {
    lines.push(
      `fetch 1 KiB (raw) reaches ${pct(raw1k.mbPerSec / tcp.mbPerSec)} of one loopback TCP stream; ` +
        `broker CPU ${fmt(cpuPerGB(raw1k))} s/GB of payload vs ${fmt(tcp.cpuSeconds / (tcp.bytes / 1e9))} s/GB for both ends of the stream`,
    );
  }
  return lines.join('\n');
}

function formatTargets(checks: readonly TargetCheck[]): string {
  return table(
    ['target (issue)', 'measured', 'verdict'],
    checks.map((c) => [c.target, c.measured, c.met ? 'met' : 'MISSED']),
  );
}

/** C++ template arguments make V8's symbols hundreds of characters long; the name is enough. */
function shortSymbol(symbol: string): string {
  const full = symbol.replace(/file:\/\/\S*\/dist\//, 'dist/');
  let out = '';
  let depth = 0;
  for (const ch of full) {
    if (ch === '<') depth++;
    if (depth === 0) out += ch;
    if (ch === '>' && depth > 0 && --depth === 0) out += '<>';
  }
  // Unbalanced brackets ("operator<"): not a template, keep the text.
  if (depth !== 0) out = full;
  return out.length > 110 ? `${out.slice(0, 107)}...` : out;
}

/** Beyond this idle share of the main thread a phase's profile is too thin to summarise. */
const MOSTLY_IDLE = 0.9;

const share = (s: { name: string; percent: number }): string => `    ${s.percent.toFixed(1).padStart(5)}%  ${s.name}`;

/** What a paced phase's tail waited behind: the main thread's long busy stretches and the gaps when it got no CPU. */
export function formatStretches(s: Stretches): string[] {
  return [
    `  main thread busy without a break for >= ${s.thresholdMs} ms: ${s.busy.count} times, ${fmt(s.busy.totalMs)} ms in all, longest ${fmt(s.busy.maxMs)} ms, GC ${fmt(s.busy.gcMs)} ms of it`,
    `  sampling gaps >= ${s.thresholdMs} ms (the process got no CPU): ${s.gaps.count}, ${fmt(s.gaps.totalMs)} ms in all, longest ${fmt(s.gaps.maxMs)} ms`,
    ...(s.busy.count > 0 ? ['  what the long busy stretches ran (self time):', ...s.busyTop.map(share)] : []),
  ];
}

export function formatProfile(p: PhaseProfile): string {
  const lines = [`where the time goes: ${p.phase} (under the profilers: ${fmt(p.msgsPerSec)} msgs/s, broker ${fmt(p.brokerCpuSecondsPerMillion)} s CPU per M msgs)`];
  if (p.stretches) {
    const l = p.latencyUs;
    lines.push(`  tail under the profilers: p50 ${ms(l?.p50)}, p99 ${ms(l?.p99)}, p999 ${ms(l?.p999)}, max ${ms(l?.max)} ms`, ...formatStretches(p.stretches));
  }
  const idle = typeof p.js === 'string' ? 0 : p.js.idleMs / Math.max(1, p.js.idleMs + p.js.busyMs);
  if (typeof p.js === 'string') lines.push(`  JS profile: ${p.js}`);
  else if (idle > MOSTLY_IDLE) {
    // A few dozen samples say nothing reliable about where time goes.
    const [whose, who] = p.js.profiles > 1 ? [`the ${p.js.profiles} brokers' main threads were`, 'the brokers were'] : ["the broker's main thread was", 'the broker was'];
    lines.push(`  ${whose} idle ${pct(idle)} of the phase (busy ${fmt(p.js.busyMs)} ms): ${who} not what limited this phase`);
    return lines.join('\n');
  } else {
    const j = p.js;
    lines.push(
      `  V8 CPU profile of the ${j.profiles > 1 ? `main threads of ${j.profiles} brokers, added up` : 'main thread'}${j.windowed ? '' : ' (whole run: the phase window missed the profile)'}: busy ${fmt(j.busyMs)} ms, idle ${fmt(j.idleMs)} ms`,
      '  by area (self time, % of busy):',
      ...j.areas.slice(0, 10).map(share),
      '  top functions by self time:',
      ...j.topSelf.slice(0, 15).map(share),
      '  sluice functions by inclusive time:',
      ...j.topInclusive.slice(0, 10).map(share),
    );
  }
  if (typeof p.perf === 'string') lines.push(`  perf: ${p.perf}`);
  else if (p.perf && p.perf.top.length === 0) lines.push('  perf record: no symbol reached 1% of the samples (or perf report read none)');
  else if (p.perf) {
    lines.push(
      `  perf record, all threads, kernel included (${p.perf.copyPercent.toFixed(1)}% of samples in memory copies):`,
      ...p.perf.top.slice(0, 15).map((s) => `    ${s.percent.toFixed(1).padStart(5)}%  [${s.space}] ${shortSymbol(s.symbol)}`),
    );
  }
  return lines.join('\n');
}

export function formatReport(r: BenchReport): string {
  const m = r.machine;
  const header =
    `sluice broker bench, ${r.date}: ${r.command}\n` +
    `node ${m.node}, Linux ${m.kernel}, ${m.cpus}, ${m.memory} RAM; data on ${m.fsType}; ` +
    `load average ${m.loadAverageAtStart} at start, ${m.loadAverageAtEnd} at end; ${fmt(r.seconds)} s\n` +
    `broker: compiled build, ${r.broker.partitions} partition(s) per topic, fetch transfer ${r.broker.fetchTransfer}, native addon ${r.broker.nativeAddon}` +
    `${Object.entries(r.broker.settings).map(([k, v]) => `, ${k}=${v}`).join('')}; broker and load generator at ${m.priority} priority\n` +
    `load generator: librdkafka, one producer (linger.ms=5, batch.size=1000000, no compression), ${r.broker.consumers} consumer thread(s); ` +
    '"(raw)" fetch phases: one thread, one socket, Fetch v4 of up to 16 MiB, one request in flight per partition, batch headers walked and records not parsed; ' +
    'latency = produce call to delivery report (the "paced" runs: linger.ms=0 at a fixed rate, so no queueing; "end to end": to receipt by a consumer in the same process, same clock); ' +
    '"loadgen CPU" = its CPU / wall (100% = one core); ' +
    '"others CPU" = processes outside the benchmark, share of all CPUs';
  const parts = [header, formatPhases(r.phases), formatTail(r.phases)];
  if (r.baselines.length > 0) parts.push(formatBaselines(r.baselines, r.phases));
  parts.push(formatTargets(r.targets));
  if (r.profiles) parts.push(...r.profiles.map(formatProfile));
  return parts.join('\n\n');
}
