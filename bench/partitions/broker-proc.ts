import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * What the broker process holds, read from /proc while it runs: its resident memory, its
 * descriptor limit, and its open descriptors by kind, sampled over a phase.
 */

export function rssMB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) * 1024) / 1e6 : Number.NaN;
}

/** RLIMIT_NOFILE of a process as it runs (the broker raises its own soft limit). */
export function descriptorLimit(pid: number | 'self'): { soft: string; hard: string } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s+/).slice(3, 5);
  return { soft: soft ?? '?', hard: hard ?? '?' };
}

export interface DescriptorCount {
  total: number;
  /** Open on files under the data directory: segments, indexes, checkpoints. */
  logFiles: number;
  sockets: number;
}

export function countDescriptors(pid: number, dataDir: string): DescriptorCount {
  const count: DescriptorCount = { total: 0, logFiles: 0, sockets: 0 };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed between the listing and the look
    }
    count.total++;
    if (target.startsWith(dataDir)) count.logFiles++;
    else if (target.startsWith('socket:')) count.sockets++;
  }
  return count;
}

export interface DescriptorSamples {
  samples: number;
  peak: DescriptorCount;
  mean: DescriptorCount;
}

/**
 * Counts the broker's descriptors every `everyMs` until stop(). A count reads a link per
 * descriptor (up to the budget, thousands), so samples are spaced to keep the sampler's own CPU
 * small beside the broker's on a 2-core machine.
 */
export function sampleDescriptors(pid: number, dataDir: string, everyMs = 500): { stop(): DescriptorSamples } {
  const keys = ['total', 'logFiles', 'sockets'] as const;
  const peak: DescriptorCount = { total: 0, logFiles: 0, sockets: 0 };
  const sum: DescriptorCount = { total: 0, logFiles: 0, sockets: 0 };
  let samples = 0;
  const sample = (): void => {
    const c = countDescriptors(pid, dataDir);
    for (const k of keys) {
      peak[k] = Math.max(peak[k], c[k]);
      sum[k] += c[k];
    }
    samples++;
  };
  const timer = setInterval(sample, everyMs);
  return {
    stop(): DescriptorSamples {
      clearInterval(timer);
      sample();
      const mean = Object.fromEntries(keys.map((k) => [k, sum[k] / samples])) as unknown as DescriptorCount;
      return { samples, peak, mean };
    },
  };
}
