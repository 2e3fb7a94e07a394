// Fault injection in the style of Jepsen's Kafka and Redpanda analyses: etcd and brokers in
// network namespaces, idempotent librdkafka producers and a reader running throughout, faults
// one after another, then the checks. Prints a table per fault and the counts, then the report
// as JSON. Exit status: 0 when nothing broke what the settings promise, 1 when something did,
// 2 for a usage error or a machine that cannot run it (it needs root, etcd, ip and nft).
//
//   npm run faults -- [--rounds N] [--faults kill-leader,pause,...] [--acks all|1] [--unclean]
//                     [--partitions N] [--producers N] [--rate MSG_PER_S] [--fault-ms MS]
//                     [--recovery-ms MS] [--session-ms MS] [--lag-ms MS] [--seed N]
//                     [--json FILE] [--logs DIR]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { clusterSkip } from '../test/support/cluster.js';
import { skipUnlessPresent, confluentKafka } from '../test/support/tools.js';
import { FAULT_KINDS, type FaultKind } from '../test/support/faults/nemesis.js';
import { formatReport } from '../test/support/faults/report.js';
import { DEFAULT_OPTIONS, runFaultInjection, type FaultRunOptions } from '../test/support/faults/run.js';

function usage(message: string): never {
  process.stderr.write(`fault-injection: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    rounds: { type: 'string' },
    faults: { type: 'string' },
    acks: { type: 'string' },
    unclean: { type: 'boolean' },
    partitions: { type: 'string' },
    producers: { type: 'string' },
    rate: { type: 'string' },
    'fault-ms': { type: 'string' },
    'recovery-ms': { type: 'string' },
    'settle-ms': { type: 'string' },
    'session-ms': { type: 'string' },
    'lag-ms': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'string' },
    logs: { type: 'string' },
  },
  strict: true,
});

function count(name: keyof typeof values, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} takes a whole number, not "${String(v)}"`);
  return n;
}

const faults = (values.faults?.split(',') ?? DEFAULT_OPTIONS.faults).map((f) => f.trim());
for (const f of faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) usage(`unknown fault "${f}"; the faults are ${FAULT_KINDS.join(', ')}`);
if (values.acks !== undefined && values.acks !== 'all' && values.acks !== '1') usage(`--acks takes all or 1, not "${values.acks}"`);

const options: Partial<FaultRunOptions> = {
  rounds: count('rounds', DEFAULT_OPTIONS.rounds),
  faults: faults as FaultKind[],
  acks: (values.acks as 'all' | '1' | undefined) ?? DEFAULT_OPTIONS.acks,
  unclean: values.unclean ?? false,
  partitions: count('partitions', DEFAULT_OPTIONS.partitions),
  producers: count('producers', DEFAULT_OPTIONS.producers),
  rate: count('rate', DEFAULT_OPTIONS.rate),
  faultMs: count('fault-ms', DEFAULT_OPTIONS.faultMs),
  recoveryMs: count('recovery-ms', DEFAULT_OPTIONS.recoveryMs),
  settleMs: count('settle-ms', DEFAULT_OPTIONS.settleMs),
  sessionTimeoutMs: count('session-ms', DEFAULT_OPTIONS.sessionTimeoutMs),
  lagTimeMs: count('lag-ms', DEFAULT_OPTIONS.lagTimeMs),
  seed: count('seed', DEFAULT_OPTIONS.seed),
  logsDir: values.logs,
  log: (line) => process.stderr.write(`${line}\n`),
};

let cannot: string | false;
try {
  cannot = clusterSkip('netns') || skipUnlessPresent(confluentKafka);
} catch (e) {
  cannot = (e as Error).message;
}
if (cannot) usage(`cannot run here: ${cannot}`);

const report = await runFaultInjection(options);
process.stdout.write(formatReport(report));
const json = JSON.stringify(report, null, 2);
if (values.json) writeFileSync(values.json, `${json}\n`);
else process.stdout.write(`${json}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
