import { fmt, table } from '../support/measure.js';
import type { TargetCheck } from '../broker/report.js';
import type { ProfileSummary } from '../broker/cpuprofile.js';
import type { CreateTiming, MetadataTiming } from './admin.js';
import type { ScrapeTiming } from './scrape.js';
import type { DescriptorSamples } from './broker-proc.js';

/** The targets of the "running out of resources" issue for a broker with 30,000 partitions. */
export const TARGETS = {
  startSeconds: 10,
  rssMB: 600,
  metadataMs: 100,
  /** Produce spread over every partition, as a share of the same producers on one partition. */
  spreadShare: 0.5,
};

export interface StartTiming {
  what: string;
  /** From spawn to the broker's "broker started" line. */
  seconds: number;
  rssMB: number;
  loadAverage: number;
}

export interface StopTiming {
  what: string;
  /** From SIGTERM to the exit, or to the kill of a broker that took too long. */
  seconds: number;
  /** False when the benchmark gave up waiting and killed it. */
  completed: boolean;
  loadAverage: number;
}

export interface ProducePhase {
  name: string;
  producers: number;
  /** Partitions the records went to, at random, message by message. */
  partitions: number;
  msgs: number;
  bytes: number;
  /** From the first producer's first produce call to the last delivery report of all. */
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  /** The median of the producers' medians, and the worst producer's p99. */
  p50Ms: number;
  p99Ms: number;
  brokerCpuSecondsPerMillion: number;
  brokerPeakRssMB: number;
  loadgenCpuOfWall: number;
  descriptors: DescriptorSamples;
  loadAverage: number;
}

export interface PhaseProfile {
  step: string;
  summary: ProfileSummary | string;
}

export interface PartitionsBenchReport {
  date: string;
  command: string;
  seconds: number;
  machine: Record<string, string | number>;
  layout: { topics: string[]; partitionsPerTopic: number; partitions: number; logFiles: number; settings: Record<string, string>; brokerLimit: { soft: string; hard: string }; budget: number };
  starts: StartTiming[];
  creation: { perTopic: CreateTiming[]; seconds: number; rssMBAfter: number; loadAverage: number };
  metadata: MetadataTiming & { loadAverage: number };
  scrape: ScrapeTiming & { loadAverage: number };
  produce: ProducePhase[];
  /** Partitions holding records after the spread phases, of all of them. */
  spreadCoverage: { written: number; partitions: number };
  stops: StopTiming[];
  /** Records the logs held just before SIGKILL, and after the restart that recovered them. */
  killRecovery: { before: number; after: number };
  targets: TargetCheck[];
  profiles: PhaseProfile[] | null;
}

/** Phase names the targets refer to. */
export const PHASE = {
  onePartitionOne: '1 partition, 1 producer',
  oneTopicOne: '1 topic of many partitions, 1 producer',
  onePartitionAll: '1 partition, a producer per topic',
  spreadAll: 'all partitions, a producer per topic',
  spreadAgain: 'all partitions, after a clean restart',
} as const;

const loadgenCpuPerMillion = (p: ProducePhase): number => ((p.loadgenCpuOfWall * p.seconds) / p.msgs) * 1e6;

