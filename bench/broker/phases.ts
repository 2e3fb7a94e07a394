import type { RunningBroker } from './broker-process.js';
import { consume, produce, rawFetch, type ConsumeResult, type FetchResult, type ProduceResult, type ProduceSpec } from './loadgen.js';
import { meterProcesses, type ProcessUsage } from './proc.js';

/** One load-generator run against the broker (or brokers), with their CPU and memory over it. */

export interface PhaseTarget {
  /** librdkafka's bootstrap.servers: host:port, comma-separated. */
  bootstrap: string;
  /** The brokers, whose CPU is summed per message. */
  brokerPids: readonly number[];
  /** What the brokers need besides themselves (a cluster's etcd): its CPU is reported apart, not as other processes'. */
  supportPids?: readonly number[];
  /** More librdkafka settings for the load generator (security.protocol=ssl...). */
  clientSettings?: Readonly<Record<string, string>>;
}

export function brokerTarget(broker: RunningBroker): PhaseTarget {
  return { bootstrap: broker.bootstrap, brokerPids: [broker.pid] };
}

/**
 * `consume` reads through librdkafka, which parses every record (the client's view); `fetch`
 * through the load generator's plain-socket Fetch client, which walks batch headers only (what
 * the broker serves).
 */
export type PhaseKind = 'produce' | 'consume' | 'fetch';

export interface PhaseSpec {
  name: string;
  kind: PhaseKind;
  topic: string;
  count: number;
  size: number;
  acks?: ProduceSpec['acks'];
  lingerMs?: number;
  rate?: number;
  /** Of a produce phase: also time each record to its receipt by a consumer (ProduceSpec.endToEnd). */
  endToEnd?: boolean;
  /** Consumer threads of a consume phase (default 1). */
  consumers?: number;
}

export interface PhaseResult {
  name: string;
  kind: PhaseKind;
  size: number;
  acks: string | null;
  /** The paced rate in msgs/s; null for a run as fast as it goes. */
  rate: number | null;
  msgs: number;
  /** Payload bytes (record values); the records' own framing is not counted. */
  bytes: number;
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  latencyUs: ProduceResult['latencyUs'] | null;
  /** Produce call to consumer receipt, when the phase asked for it. */
  endToEndUs: ProduceResult['latencyUs'] | null;
  /** CPU summed over the brokers; peak RSS is the largest broker's. */
  broker: { cpuUserSeconds: number; cpuSystemSeconds: number; cpuSecondsPerMillion: number; peakRssMB: number; each: { pid: number; cpuSeconds: number; peakRssMB: number }[] };
  supportCpuSeconds: number;
  loadgen: { cpuSeconds: number; cpuOfWall: number };
  /** CPU time of processes outside the benchmark over the phase, as a share of the machine. */
  othersShare: number;
  /** CLOCK_MONOTONIC microseconds, the clock of V8's CPU profiles, to slice one by phase. */
  window: { startUs: number; endUs: number };
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export async function runPhase(bin: string, target: PhaseTarget, spec: PhaseSpec): Promise<PhaseResult> {
  const startUs = monotonicUs();
  const support = target.supportPids ?? [];
  const meter = meterProcesses([...target.brokerPids, ...support]);
  let result: ProduceResult | ConsumeResult | FetchResult;
  try {
    result =
      spec.kind === 'produce'
        ? await produce(bin, target.bootstrap, { topic: spec.topic, count: spec.count, size: spec.size, acks: spec.acks ?? '1', lingerMs: spec.lingerMs, rate: spec.rate, endToEnd: spec.endToEnd }, target.clientSettings)
        : spec.kind === 'consume'
          ? await consume(bin, target.bootstrap, spec.topic, spec.count, spec.consumers ?? 1, target.clientSettings)
          : await rawFetch(bin, target.bootstrap, spec.topic, spec.count, spec.size);
  } catch (e) {
    meter.stop();
    throw e;
  }
  const usage = meter.stop();
  if (result.mode === 'produce' && result.failed > 0) throw new Error(`${spec.name}: ${result.failed} messages failed, first with ${result.firstError}`);
  const endUs = monotonicUs();
  const cpuSeconds = (u: ProcessUsage): number => u.cpu.userSeconds + u.cpu.systemSeconds;
  const brokers = usage.processes.slice(0, target.brokerPids.length);
  const supportCpu = usage.processes.slice(brokers.length).reduce((sum, u) => sum + cpuSeconds(u), 0);
  const userSeconds = brokers.reduce((sum, u) => sum + u.cpu.userSeconds, 0);
  const systemSeconds = brokers.reduce((sum, u) => sum + u.cpu.systemSeconds, 0);
  const brokerCpu = userSeconds + systemSeconds;
  const loadgenCpu = result.cpuUserSeconds + result.cpuSystemSeconds;
  return {
    name: spec.name,
    kind: spec.kind,
    size: spec.size,
    acks: result.mode === 'produce' ? result.acks : null,
    rate: spec.rate ?? null,
    msgs: result.msgs,
    bytes: result.bytes,
    seconds: result.seconds,
    msgsPerSec: result.msgs / result.seconds,
    mbPerSec: result.bytes / result.seconds / 1e6,
    latencyUs: result.mode === 'produce' ? result.latencyUs : null,
    endToEndUs: result.mode === 'produce' ? (result.endToEndUs ?? null) : null,
    broker: {
      cpuUserSeconds: userSeconds,
      cpuSystemSeconds: systemSeconds,
      cpuSecondsPerMillion: (brokerCpu / result.msgs) * 1e6,
      peakRssMB: Math.max(...brokers.map((u) => u.peakRssMB)),
      each: brokers.map((u) => ({ pid: u.pid, cpuSeconds: cpuSeconds(u), peakRssMB: u.peakRssMB })),
    },
    supportCpuSeconds: supportCpu,
    loadgen: { cpuSeconds: loadgenCpu, cpuOfWall: loadgenCpu / result.seconds },
    othersShare: Math.max(0, usage.machineBusySeconds - brokerCpu - supportCpu - loadgenCpu) / usage.machineTotalSeconds,
    window: { startUs, endUs },
  };
}
