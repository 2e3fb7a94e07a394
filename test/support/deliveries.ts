import assert from 'node:assert/strict';
import { assertSucceeded, runCommand } from './commands.js';
import { messageValue, type ConsumedRecord, type ProducerRun } from './python-clients.js';

/**
 * What clients were told about each message they sent, in one shape for kcat and produce.py,
 * and the check that a log holds exactly what was acknowledged.
 */

/** A message as it is in the log: where it is and what it holds. */
export interface Placed {
  partition: number;
  offset: number;
  value: string;
}

export interface Delivery {
  acked: Placed[];
  /** The error of each failed delivery, as the client says it. */
  failures: string[];
}

/** produce.py's outcome in that shape; its values padded to `valueBytes` as it was told. */
export function deliveryOf(run: ProducerRun, valueBytes = 0): Delivery {
  return {
    acked: run.acks.map((a) => ({ partition: a.partition, offset: a.offset, value: messageValue(a.n, valueBytes) })),
    failures: run.failures.map((f) => f.error),
  };
}

/** kcat's line n, of 1000 bytes; its number leads so that every line is distinct. */
export const kcatLine = (n: number): string => `l${String(n).padStart(8, '0')}`.padEnd(1000, '~');

/**
 * kcat -P of lines [first, first + count) to one partition, acks=all and no retries, so that
 * any error the broker answers reaches the delivery report. -vv prints one report per message,
 * in the order the messages were sent (one partition, one request in flight at a time).
 */
export async function kcatProduce(bootstrap: string, topic: string, partition: number, first: number, count: number): Promise<Delivery> {
  const input = Array.from({ length: count }, (_, i) => `${kcatLine(first + i)}\n`).join('');
  const args = ['-b', bootstrap, '-P', '-t', topic, '-p', String(partition), '-X', 'acks=all', '-X', 'retries=0', '-X', 'max.in.flight=1', '-vv'];
  const r = await runCommand('kcat', args, { timeoutMs: 60_000, input });
  const delivery: Delivery = { acked: [], failures: [] };
  let n = first;
  for (const line of r.stderr.split('\n')) {
    const ok = /Message delivered to partition (\d+) \(offset (\d+)\)/.exec(line);
    const failed = /Delivery failed for message: (.*)/.exec(line);
    if (ok) delivery.acked.push({ partition: Number(ok[1]), offset: Number(ok[2]), value: kcatLine(n++) });
    else if (failed) {
      delivery.failures.push(failed[1]);
      n++;
    }
  }
  assert.equal(n - first, count, `kcat reported ${n - first} deliveries of ${count}; it exited with ${r.code}:\n${r.stderr.slice(-2000)}`);
  return delivery;
}

/**
 * The log holds exactly the acknowledged messages: each at the partition and offset it was
 * acknowledged with, none twice, none that was refused, and no offset skipped. `records` come
 * in offset order within each partition, from its start.
 */
export function assertHoldsExactly(records: ConsumedRecord[], acked: Placed[], topic: string): void {
  const at = new Map(records.map((r) => [`${r.p}:${r.o}`, r.v]));
  for (const a of acked) assert.equal(at.get(`${a.partition}:${a.offset}`), a.value, `${topic}: the record acknowledged at ${a.partition}:${a.offset}`);
  const ackedValues = new Set(acked.map((a) => a.value));
  const stray = records.filter((r) => !ackedValues.has(r.v ?? ''));
  assert.deepEqual(
    stray.map((r) => `${r.p}:${r.o} ${r.v?.slice(0, 9)}`),
    [],
    `${topic}: records that were never acknowledged (refused with an error, yet written)`,
  );
  assert.equal(records.length, acked.length, `${topic}: ${records.length} records for ${acked.length} acknowledgements`);
  const next = new Map<number, number>();
  for (const r of records) {
    assert.equal(r.o, next.get(r.p) ?? 0, `${topic}-${r.p}: offsets run on without a gap`);
    next.set(r.p, r.o + 1);
  }
}

/** kcat -C of every partition of a topic from the beginning to its end, in offset order within each partition. */
export async function kcatConsume(bootstrap: string, topic: string): Promise<ConsumedRecord[]> {
  const r = await runCommand('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-J'], { timeoutMs: 60_000 });
  assertSucceeded(r, `kcat -C -t ${topic}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = JSON.parse(l) as { partition: number; offset: number; key: string | null; payload: string | null };
      return { p: m.partition, o: m.offset, k: m.key, v: m.payload };
    });
}

/**
 * A consumer read every acknowledged message, each partition in offset order from its first
 * acknowledged one, with no gap and nothing it was never told about. A consumer that rejoined
 * its group starts again at the group's committed offset, which may be behind what it had
 * read: up to `rejoins` times per partition it may go back and read on from there.
 * `records` are as read, in the order read.
 */
export function assertReadInOrder(records: readonly ConsumedRecord[], acked: readonly Placed[], topic: string, rejoins = 0): void {
  const partitions = [...new Set([...acked.map((a) => a.partition), ...records.map((r) => r.p)])].sort((a, b) => a - b);
  for (const p of partitions) {
    const values = new Map(acked.filter((a) => a.partition === p).map((a) => [a.offset, a.value]));
    const first = Math.min(...values.keys());
    let next = first;
    let rewinds = 0;
    for (const [i, r] of records.filter((x) => x.p === p).entries()) {
      const where = `${topic}-${p}: read #${i}, offset ${r.o} (the next was ${next})`;
      assert.ok(r.o <= next && r.o >= first, `${where}: ${r.o > next ? 'offsets were skipped' : 'before the first acknowledged offset'}`);
      if (r.o < next && ++rewinds > rejoins) assert.fail(`${where}: read again, ${rewinds} times, with ${rejoins} rejoins`);
      assert.equal(r.v, values.get(r.o), `${where}: the value acknowledged there`);
      next = r.o + 1;
    }
    assert.equal(next, first + values.size, `${topic}-${p}: read up to ${next} of ${values.size} acknowledged from ${first}`);
  }
}