export function checkTargets(r: Omit<PartitionsBenchReport, 'targets' | 'profiles'>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const s of r.starts.slice(1)) {
    checks.push({ target: `start ${s.what} <= ${TARGETS.startSeconds} s`, measured: `${fmt(s.seconds)} s`, met: s.seconds <= TARGETS.startSeconds });
  }
  const rss = Math.max(...r.starts.slice(1).map((s) => s.rssMB));
  checks.push({ target: `broker RSS after start <= ${TARGETS.rssMB} MB (largest of the restarts)`, measured: `${fmt(rss)} MB`, met: rss <= TARGETS.rssMB });
  checks.push({
    target: `Metadata for all ${r.layout.partitions.toLocaleString('en-US')} partitions <= ${TARGETS.metadataMs} ms (median)`,
    measured: `${fmt(r.metadata.p50Ms)} ms`,
    met: r.metadata.p50Ms <= TARGETS.metadataMs,
  });
  const share = (spread: string, one: string): void => {
    const s = r.produce.find((p) => p.name === spread);
    const o = r.produce.find((p) => p.name === one);
    if (!s || !o) return;
    const x = s.msgsPerSec / o.msgsPerSec;
    // The producers share the machine's cores with the broker: which side's CPU per record grew
    // says which one held the rate back.
    const cpu = `CPU s/M msgs: broker ${fmt(s.brokerCpuSecondsPerMillion)} vs ${fmt(o.brokerCpuSecondsPerMillion)}, producers ${fmt(loadgenCpuPerMillion(s))} vs ${fmt(loadgenCpuPerMillion(o))}`;
    checks.push({ target: `produce "${spread}" >= ${TARGETS.spreadShare * 100}% of "${one}"`, measured: `${Math.round(x * 100)}% (${cpu})`, met: x >= TARGETS.spreadShare });
  };
  share(PHASE.spreadAll, PHASE.onePartitionAll);
  share(PHASE.oneTopicOne, PHASE.onePartitionOne);
  return checks;
}

const la = (x: number): string => fmt(x);

/** The broker's life in the order it ran: start, create, Metadata, stop, two restarts, stop. */
function formatLifecycle(r: PartitionsBenchReport): string {
  const start = (s: StartTiming): string[] => [`start, ${s.what}`, `${fmt(s.seconds)} s`, `RSS ${fmt(s.rssMB)} MB`, la(s.loadAverage)];
  const stop = (s: StopTiming): string[] => [`stop (SIGTERM), ${s.what}`, `${fmt(s.seconds)} s`, s.completed ? '' : 'NOT FINISHED: killed by the benchmark', la(s.loadAverage)];
  const m = r.metadata;
  return table(
    ['step', 'time', 'detail', 'load avg'],
    [
      start(r.starts[0]),
      ...r.creation.perTopic.map((c) => [`  CreateTopics ${c.topic}`, `${fmt(c.seconds)} s`, `${c.partitions.toLocaleString('en-US')} partitions`, '']),
      [`create all ${r.layout.partitions.toLocaleString('en-US')} partitions`, `${fmt(r.creation.seconds)} s`, `RSS after ${fmt(r.creation.rssMBAfter)} MB`, la(r.creation.loadAverage)],
      [
        `Metadata, all ${m.partitions.toLocaleString('en-US')} partitions (${m.samples} samples)`,
        `p50 ${fmt(m.p50Ms)} ms`,
        `p90 ${fmt(m.p90Ms)}, max ${fmt(m.maxMs)} ms; ${fmt(m.responseBytes / 1e6)} MB, client decode ${fmt(m.clientDecodeMs)} ms`,
        la(m.loadAverage),
      ],
      [
        `/metrics, every partition's series (${r.scrape.samples} scrapes)`,
        `p50 ${fmt(r.scrape.p50Ms)} ms`,
        `max ${fmt(r.scrape.maxMs)} ms; ${r.scrape.lines.toLocaleString('en-US')} lines, ${fmt(r.scrape.bytes / 1e6)} MB; a request waited at most ${fmt(r.scrape.requestMaxMsDuring)} ms meanwhile, ${fmt(r.scrape.requestMaxMsQuiet)} ms without a scrape`,
        la(r.scrape.loadAverage),
      ],
      stop(r.stops[0]),
      ...r.starts.slice(1).map(start),
      ...r.stops.slice(1).map(stop),
    ],
  );
}

