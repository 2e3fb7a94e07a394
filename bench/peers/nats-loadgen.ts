/**
 * Load generator for NATS JetStream in the peers benchmark (bench/peers.ts), on NATS's own
 * JavaScript client (npm `nats`): no C client of JetStream installs here, and this is the
 * one the NATS project ships for Node. Run as its own process (node --import tsx), so its CPU
 * is its own and it gets the benchmark's priority like the C generators; it takes their
 * options and prints one JSON line in the shape of theirs.
 *
 *   nats-loadgen produce --bootstrap H:P --topic STREAM --count N --size S [--window 1000] [--rate MSGS_PER_SEC]
 *                        [--max-seconds 0]
 *   nats-loadgen consume --bootstrap H:P --topic STREAM --count N [--batch 10000] [--consumers 1]
 *
 * produce keeps up to --window JetStream publishes (each acknowledged once stored) in flight;
 * with --rate each is sent at its slot, in 1 ms steps as loadgen serves its slots, and timed
 * from the publish call to its acknowledgement; with --max-seconds it stops publishing then,
 * short of --count, and reports what was stored. produce creates the stream (file storage, one
 * subject named as the stream) before its clock starts. consume reads it from its start with
 * an ordered consumer, the client's fastest way to read a whole stream.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, StorageType, type NatsConnection } from 'nats';
import { LatencySamples, nowNs } from '../support/resources.js';

interface Options {
  mode: string;
  bootstrap: string;
  topic: string;
  count: number;
  size: number;
  window: number;
  rate: number;
  batch: number;
  maxSeconds: number;
  /** One consumer only; taken so that the Kafka generator's consume options fit. */
  consumers: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { mode: argv[0] ?? '', bootstrap: '', topic: '', count: 0, size: 0, window: 1000, rate: 0, batch: 10_000, maxSeconds: 0, consumers: 1 };
  const numeric = new Set(['count', 'size', 'window', 'rate', 'batch', 'maxSeconds', 'consumers']);
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const value = argv[i + 1];
    if (value === undefined || !(key in o) || key === 'mode') throw new Error(`nats-loadgen: bad option ${argv[i]}`);
    if (numeric.has(key)) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`nats-loadgen: ${argv[i]}: not a number: ${value}`);
      (o as unknown as Record<string, number>)[key] = n;
    } else (o as unknown as Record<string, string>)[key] = value;
  }
  if (!o.bootstrap || !o.topic || !o.count) throw new Error('nats-loadgen: --bootstrap, --topic and --count are required');
  if (o.consumers !== 1) throw new Error('nats-loadgen: --consumers must be 1');
  return o;
}

/** The run's own CPU, as getrusage gives the C generators theirs. */
function cpuWindow(): () => { cpuUserSeconds: number; cpuSystemSeconds: number } {
  const start = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(start);
    return { cpuUserSeconds: used.user / 1e6, cpuSystemSeconds: used.system / 1e6 };
  };
}

function percentiles(s: LatencySamples): Record<string, number> {
  return { count: s.count, p50: s.percentileUs(0.5), p99: s.percentileUs(0.99), p999: s.percentileUs(0.999), max: s.maxUs() };
}

async function produce(nc: NatsConnection, o: Options): Promise<Record<string, unknown>> {
  if (!o.size) throw new Error('nats-loadgen: --size is required');
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: o.topic, subjects: [o.topic], storage: StorageType.File });
  const js = nc.jetstream();
  const payload = new Uint8Array(o.size).map((_, i) => 97 + (i % 26));
  const latency = new LatencySamples();
  const interval = o.rate > 0 ? 1e9 / o.rate : 0;
  const window = interval > 0 ? Number.POSITIVE_INFINITY : o.window;
  let inFlight = 0;
  let acked = 0;
  let failed = 0;
  let firstError: string | null = null;
  let slotFree: (() => void) | null = null;
  const publish = (): void => {
    const sentAt = nowNs();
    inFlight++;
    js.publish(o.topic, payload).then(
      () => {
        latency.add(nowNs() - sentAt);
        acked++;
      },
      (e: Error) => {
        if (failed++ === 0) firstError = e.message;
      },
    ).finally(() => {
      inFlight--;
      slotFree?.();
    });
  };

  const cpu = cpuWindow();
  const t0 = nowNs();
  const deadline = o.maxSeconds > 0 ? t0 + o.maxSeconds * 1e9 : Number.POSITIVE_INFINITY;
  for (let i = 0; i < o.count && nowNs() < deadline; i++) {
    if (interval > 0) {
      const wait = t0 + i * interval - nowNs();
      if (wait > 0) await sleep(wait / 1e6);
    }
    while (inFlight >= window) await new Promise<void>((resolve) => (slotFree = resolve));
    publish();
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (slotFree = resolve));
  const seconds = (nowNs() - t0) / 1e9;
  return { mode: 'produce', topic: o.topic, partitions: 1, size: o.size, msgs: acked, failed, firstError, bytes: acked * o.size, seconds, ...cpu(), latencyUs: percentiles(latency) };
}

async function consume(nc: NatsConnection, o: Options): Promise<Record<string, unknown>> {
  const consumer = await nc.jetstream().consumers.get(o.topic);
  let msgs = 0;
  let bytes = 0;
  const cpu = cpuWindow();
  const t0 = nowNs();
  const messages = await consumer.consume({ max_messages: o.batch });
  for await (const m of messages) {
    bytes += m.data.length;
    if (++msgs === o.count) break;
  }
  const seconds = (nowNs() - t0) / 1e9;
  return { mode: 'consume', topic: o.topic, partitions: 1, consumers: 1, msgs, bytes, errors: 0, seconds, ...cpu() };
}

const options = parseOptions(process.argv.slice(2));
const nc = await connect({ servers: options.bootstrap, noEcho: true });
const run = options.mode === 'produce' ? produce : options.mode === 'consume' ? consume : null;
if (run === null) throw new Error(`nats-loadgen: unknown mode ${options.mode} (produce or consume)`);
console.log(JSON.stringify(await run(nc, options)));
await nc.close();
