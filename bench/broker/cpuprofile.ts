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