function formatProduce(phases: readonly ProducePhase[]): string {
  return table(
    ['produce 100 B, acks=1', 'producers', 'partitions', 'msgs', 'msgs/s', 'MB/s', 'p50 ms', 'p99 ms', 'broker CPU s/M msgs', 'loadgen CPU', 'broker fds peak (log files)', 'load avg'],
    phases.map((p) => [
      p.name,
      String(p.producers),
      p.partitions.toLocaleString('en-US'),
      p.msgs.toLocaleString('en-US'),
      fmt(p.msgsPerSec),
      fmt(p.mbPerSec),
      fmt(p.p50Ms),
      fmt(p.p99Ms),
      fmt(p.brokerCpuSecondsPerMillion),
      `${Math.round(p.loadgenCpuOfWall * 100)}%`,
      `${p.descriptors.peak.total.toLocaleString('en-US')} (${p.descriptors.peak.logFiles.toLocaleString('en-US')})`,
      la(p.loadAverage),
    ]),
  );
}

function formatProfile(p: PhaseProfile): string {
  if (typeof p.summary === 'string') return `where the time goes: ${p.step}: ${p.summary}`;
  const s = p.summary;
  const share = (x: { name: string; percent: number }): string => `    ${x.percent.toFixed(1).padStart(5)}%  ${x.name}`;
  return [
    `where the time goes: ${p.step} (main thread busy ${fmt(s.busyMs)} ms, idle ${fmt(s.idleMs)} ms)`,
    '  by area (self time, % of busy):',
    ...s.areas.slice(0, 6).map(share),
    '  top functions by self time:',
    ...s.topSelf.slice(0, 8).map(share),
    '  sluice functions by inclusive time:',
    ...s.topInclusive.slice(0, 12).map(share),
  ].join('\n');
}

export function formatReport(r: PartitionsBenchReport): string {
  const m = r.machine;
  const l = r.layout;
  const header =
    `sluice partitions bench, ${r.date}: ${r.command}\n` +
    `node ${m.node}, Linux ${m.kernel}, ${m.cpus}, ${m.memory} RAM; data on ${m.fsType}; ` +
    `load average ${m.loadAverageAtStart} at start, ${m.loadAverageAtEnd} at end; ${fmt(r.seconds)} s; broker and load generator at ${m.priority} priority\n` +
    `broker: compiled build, ${l.topics.length} topics x ${l.partitionsPerTopic.toLocaleString('en-US')} partitions = ${l.partitions.toLocaleString('en-US')} ` +
    `(${l.logFiles.toLocaleString('en-US')} log files); its descriptor limit ${l.brokerLimit.soft} (hard ${l.brokerLimit.hard}), ` +
    `of which ${l.budget.toLocaleString('en-US')} for log files${m.profiled ? '; under node --cpu-prof (figures are slower than without)' : ''}` +
    `${Object.keys(l.settings).length > 0 ? `; settings ${Object.entries(l.settings).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''}\n` +
    'load generator: librdkafka (bench/broker/loadgen.c), linger.ms=0 so that keyless records go to a random partition each ' +
    '(librdkafka sticks to one partition for 2 x linger.ms otherwise), no compression; several producers run at once, one process each; ' +
    '"loadgen CPU" = all producers\' CPU / wall (100% = one core); "load avg" = the machine\'s 1-minute load average after each step';
  const spread = `records spread over ${r.spreadCoverage.written.toLocaleString('en-US')} of ${r.spreadCoverage.partitions.toLocaleString('en-US')} partitions`;
  const kill =
    `SIGKILL after the last spread phase: ${r.killRecovery.before.toLocaleString('en-US')} records before, ` +
    `${r.killRecovery.after.toLocaleString('en-US')} after the restart${r.killRecovery.after === r.killRecovery.before ? '' : ' (RECORDS LOST)'}`;
  const targets = table(
    ['target (issue)', 'measured', 'verdict'],
    r.targets.map((c) => [c.target, c.measured, c.met ? 'met' : 'MISSED']),
  );
  const parts = [header, formatLifecycle(r), `${formatProduce(r.produce)}\n${spread}\n${kill}`, targets];
  if (r.profiles) parts.push(...r.profiles.map(formatProfile));
  return parts.join('\n\n');
}
