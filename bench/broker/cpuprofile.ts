import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from '../../src/package-root.js';

/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went within a time window:
 * self time by function, by area of code, and the broker's own functions by inclusive time.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on CLOCK_MONOTONIC (V8's TimeTicks on Linux). */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  ms: number;
  /** Of the busy (non-idle) time in the window. */
  percent: number;
}

export interface ProfileSummary {
  /** False when the window missed the profile and the whole profile was used instead. */
  windowed: boolean;
  /** How many processes' profiles are added up: busy and idle time are their main threads' together. */
  profiles: number;
  busyMs: number;
  idleMs: number;
  topSelf: Share[];
  areas: Share[];
  /** Sluice's own functions by time including their callees. */
  topInclusive: Share[];
}

const IDLE = '(idle)';

function location(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '').replace(`${PACKAGE_ROOT}/`, '');
  return url ? `${url}:${frame.lineNumber + 1}` : '';
}

function label(frame: CallFrame): string {
  const where = location(frame);
  return where ? `${frame.functionName || '(anonymous)'} ${where}` : frame.functionName || '(anonymous native)';
}

/** A coarse owner of a frame's code, so many small functions add up to one visible figure. */
function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'V8 garbage collector';
    if (functionName === '(program)') return 'native, outside JS (libuv, V8 runtime)';
    return 'native functions called from JS (I/O bindings, Buffer, crc)';
  }
  const sluice = /\/dist\/src\/([^/]+)\//.exec(url) ?? /\/dist\/src\/([^/]+)\.js/.exec(url);
  if (sluice) return `sluice src/${sluice[1]}`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return `dependency ${dep[1]}`;
  const core = /^node:(?:internal\/)?([^/]+)/.exec(url);
  if (core) return `node core: ${core[1]}`;
  return url;
}

function ranked(totals: Map<string, number>, busyUs: number, limit: number): Share[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, ms: us / 1e3, percent: (100 * us) / busyUs }));
}

/** Time by function, area and inclusive function, added up over one or more profiles. */
interface Totals {
  self: Map<string, number>;
  areas: Map<string, number>;
  inclusive: Map<string, number>;
  busyUs: number;
  idleUs: number;
}

/** Adds one profile's samples within `window` (all of them when it misses the profile); returns whether it was windowed. */
function addProfile(file: string, window: { startUs: number; endUs: number } | null, totals: Totals): boolean {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Each sample stands for the time until the next one.
  const times: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) times.push((t += d));
  const inWindow = (ts: number): boolean => window === null || (ts >= window.startUs && ts < window.endUs);
  const windowed = window !== null && times.some(inWindow);
  const keep = windowed ? inWindow : () => true;

  const { self, areas, inclusive } = totals;
  for (let i = 0; i < profile.samples.length; i++) {
    if (!keep(times[i])) continue;
    const us = (i + 1 < times.length ? times[i + 1] : profile.endTime) - times[i];
    const node = byId.get(profile.samples[i])!;
    if (node.callFrame.functionName === IDLE) {
      totals.idleUs += us;
      continue;
    }
    totals.busyUs += us;
    const name = label(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + us);
    const owner = area(node.callFrame);
    areas.set(owner, (areas.get(owner) ?? 0) + us);
    // Recursion would count a function twice in one stack.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (!frame.url.includes('/dist/src/')) continue;
      const fn = label(frame);
      if (seen.has(fn)) continue;
      seen.add(fn);
      inclusive.set(fn, (inclusive.get(fn) ?? 0) + us);
    }
  }
  return windowed;
}

export function summarizeCpuProfile(file: string, window: { startUs: number; endUs: number } | null, limit = 15): ProfileSummary {
  return summarizeCpuProfiles([file], window, limit);
}

/** The profiles of several processes (a cluster's brokers) as one: their main threads' time added up. */
export function summarizeCpuProfiles(files: readonly string[], window: { startUs: number; endUs: number } | null, limit = 15): ProfileSummary {
  const totals: Totals = { self: new Map(), areas: new Map(), inclusive: new Map(), busyUs: 0, idleUs: 0 };
  const windowed = files.map((file) => addProfile(file, window, totals)).every(Boolean);
  const { self, areas, inclusive, busyUs, idleUs } = totals;
  const busy = Math.max(busyUs, 1);
  return {
    windowed,
    profiles: files.length,
    busyMs: busyUs / 1e3,
    idleMs: idleUs / 1e3,
    topSelf: ranked(self, busy, limit),
    areas: ranked(areas, busy, limit),
    topInclusive: ranked(inclusive, busy, limit),
  };
}

/**
 * The main thread's long stretches within a window: what a request arriving then waits behind.
 * A busy stretch is consecutive non-idle samples (the loop never went back to epoll); a gap is
 * time between two samples far longer than the sampling interval, when the process got no CPU
 * (or the profiler's own thread did not), so the cause is outside the process.
 */
export interface Stretches {
  /** Busy stretches of at least the threshold. */
  busy: { count: number; totalMs: number; maxMs: number; gcMs: number };
  /** What the busy stretches spent their time in, by function (self time, % of their time). */
  busyTop: Share[];
  gaps: { count: number; totalMs: number; maxMs: number };
  thresholdMs: number;
}

export function longStretches(file: string, window: { startUs: number; endUs: number }, thresholdMs: number, limit = 8): Stretches {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const times: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) times.push((t += d));
  // The profiler's interval, as the median spacing of samples.
  const spacing = profile.timeDeltas.slice(1).sort((a, b) => a - b)[profile.timeDeltas.length >> 1] ?? 1000;
  const out: Stretches = { busy: { count: 0, totalMs: 0, maxMs: 0, gcMs: 0 }, busyTop: [], gaps: { count: 0, totalMs: 0, maxMs: 0 }, thresholdMs };
  const thresholdUs = thresholdMs * 1e3;
  const self = new Map<string, number>();
  let run: { start: number; samples: { name: string; us: number }[] } | null = null;
  const closeRun = (end: number): void => {
    if (run && end - run.start >= thresholdUs) {
      const ms = (end - run.start) / 1e3;
      out.busy.count++;
      out.busy.totalMs += ms;
      out.busy.maxMs = Math.max(out.busy.maxMs, ms);
      for (const s of run.samples) {
        self.set(s.name, (self.get(s.name) ?? 0) + s.us);
        if (s.name === '(garbage collector)') out.busy.gcMs += s.us / 1e3;
      }
    }
    run = null;
  };
  for (let i = 0; i < profile.samples.length; i++) {
    const at = times[i];
    if (at < window.startUs || at >= window.endUs) continue;
    const next = i + 1 < times.length ? times[i + 1] : profile.endTime;
    const us = next - at;
    if (us >= thresholdUs && us > 4 * spacing) {
      out.gaps.count++;
      out.gaps.totalMs += us / 1e3;
      out.gaps.maxMs = Math.max(out.gaps.maxMs, us / 1e3);
    }
    const frame = byId.get(profile.samples[i])!.callFrame;
    if (frame.functionName === IDLE) {
      closeRun(at);
      continue;
    }
    run ??= { start: at, samples: [] };
    run.samples.push({ name: label(frame), us });
  }
  closeRun(window.endUs);
  out.busyTop = ranked(self, Math.max(1, out.busy.totalMs * 1e3), limit);
  return out;
}
