/**
 * Delayed delivery benchmark: an embedded broker, records produced over the wire with random
 * sluice-delay-ms headers, and the broker's deliverer reporting when each batch got into its
 * partition, so lateness is measured where it arises (no consumer's fetch wait in it).
 *
 *   npm run bench:delay
 *
 * Environment:
 *   SLUICE_BENCH_DELAY_MSGS      records scheduled and delivered (default 1,000,000)
 *   SLUICE_BENCH_DELAY_MAX_MS    delays are uniform in [0, this] (default 60,000)
 *   SLUICE_BENCH_DELAY_PENDING   records then scheduled an hour or more ahead, to watch the
 *                                broker's memory while they are held (default 10,000,000; 0 skips)
 *   SLUICE_BENCH_DIR             parent of the scratch directory (default the system's temp dir)
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { KafkaClient } from '../src/client/kafka-client.js';
import { describeTopic } from '../src/client/topics.js';
import { createTopic } from '../src/broker/topic-creation.js';
import { startBroker, type EmbeddedBroker } from '../src/embedded.js';
import { envCount } from './support/env.js';
import { fmt, table } from './support/measure.js';

const MSGS = envCount('SLUICE_BENCH_DELAY_MSGS', 1_000_000);
const MAX_DELAY_MS = envCount('SLUICE_BENCH_DELAY_MAX_MS', 60_000);
const PENDING = envCount('SLUICE_BENCH_DELAY_PENDING', 10_000_000, 0);
const PARTITIONS = 4;
/** Lateness histogram resolution: one bucket per millisecond up to a minute, the rest in the last. */
const HISTOGRAM_MS = 60_000;

const mib = (bytes: number): string => fmt(bytes / 2 ** 20);

function memory(): { rss: number; heap: number } {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/**
 * Produces `count` records with delays in [minDelayMs, minDelayMs + spreadMs] from a child
 * process, so the client's work shares neither the broker's event loop (its timers) nor its
 * memory figures. Returns records per second; `onProgress` hears of every million sent.
 */
function schedule(bootstrap: string, topic: string, count: number, minDelayMs: number, spreadMs: number, onProgress?: (sent: number) => void): Promise<number> {
  const child = fork(fileURLToPath(new URL('./delay/schedule-producer.ts', import.meta.url)), [JSON.stringify({ bootstrap, topic, count, minDelayMs, spreadMs })], { execArgv: ['--import', 'tsx'] });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { sent?: number; rate?: number }) => {
      if (m.sent !== undefined) onProgress?.(m.sent);
      if (m.rate !== undefined) resolve(m.rate);
    });
    child.on('error', reject);
    child.on('exit', (code) => code !== 0 && reject(new Error(`the scheduling producer exited with ${code}`)));
  });
}

function quantile(histogram: Uint32Array, total: number, q: number): number {
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let ms = 0; ms < histogram.length; ms++) {
    seen += histogram[ms];
    if (seen >= rank) return ms;
  }
  return histogram.length - 1;
}

/** A new topic, once every partition has its leader. */
async function createLedTopic(client: KafkaClient, embedded: EmbeddedBroker, name: string): Promise<void> {
  await createTopic(embedded.broker, { name, numPartitions: PARTITIONS, replicationFactor: 1, configs: new Map() });
  for (;;) {
    const topic = await describeTopic(client, name).catch(() => null);
    if (topic && topic.partitions.every((p) => p.leaderId >= 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(process.env.SLUICE_BENCH_DIR ?? tmpdir(), 'sluice-bench-delay-'));
  const embedded = await startBroker({ config: { 'log.dirs': dir, 'sluice.console.listener': '' } });
  const client = new KafkaClient({ brokers: [embedded.bootstrap], clientId: 'bench-delay' });
  const deliverer = embedded.broker.delayed.deliverer;
  try {
    const histogram = new Uint32Array(HISTOGRAM_MS + 1);
    let delivered = 0;
    let early = 0;
    deliverer.onDelivered = (dueTimes, at) => {
      for (const due of dueTimes) {
        if (at < due) early++;
        histogram[Math.min(HISTOGRAM_MS, Math.max(0, at - due))]++;
      }
      delivered += dueTimes.length;
    };
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const before = memory();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await createLedTopic(client, embedded, 'delayed');
    const rate = await schedule(embedded.bootstrap, 'delayed', MSGS, 0, MAX_DELAY_MS);
    const scheduledIn = performance.now() - started;
    const held = memory();
    const heldCount = embedded.broker.delayed.heldByMinute().reduce((n, [, c]) => n + c, 0);
    while (delivered < MSGS) await new Promise((resolve) => setTimeout(resolve, 100));
    const wall = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const after = memory();
    console.log(`${MSGS.toLocaleString('en-US')} records, 100 B values, delays uniform in [0, ${MAX_DELAY_MS} ms], ${PARTITIONS} partitions, acks=1`);
    console.log(
      table(
        ['measure', 'value'],
        [
          ['scheduling throughput (records/s)', fmt(rate)],
          ['scheduling time (s)', fmt(scheduledIn / 1000)],
          ['held when scheduling ended', heldCount.toLocaleString('en-US')],
          ['delivered before due (must be 0)', String(early)],
          ['lateness p50 (ms)', String(quantile(histogram, MSGS, 0.5))],
          ['lateness p99 (ms)', String(quantile(histogram, MSGS, 0.99))],
          ['lateness p99.9 (ms)', String(quantile(histogram, MSGS, 0.999))],
          ['lateness max (ms)', String(quantile(histogram, MSGS, 1))],
          ['event loop delay p99 / max (ms)', `${fmt(loopDelay.percentile(99) / 1e6)} / ${fmt(loopDelay.max / 1e6)}`],
          ['RSS before / held / after (MiB)', `${mib(before.rss)} / ${mib(held.rss)} / ${mib(after.rss)}`],
          ['heap used before / held / after (MiB)', `${mib(before.heap)} / ${mib(held.heap)} / ${mib(after.heap)}`],
          ['CPU user + system (s), whole run', fmt((cpu.user + cpu.system) / 1e6)],
          ['wall (s), whole run', fmt(wall / 1000)],
        ],
      ),
    );
    if (PENDING > 0) await holdMany(client, embedded);
  } finally {
    deliverer.onDelivered = null;
    await client.close();
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Schedules PENDING records an hour or more ahead and samples memory as they pile up. */
async function holdMany(client: KafkaClient, embedded: EmbeddedBroker): Promise<void> {
  await createLedTopic(client, embedded, 'held');
  const rows: string[][] = [];
  const sample = (sent: number): void => {
    const m = memory();
    rows.push([sent.toLocaleString('en-US'), mib(m.rss), mib(m.heap)]);
  };
  sample(0);
  const rate = await schedule(embedded.bootstrap, 'held', PENDING, 3_600_000, 3_600_000, sample);
  if (PENDING % 1_000_000 !== 0) sample(PENDING);
  console.log(`\n${PENDING.toLocaleString('en-US')} records held (due in 1-2 h), scheduled at ${fmt(rate)} records/s`);
  console.log(table(['held', 'RSS (MiB)', 'heap used (MiB)'], rows));
}

await main();
