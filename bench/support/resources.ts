/**
 * Latency samples and process resource deltas for benchmarks that time real I/O one call at a
 * time (measure.ts times tight CPU loops in groups instead, which would hide a slow fsync).
 */

/** Per-call latencies in nanoseconds, kept in a typed array so recording allocates nothing per call. */
export class LatencySamples {
  private values = new Float64Array(1024);
  private length = 0;
  private sorted = true;

  add(ns: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = ns;
    this.sorted = false;
  }

  get count(): number {
    return this.length;
  }

  /** The p-quantile (0..1) in microseconds; NaN without samples. */
  percentileUs(p: number): number {
    if (this.length === 0) return Number.NaN;
    const live = this.values.subarray(0, this.length);
    if (!this.sorted) {
      live.sort();
      this.sorted = true;
    }
    return live[Math.min(this.length - 1, Math.floor(p * this.length))] / 1e3;
  }

  maxUs(): number {
    return this.percentileUs(1);
  }
}

/** Nanoseconds on the monotonic clock, as a number (exact to well past a day). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Wall and CPU time summed over many short spans, for work interleaved with other work in one
 * process (CPU time is the whole process's during each span, so spans must not overlap).
 */
export class SpanClock {
  ns = 0;
  cpuMicros = 0;
  private t0 = 0;
  private cpu0: NodeJS.CpuUsage | null = null;

  start(): void {
    this.cpu0 = process.cpuUsage();
    this.t0 = nowNs();
  }

  stop(): void {
    this.ns += nowNs() - this.t0;
    const cpu = process.cpuUsage(this.cpu0 ?? undefined);
    this.cpuMicros += cpu.user + cpu.system;
  }

  get seconds(): number {
    return this.ns / 1e9;
  }

  get cpuSeconds(): number {
    return this.cpuMicros / 1e6;
  }
}

export interface ResourceSnapshot {
  readonly atNs: number;
  readonly usage: NodeJS.ResourceUsage;
}

/** getrusage(RUSAGE_SELF): every thread of the process, the libuv threadpool included. */
export function snapshot(): ResourceSnapshot {
  return { atNs: nowNs(), usage: process.resourceUsage() };
}

export interface ResourceDelta {
  wallSeconds: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  voluntaryContextSwitches: number;
  involuntaryContextSwitches: number;
  minorPageFaults: number;
  majorPageFaults: number;
}

export function since(start: ResourceSnapshot, end: ResourceSnapshot = snapshot()): ResourceDelta {
  const a = start.usage;
  const b = end.usage;
  return {
    wallSeconds: (end.atNs - start.atNs) / 1e9,
    cpuUserSeconds: (b.userCPUTime - a.userCPUTime) / 1e6,
    cpuSystemSeconds: (b.systemCPUTime - a.systemCPUTime) / 1e6,
    voluntaryContextSwitches: b.voluntaryContextSwitches - a.voluntaryContextSwitches,
    involuntaryContextSwitches: b.involuntaryContextSwitches - a.involuntaryContextSwitches,
    minorPageFaults: b.minorPageFault - a.minorPageFault,
    majorPageFaults: b.majorPageFault - a.majorPageFault,
  };
}

export function cpuSeconds(d: ResourceDelta): number {
  return d.cpuUserSeconds + d.cpuSystemSeconds;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** Binary sizes for labels: "16 KiB", "1 MiB", "5.0 GiB". */
export function sizeLabel(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(bytes % GiB ? 1 : 0)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(bytes % MiB ? 1 : 0)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(bytes % 1024 ? 1 : 0)} KiB`;
  return `${bytes} B`;
}
