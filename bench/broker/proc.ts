import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Another process's CPU time and memory, read from /proc (Linux only): the broker runs as a
 * child, so process.resourceUsage() cannot see it, and the machine's own busy time shows how
 * much of it went to processes outside the benchmark (this box is shared).
 */

/** Clock ticks per second of the /proc CPU counters (USER_HZ, 100 on every common kernel). */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface CpuTimes {
  userSeconds: number;
  systemSeconds: number;
}

/** User and system CPU of a whole process, every thread included. */
export function processCpu(pid: number): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ")"
  // start at field 3, so utime (14) and stime (15) are the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userSeconds: Number(fields[11]) / TICKS, systemSeconds: Number(fields[12]) / TICKS };
}

function statusKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (clear_refs "5", Linux 4.0+), so
 * the peak read at the end of a phase belongs to that phase. False when not permitted.
 */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Busy and total time of all CPUs since boot, from the first line of /proc/stat. */
function machineCpu(): { busySeconds: number; totalSeconds: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busySeconds: busy / TICKS, totalSeconds: (busy + idle + iowait) / TICKS };
}

/** The machine over one metering window. */
interface MachineWindow {
  wallSeconds: number;
  /** Busy CPU time of the whole machine over the phase, every process included. */
  machineBusySeconds: number;
  /** All CPUs' time over the phase (wall x CPU count, as the kernel counts it). */
  machineTotalSeconds: number;
}

export interface ProcessUsage {
  pid: number;
  cpu: CpuTimes;
  /** The largest RSS within the phase: VmHWM after a reset, or else the largest 100 ms sample. */
  peakRssMB: number;
}

export interface PhaseUsage extends MachineWindow, Omit<ProcessUsage, 'pid'> {}

export interface GroupUsage extends MachineWindow {
  /** In the order the pids were given. */
  processes: ProcessUsage[];
}

const RSS_SAMPLE_MS = 100;

/**
 * Measures every process of `pids` from now until stop(), over one window so that their
 * figures add up (a cluster's brokers); RSS is sampled as well in case the peak cannot be reset.
 */
export function meterProcesses(pids: readonly number[]): { stop(): GroupUsage } {
  const startedAt = process.hrtime.bigint();
  const cpu0 = pids.map(processCpu);
  const machine0 = machineCpu();
  const peakReset = pids.map(resetPeakRss);
  const sampledPeakKiB = pids.map((pid) => statusKiB(pid, 'VmRSS'));
  const sampler = setInterval(() => {
    pids.forEach((pid, i) => (sampledPeakKiB[i] = Math.max(sampledPeakKiB[i], statusKiB(pid, 'VmRSS'))));
  }, RSS_SAMPLE_MS);
  return {
    stop(): GroupUsage {
      clearInterval(sampler);
      const machine1 = machineCpu();
      const processes = pids.map((pid, i) => {
        const cpu1 = processCpu(pid);
        const peakKiB = peakReset[i] ? statusKiB(pid, 'VmHWM') : Math.max(sampledPeakKiB[i], statusKiB(pid, 'VmRSS'));
        return {
          pid,
          cpu: { userSeconds: cpu1.userSeconds - cpu0[i].userSeconds, systemSeconds: cpu1.systemSeconds - cpu0[i].systemSeconds },
          peakRssMB: (peakKiB * 1024) / 1e6,
        };
      });
      return {
        wallSeconds: Number(process.hrtime.bigint() - startedAt) / 1e9,
        processes,
        machineBusySeconds: machine1.busySeconds - machine0.busySeconds,
        machineTotalSeconds: machine1.totalSeconds - machine0.totalSeconds,
      };
    },
  };
}

/** meterProcesses for one process. */
export function meterProcess(pid: number): { stop(): PhaseUsage } {
  const meter = meterProcesses([pid]);
  return {
    stop(): PhaseUsage {
      const { processes, ...rest } = meter.stop();
      return { ...rest, cpu: processes[0].cpu, peakRssMB: processes[0].peakRssMB };
    },
  };
}
