import type { Workspace } from '../support/workspace.js';
import type { ConsumeResult, Percentiles } from '../support/rdkafka-bench.js';
import { meterProcess } from '../broker/proc.js';
import type { Generator, ProduceOutcome } from './generators.js';
import type { ServerUnderTest } from './servers.js';

/** The same five runs against each server, each metered from /proc of the server process. */

export interface PeerLoad {
  msgs100: number;
  msgs1KiB: number;
  /** Paced produce: msgs/s and seconds. */
  rate: number;
  pacedSeconds: number;
  /** A peer's produce run stops sending after this long and reports what it stored. */
  maxSeconds: number;
}

export type PhaseName = 'produce 100 B' | 'consume 100 B' | 'produce 1 KiB' | 'consume 1 KiB' | 'paced 100 B';

export interface PeerPhase {
  phase: PhaseName;
  /** Messages asked for; `msgs` is fewer when a produce run hit its time limit. */
  requested: number;
  msgs: number;
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  /** Send to acknowledgement, in microseconds (produce runs). */
  latencyUs: Percentiles | null;
  server: { cpuSeconds: number; cpuSecondsPerMillion: number; peakRssMB: number };
  /** The generator's CPU as a share of one core over the run: near 1, it was the limit. */
  clientCpuOfWall: number;
  /** CPU time of processes outside the benchmark over the run, as a share of the machine. */
  othersShare: number;
}

async function metered(server: ServerUnderTest, phase: PhaseName, requested: number, run: () => Promise<ProduceOutcome | ConsumeResult>): Promise<PeerPhase> {
  const meter = meterProcess(server.pid);
  let result: ProduceOutcome | ConsumeResult;
  try {
    result = await run();
  } catch (e) {
    meter.stop();
    throw e;
  }
  const usage = meter.stop();
  if (result.mode === 'produce' && result.failed > 0) throw new Error(`${phase}: ${result.failed} messages failed, first with ${result.firstError}`);
  const serverCpu = usage.cpu.userSeconds + usage.cpu.systemSeconds;
  const clientCpu = result.cpuUserSeconds + result.cpuSystemSeconds;
  return {
    phase,
    requested,
    msgs: result.msgs,
    seconds: result.seconds,
    msgsPerSec: result.msgs / result.seconds,
    mbPerSec: result.bytes / result.seconds / 1e6,
    latencyUs: result.mode === 'produce' ? result.latencyUs : null,
    server: { cpuSeconds: serverCpu, cpuSecondsPerMillion: (serverCpu / result.msgs) * 1e6, peakRssMB: usage.peakRssMB },
    clientCpuOfWall: clientCpu / result.seconds,
    othersShare: Math.max(0, usage.machineBusySeconds - serverCpu - clientCpu) / usage.machineTotalSeconds,
  };
}

/**
 * Produce then consume at each size (what a produce run stored is what its consume run
 * reads), then the paced run on a topic of its own. Each produce run starts with no dirty
 * pages left by the one before.
 */
export async function runPhases(gen: Generator, server: ServerUnderTest, ws: Workspace, load: PeerLoad, progress: (line: string) => void): Promise<PeerPhase[]> {
  const phases: PeerPhase[] = [];
  const record = (p: PeerPhase): void => {
    const latency = p.latencyUs && p.phase.startsWith('paced') ? `, p99 ${(p.latencyUs.p99 / 1e3).toFixed(2)} ms` : '';
    progress(`  ${p.phase}: ${p.msgs.toLocaleString('en-US')} msgs, ${Math.round(p.msgsPerSec).toLocaleString('en-US')} msgs/s${latency}, server ${p.server.cpuSecondsPerMillion.toFixed(2)} s CPU/M msgs`);
    phases.push(p);
  };
  for (const [size, count, label] of [[100, load.msgs100, '100 B'], [1024, load.msgs1KiB, '1 KiB']] as const) {
    const topic = `peers-${size}`;
    ws.settle();
    const produced = await metered(server, `produce ${label}`, count, () => gen.produce(server.bootstrap, { topic, count, size, maxSeconds: load.maxSeconds }));
    record(produced);
    record(await metered(server, `consume ${label}`, produced.msgs, () => gen.consume(server.bootstrap, topic, produced.msgs)));
  }
  ws.settle();
  const paced = load.rate * load.pacedSeconds;
  record(await metered(server, 'paced 100 B', paced, () => gen.produce(server.bootstrap, { topic: 'peers-paced', count: paced, size: 100, rate: load.rate, maxSeconds: load.pacedSeconds * 3 })));
  return phases;
}
