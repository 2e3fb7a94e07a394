import { Option, type Command } from 'commander';
import { DUE_WITHIN } from '../delay/due-buckets.js';
import { CliError } from './errors.js';
import { formatFields, formatTable } from './output.js';

interface ListOptions {
  console: string;
}

/** One sample of a metric in Prometheus's text format: `name{label="v"} value`. */
function samples(text: string, name: string): { labels: string; value: number }[] {
  const found: { labels: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === name) found.push({ labels: m[2] ?? '', value: Number(m[3]) });
  }
  return found;
}

const labelValue = (labels: string, label: string): string | undefined => new RegExp(`${label}="([^"]*)"`).exec(labels)?.[1];

/**
 * What a broker holds for delayed delivery, from its /metrics (the console listener): the
 * Kafka protocol has no request that would say.
 */
async function list(opts: ListOptions): Promise<void> {
  const url = new URL('/metrics', opts.console);
  let text: string;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    text = await res.text();
  } catch (e) {
    throw new CliError(`could not read ${url}: ${(e as Error).message} (the broker's sluice.console.listener; set it with --console)`);
  }
  const pending = samples(text, 'sluice_delayed_pending_records');
  if (pending.length === 0) throw new CliError(`${url} has no sluice_delayed_* metrics: is it a Sluice broker?`);
  const byBucket = new Map(pending.map((s) => [labelValue(s.labels, 'due_within'), s.value]));
  const rows = DUE_WITHIN.map(([label]) => [label === 'overdue' || label === 'later' ? label : `within ${label}`, byBucket.get(label) ?? 0]);
  process.stdout.write(formatTable(['due', 'records'], rows));
  const total = (outcome: string): number => samples(text, 'sluice_delayed_records_total').find((s) => labelValue(s.labels, 'outcome') === outcome)?.value ?? 0;
  process.stdout.write(
    '\n' +
      formatFields([
        ['held', pending.reduce((n, s) => n + s.value, 0)],
        ['delivered', total('delivered')],
        ['dropped', total('dropped')],
        ['last lateness ms', samples(text, 'sluice_delayed_last_lateness_ms')[0]?.value ?? 0],
      ]),
  );
}

/** `sluice delayed list`: records held for delayed delivery by a broker. */
export function registerDelayed(program: Command): void {
  const delayed = program.command('delayed').description('Records held for delayed delivery (sluice-delay-ms, sluice-deliver-at)');
  delayed
    .command('list')
    .description('Count the records a broker holds, by how soon they are due, and those it delivered')
    .addOption(new Option('--console <url>', "the broker's web console (sluice.console.listener), where /metrics is").env('SLUICE_CONSOLE').default('http://127.0.0.1:8080'))
    .action((opts: ListOptions) => list(opts));
}
