import { setImmediate as nextTurn } from 'node:timers/promises';

/** Series written between two turns of the event loop. */
const SLICE = 2000;

type LineWriter = (labels: string, value: number) => void;

/** A gauge with a series per item (a partition, a group's partition), read from the broker when scraped. */
interface Family<S> {
  name: string;
  help: string;
  /** Writes every item's series for one scrape, pausing (a yield) after each slice of items. */
  render: (scrape: S, line: LineWriter) => Generator<void>;
}

/**
 * The gauges with a series per partition, written as Prometheus text here rather than through
 * prom-client. prom-client's Gauge hashes every label set into a map and rebuilds it on each
 * scrape, and its registry formats every series and joins them in one go: at 5,000 partitions
 * a scrape held the event loop for 80-90 ms, at 30,000 for 550-750 ms, and every client's
 * request waited that long each time Prometheus came by. These are written straight from the
 * broker's state in slices, each sent on as a chunk of the response, with a turn of the event
 * loop between them so that requests are served in between. `S` is what one scrape read of the
 * broker (its partitions, once): each scrape has its own, so scrapes at once do not share one.
 */
export class SeriesFamilies<S = void> {
  private readonly families: Family<S>[] = [];

  /** A family; `write` gives an item's series as `{label="value",...}` and a value, none for an item without one. */
  add<T>(name: string, help: string, items: (scrape: S) => readonly T[], write: (item: T, line: LineWriter, scrape: S) => void): void {
    const render = function* (scrape: S, line: LineWriter): Generator<void> {
      const all = items(scrape);
      for (let i = 0; i < all.length; i++) {
        if (i > 0 && i % SLICE === 0) yield;
        write(all[i], line, scrape);
      }
    };
    this.families.push({ name, help, render });
  }

  /** A family of one series without labels. */
  single(name: string, help: string, value: (scrape: S) => number): void {
    this.add(name, help, (scrape) => [value(scrape)], (v, line) => line('', v));
  }

  /** Every family in Prometheus's text format, each with its HELP and TYPE lines, a slice at a time. */
  async *chunks(scrape: S): AsyncGenerator<string> {
    for (const f of this.families) {
      let lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} gauge`];
      const slices = f.render(scrape, (labels, value) => void lines.push(`${f.name}${labels} ${formatValue(value)}`));
      while (!slices.next().done) {
        yield `${lines.join('\n')}\n`;
        lines = [];
        await nextTurn();
      }
      yield `${lines.join('\n')}\n\n`;
    }
  }
}

/** Every item of `items`, taken a slice at a time with a turn of the event loop between slices. */
export async function takeSliced<T>(items: Iterable<T>): Promise<T[]> {
  const out: T[] = [];
  for (const item of items) {
    if (out.length > 0 && out.length % SLICE === 0) await nextTurn();
    out.push(item);
  }
  return out;
}

/** `{name="value",...}` with each value escaped as the text format asks (backslash, quote, newline). */
export function labelSet(labels: Record<string, string | number>): string {
  let s = '';
  for (const name in labels) s += `${s === '' ? '{' : ','}${name}="${escapeLabelValue(String(labels[name]))}"`;
  return s === '' ? '' : `${s}}`;
}

function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}
