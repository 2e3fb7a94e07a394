import type { RunningBroker } from './broker-process.js';
import { consume, produce, type ConsumeResult, type ProduceResult, type ProduceSpec } from './loadgen.js';
import { meterProcess } from './proc.js';

/** One load-generator run against the broker, with the broker's CPU and memory over it. */

export interface PhaseSpec {
  name: string;
  kind: 'produce' | 'consume';
  topic: string;
  count: number;
  size: number;
  acks?: ProduceSpec['acks'];
  lingerMs?: number;
  rate?: number;
  /** Consumer threads of a consume phase (default 1). */
  consumers?: number;
}

export interface PhaseResult {
  name: string;
  kind: 'produce' | 'consume';
  size: number;
  acks: string | null;
  msgs: number;
  /** Payload bytes (record values); the records' own framing is not counted. */
  bytes: number;
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  latencyUs: ProduceResult['latencyUs'] | null;
  broker: { cpuUserSeconds: number; cpuSystemSeconds: number; cpuSecondsPerMillion: number; peakRssMB: number };
  loadgen: { cpuSeconds: number; cpuOfWall: number };
  /** CPU time of processes outside the benchmark over the phase, as a share of the machine. */
  othersShare: number;
  /** CLOCK_MONOTONIC microseconds, the clock of V8's CPU profiles, to slice one by phase. */
  window: { startUs: number; endUs: number };
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export async function runPhase(bin: string, broker: RunningBroker, spec: PhaseSpec): Promise<PhaseResult> {
  const startUs = monotonicUs();
  const meter = meterProcess(broker.pid);
  let result: ProduceResult | ConsumeResult;
  try {
    result =
      spec.kind === 'produce'
        ? await produce(bin, broker.bootstrap, { topic: spec.topic, count: spec.count, size: spec.size, acks: spec.acks ?? '1', lingerMs: spec.lingerMs, rate: spec.rate })
        : await consume(bin, broker.bootstrap, spec.topic, spec.count, spec.consumers ?? 1);
  } catch (e) {
    meter.stop();
    throw e;
  }
  const usage = meter.stop();
  if (result.mode === 'produce' && result.failed > 0) throw new Error(`${spec.name}: ${result.failed} messages failed, first with ${result.firstError}`);
  const endUs = monotonicUs();
  const brokerCpu = usage.cpu.userSeconds + usage.cpu.systemSeconds;
  const loadgenCpu = result.cpuUserSeconds + result.cpuSystemSeconds;
  return {
    name: spec.name,
    kind: spec.kind,
    size: spec.size,
    acks: result.mode === 'produce' ? result.acks : null,
    msgs: result.msgs,
    bytes: result.bytes,
    seconds: result.seconds,
    msgsPerSec: result.msgs / result.seconds,
    mbPerSec: result.bytes / result.seconds / 1e6,
    latencyUs: result.mode === 'produce' ? result.latencyUs : null,
    broker: {
      cpuUserSeconds: usage.cpu.userSeconds,
      cpuSystemSeconds: usage.cpu.systemSeconds,
      cpuSecondsPerMillion: (brokerCpu / result.msgs) * 1e6,
      peakRssMB: usage.peakRssMB,
    },
    loadgen: { cpuSeconds: loadgenCpu, cpuOfWall: loadgenCpu / result.seconds },
    othersShare: Math.max(0, usage.machineBusySeconds - brokerCpu - loadgenCpu) / usage.machineTotalSeconds,
    window: { startUs, endUs },
  };
}
