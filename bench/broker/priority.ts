import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/**
 * SLUICE_BENCH_NICE (e.g. -10) raises the broker and the load generator above other work on a
 * shared machine, so the figures are about the broker rather than the scheduler. Unset: they
 * run like any process. A negative value needs root (or CAP_SYS_NICE).
 *
 * With autogroup scheduling (kernel.sched_autogroup_enabled=1, the default on most distros)
 * nice(1) alone does almost nothing: the scheduler first shares CPU between sessions' groups,
 * and nice only orders threads inside one. So each child also gets its own session (hence its
 * own autogroup), and that group gets the niceness through /proc/<pid>/autogroup.
 */
const NICE = process.env.SLUICE_BENCH_NICE ?? '';

if (NICE !== '' && !/^-?\d+$/.test(NICE)) throw new Error(`SLUICE_BENCH_NICE must be an integer, not "${NICE}"`);

export const niceness: number | null = NICE === '' ? null : Number(NICE);

/**
 * SLUICE_BENCH_RT (1-99): run them under SCHED_FIFO at that priority instead (chrt -f), for
 * the latency runs only. On a machine where others keep the run queue long, even nice -10
 * leaves a paced request waiting milliseconds for a CPU, so the tail measures the scheduler;
 * a real-time class is served first and the tail is the broker's own. The kernel's real-time
 * throttling (sched_rt_runtime_us) still leaves the others 5% of each second.
 */
const RT = process.env.SLUICE_BENCH_RT ?? '';

if (RT !== '' && !(/^\d+$/.test(RT) && Number(RT) >= 1 && Number(RT) <= 99)) throw new Error(`SLUICE_BENCH_RT must be a priority from 1 to 99, not "${RT}"`);

export const realtimePriority: number | null = RT === '' ? null : Number(RT);

/**
 * spawn() under nice(1) when asked for. nice execs the command, so the pid is the command's,
 * and every thread the process starts inherits the priority (setpriority(2) on a pid would
 * change one thread only).
 */
export function spawnPrioritized(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  if (realtimePriority !== null) return spawn('chrt', ['-f', String(realtimePriority), command, ...args], { ...options, detached: true });
  if (niceness === null) return spawn(command, args, options);
  const child = spawn('nice', ['-n', String(niceness), command, ...args], { ...options, detached: true });
  try {
    if (child.pid !== undefined) writeFileSync(`/proc/${child.pid}/autogroup`, String(niceness));
  } catch {
    // No autogroup support (or not permitted): nice(1) is all there is.
  }
  return child;
}
