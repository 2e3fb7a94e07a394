import { formatTable } from '../../../src/cli/output.js';
import { promisesNoLoss, type FaultRunReport } from './run.js';

/** A run's report for a terminal: its settings, a row per fault, the counts, the replicas, and the verdict. */
export function formatReport(r: FaultRunReport): string {
  const s = r.settings;
  const producer = s.acks === 'all' ? 'acks=all, idempotent producers' : 'acks=1, producers without idempotence';
  const out: string[] = [
    `${s.brokers} brokers, ${s.partitions} partitions x ${s.brokers} replicas, min.insync.replicas=${s.minInsyncReplicas}, ${producer}, unclean leader election ${s.unclean ? 'on' : 'off'}`,
    `${r.rounds} round(s) of ${s.faults.join(', ')}; ${s.producers} producers x ${s.rate} msg/s; session timeout ${s.sessionTimeoutMs} ms, replica lag ${s.lagTimeMs} ms; seed ${s.seed}`,
    `${r.durationS} s; load average ${r.loadAverage.start.join(' ')} at the start, ${r.loadAverage.end.join(' ')} at the end (2 cores)`,
    '',
    formatTable(
      ['#', 'fault', 'at (s)', 'healed after (s)', 'recovered after (s)', 'lost', 'what'],
      r.faults.map((f, i) => [i + 1, f.kind, f.atS, f.healedAfterS, f.recoveredAfterS ?? 'never', f.lost, f.what + (f.notes.length ? ` [${f.notes.join('; ')}]` : '')]),
    ),
    `faults by kind: ${Object.entries(r.faultsByKind).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    '',
    formatTable(
      Object.keys(r.messages).map((k) => k.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)),
      [Object.values(r.messages)],
    ),
  ];
  const reasons = Object.entries(r.failureReasons);
  if (reasons.length > 0) out.push(`failed deliveries: ${reasons.map(([e, n]) => `${n} x ${e}`).join('; ')}`);
  const restarted = r.producers.filter((p) => p.exit !== 'finished');
  if (restarted.length > 0) out.push(`producers that did not finish as asked: ${restarted.map((p) => `from ${p.first}: ${p.exit}`).join('; ')}`);
  out.push(
    '',
    formatTable(
      ['partition', 'leader', 'isr', 'log end', 'bytes', 'sha-256 of each replica', 'identical'],
      r.replicas.map((p) => [
        p.partition,
        p.leader,
        p.isr.join(','),
        [...new Set(p.replicas.map((x) => x.logEnd))].join('/'),
        [...new Set(p.replicas.map((x) => x.bytes))].join('/'),
        p.replicas.map((x) => `${x.broker}:${x.sha256.slice(0, 12)}`).join(' '),
        p.identical ? 'yes' : 'NO',
      ]),
    ),
  );
  const examples = Object.entries(r.examples).filter(([, list]) => list.length > 0);
  for (const [what, list] of examples) out.push(`${what} (first ${list.length}): ${JSON.stringify(list)}`);
  if (r.allowed.length > 0) {
    out.push(`allowed by these settings (${promisesNoLoss(s) ? '' : 'no '}promise of no acknowledged loss): ${r.allowed.join('; ')}`);
  }
  out.push(r.violations.length === 0 ? 'verdict: OK, no violation of what these settings promise' : `verdict: FAILED\n${r.violations.map((v) => `  - ${v}`).join('\n')}`);
  return out.join('\n') + '\n';
}
