import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { perfAvailable, profileProcess, type Profile } from '../support/perf-profile.js';
import type { Workspace } from '../support/workspace.js';
import { startBroker, type BrokerOptions } from './broker-process.js';
import { longStretches, summarizeCpuProfile, type ProfileSummary, type Stretches } from './cpuprofile.js';
import { brokerTarget, runPhase, type PhaseResult, type PhaseSpec } from './phases.js';

/**
 * A second pass over the phases with the broker under `node --cpu-prof` (and `perf record`
 * when present), to say where its time goes. Profilers slow it down, so this pass's
 * throughput is not reported as the measurement.
 */

export interface PhaseProfile {
  phase: string;
  /** Throughput under the profilers, only to show how much they disturbed the run. */
  msgsPerSec: number;
  brokerCpuSecondsPerMillion: number;
  js: ProfileSummary | string;
  /** Whole-process samples, kernel included; null without perf, a message if it failed. */
  perf: Profile | string | null;
  /** Of a paced phase: the main thread's long busy stretches and sampling gaps (what the tail waits behind). */
  stretches?: Stretches;
  /** Of a paced phase: its tail under the profilers. */
  latencyUs?: PhaseResult['latencyUs'];
}

/** Busy stretches from this long on are counted as the loop being held (a paced request waits behind them). */
export const STRETCH_MS = 2;

const PERF_START_FAILED = /^perf record exited/;

/** Runs a phase under `perf record` of the brokers when perf is present; a perf that fails only costs its profile. */
export async function runWithPerf(brokerPids: readonly number[], perfData: string, run: () => Promise<PhaseResult>): Promise<{ phase: PhaseResult; perf: Profile | string | null }> {
  if (!perfAvailable()) return { phase: await run(), perf: null };
  let phase: PhaseResult | undefined;
  try {
    const perf = await profileProcess(brokerPids, perfData, async () => {
      phase = await run();
    });
    return { phase: phase!, perf };
  } catch (e) {
    const message = (e as Error).message;
    if (phase) return { phase, perf: message };
    if (PERF_START_FAILED.test(message)) return { phase: await run(), perf: message };
    throw e;
  }
}

export async function profilePhases(
  loadgen: string,
  ws: Workspace,
  specs: PhaseSpec[],
  setup: Pick<BrokerOptions, 'partitions' | 'overrides'>,
  progress: (line: string) => void,
): Promise<PhaseProfile[]> {
  const profileDir = ws.path('cpuprofile');
  mkdirSync(profileDir, { recursive: true });
  // JIT-compiled JS has no symbols for perf unless V8 writes /tmp/perf-<pid>.map.
  const broker = await startBroker({ ...setup, dataDir: ws.path('profile-data'), cpuProfileDir: profileDir, nodeArgs: ['--perf-basic-prof-only-functions'] });
  const runs: { phase: PhaseResult; perf: Profile | string | null }[] = [];
  try {
    for (const spec of specs) {
      progress(`profiling: ${spec.name}`);
      runs.push(await runWithPerf([broker.pid], ws.path('perf.data'), () => runPhase(loadgen, brokerTarget(broker), spec)));
    }
  } finally {
    await broker.stop();
    rmSync(`/tmp/perf-${broker.pid}.map`, { force: true });
  }
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  return runs.map(({ phase, perf }) => ({
    phase: phase.name,
    msgsPerSec: phase.msgsPerSec,
    brokerCpuSecondsPerMillion: phase.broker.cpuSecondsPerMillion,
    js: file ? summarizeCpuProfile(join(profileDir, file), phase.window) : 'the broker wrote no .cpuprofile',
    perf,
    ...(file && phase.rate !== null ? { stretches: longStretches(join(profileDir, file), phase.window, STRETCH_MS), latencyUs: phase.latencyUs } : {}),
  }));
}
