import { fmt, table } from '../support/measure.js';
import type { PeerLoad, PeerPhase, PhaseName } from './phases.js';

/** The peers benchmark's report: every target's runs, then Sluice's figures over each peer's. */

export interface TargetResult {
  name: string;
  durability: string;
  client: string | null;
  /** Why it did not run, with the command that installs what it needs; null when it ran. */
  missing: string | null;
  phases: PeerPhase[];
}

export interface PeersReport {
  date: string;
  command: string;
  seconds: number;
  machine: Record<string, string>;
  load: PeerLoad;
  targets: TargetResult[];
  ratios: Ratio[];
}

/** Sluice's figure over the peer's: above 1 Sluice moves more, or (latency, CPU) costs more. */
export interface Ratio {
  sluice: string;
  peer: string;
  size: '100 B' | '1 KiB';
  produceMsgsPerSec: number | null;
  produceMbPerSec: number | null;
  consumeMsgsPerSec: number | null;
  consumeMbPerSec: number | null;
  /** Of the paced run (100 B only); null when either side fell short of the rate (its p99 is then queueing). */
  pacedP99: number | null;
  produceCpuPerMillion: number | null;
  consumeCpuPerMillion: number | null;
}

/** Which Sluice is set against which peer: like durability with like. */
export const PAIRS: readonly (readonly [string, string])[] = [
  ['sluice', 'redis everysec'],
  ['sluice', 'redis always'],
  ['sluice sync', 'redis always'],
  ['sluice', 'nats'],
];

/** A paced run that delivered less than this share of its rate was saturated: its latency is its backlog. */
const HELD_RATE = 0.95;

export const heldRate = (p: PeerPhase, rate: number): boolean => p.msgsPerSec >= rate * HELD_RATE;

export function ratios(results: readonly TargetResult[], rate: number): Ratio[] {
  const byName = new Map(results.filter((r) => r.missing === null).map((r) => [r.name, r]));
  const out: Ratio[] = [];
  for (const [sluiceName, peerName] of PAIRS) {
    const s = byName.get(sluiceName);
    const p = byName.get(peerName);
    if (!s || !p) continue;
    const ratio = (phase: PhaseName, value: (x: PeerPhase) => number | undefined): number | null => {
      const a = s.phases.find((x) => x.phase === phase);
      const b = p.phases.find((x) => x.phase === phase);
      const va = a && value(a);
      const vb = b && value(b);
      return va === undefined || vb === undefined || vb === 0 ? null : va / vb;
    };
    for (const size of ['100 B', '1 KiB'] as const) {
      out.push({
        sluice: sluiceName,
        peer: peerName,
        size,
        produceMsgsPerSec: ratio(`produce ${size}`, (x) => x.msgsPerSec),
        produceMbPerSec: ratio(`produce ${size}`, (x) => x.mbPerSec),
        consumeMsgsPerSec: ratio(`consume ${size}`, (x) => x.msgsPerSec),
        consumeMbPerSec: ratio(`consume ${size}`, (x) => x.mbPerSec),
        pacedP99: size === '100 B' ? ratio('paced 100 B', (x) => (heldRate(x, rate) ? x.latencyUs?.p99 : undefined)) : null,
        produceCpuPerMillion: ratio(`produce ${size}`, (x) => x.server.cpuSecondsPerMillion),
        consumeCpuPerMillion: ratio(`consume ${size}`, (x) => x.server.cpuSecondsPerMillion),
      });
    }
  }
  return out;
}

const ms = (us: number): string => (us / 1e3).toFixed(2);
const pct = (share: number): string => `${Math.round(share * 100)}%`;
const x = (r: number | null): string => (r === null ? '-' : `${r.toFixed(2)}x`);

export function formatReport(r: PeersReport): string {
  const out: string[] = [];
  out.push(`# peers benchmark, ${r.date}`, '');
  out.push(`command: ${r.command} (${fmt(r.seconds)} s)`);
  out.push(`machine: ${Object.entries(r.machine).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const l = r.load;
  out.push(
    `load: ${l.msgs100.toLocaleString('en-US')} x 100 B and ${l.msgs1KiB.toLocaleString('en-US')} x 1 KiB produced (a peer stops after ${l.maxSeconds} s) then consumed, one stream/partition; ` +
      `paced 100 B at ${l.rate.toLocaleString('en-US')} msgs/s for ${l.pacedSeconds} s`,
    '',
  );
  for (const t of r.targets) out.push(`- ${t.name}: ${t.missing === null ? `${t.durability}; client ${t.client}` : `MISSING (${t.missing})`}`);
  out.push('');
  const rows = r.targets.flatMap((t) =>
    t.phases.map((p) => [
      t.name,
      p.phase,
      p.msgs === p.requested ? fmt(p.msgs) : `${fmt(p.msgs)} of ${fmt(p.requested)}`,
      fmt(p.msgsPerSec),
      fmt(p.mbPerSec),
      p.latencyUs && p.phase.startsWith('paced') ? `${ms(p.latencyUs.p50)} / ${ms(p.latencyUs.p99)} / ${ms(p.latencyUs.p999)}${heldRate(p, r.load.rate) ? '' : ' (rate not held)'}` : '-',
      p.server.cpuSecondsPerMillion.toFixed(2),
      fmt(p.server.peakRssMB),
      pct(p.clientCpuOfWall),
      pct(p.othersShare),
    ]),
  );
  out.push(table(['server', 'run', 'msgs', 'msgs/s', 'MB/s', 'p50/p99/p999 ms', 'server CPU s/M msgs', 'server RSS MB', 'client CPU', 'others'], rows), '');
  out.push('Sluice / peer (throughput above 1x: Sluice moves more; p99 and CPU below 1x: Sluice waits or spends less; paced p99 "-" where a side did not hold the rate)', '');
  out.push(
    table(
      ['sluice / peer', 'size', 'produce msgs/s', 'produce MB/s', 'consume msgs/s', 'consume MB/s', 'paced p99', 'produce CPU/M', 'consume CPU/M'],
      r.ratios.map((q) => [`${q.sluice} / ${q.peer}`, q.size, x(q.produceMsgsPerSec), x(q.produceMbPerSec), x(q.consumeMsgsPerSec), x(q.consumeMbPerSec), x(q.pacedP99), x(q.produceCpuPerMillion), x(q.consumeCpuPerMillion)]),
    ),
  );
  const missing = r.targets.filter((t) => t.missing !== null);
  if (missing.length > 0) out.push('', `missing: ${missing.map((t) => `${t.name} (${t.missing})`).join('; ')}`);
  return out.join('\n');
}
