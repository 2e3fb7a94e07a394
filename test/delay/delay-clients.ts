import kafkajs from 'kafkajs';
import { assertSucceeded, runCommand } from '../support/commands.js';

/** A record as a consumer sees it, with when it saw it. */
export interface Seen {
  key: string;
  value: string;
  timestamp: number;
  headers: Record<string, string>;
  seenAt: number;
}

export function kafkaClient(bootstrap: string): kafkajs.Kafka {
  return new kafkajs.Kafka({ clientId: 'delay-test', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 3 } });
}

export async function createTopic(kafka: kafkajs.Kafka, topic: string, partitions = 1, configs: Record<string, string> = {}): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }] });
  } finally {
    await admin.disconnect();
  }
}

/**
 * A consumer that notes when each record arrives: it reads from the beginning, so it sees every
 * record once it is in the topic, and nothing before.
 */
export async function watch(kafka: kafkajs.Kafka, topic: string): Promise<{ seen: Seen[]; events: string[]; stop(): Promise<void> }> {
  const seen: Seen[] = [];
  const consumer = kafka.consumer({ groupId: `watch-${topic}-${Date.now()}`, maxWaitTimeInMs: 100 });
  // What the consumer went through, for a failure's message: a watcher that sees nothing must say why.
  const events: string[] = [];
  const started = Date.now();
  const note = (what: string) => events.push(`+${Date.now() - started} ms ${what}`);
  const { CRASH, GROUP_JOIN, REQUEST_TIMEOUT } = consumer.events;
  consumer.on(GROUP_JOIN, (e) => note(`joined in ${e.payload.duration} ms`));
  consumer.on(CRASH, (e) => note(`crashed: ${e.payload.error.message}`));
  consumer.on(REQUEST_TIMEOUT, (e) => note(`request timed out: ${e.payload.apiName}`));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push({ key: String(message.key), value: String(message.value), timestamp: Number(message.timestamp), headers, seenAt: Date.now() });
    },
  });
  note('running');
  return { seen, events, stop: () => consumer.disconnect() };
}

/** Every record in the topic now, read by kcat from the beginning to the end. */
export async function readWithKcat(bootstrap: string, topic: string): Promise<{ key: string; value: string; timestamp: number; headers: string }[]> {
  const r = await runCommand('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%T|%k|%s|%h\\n'], { timeoutMs: 60_000 });
  assertSucceeded(r, `kcat -C -t ${topic}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [timestamp, key, value, headers] = l.split('|');
      return { key, value, timestamp: Number(timestamp), headers };
    });
}

/** Waits until `done()` or the deadline; false on the deadline. */
export async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** p50, p99 and max of a list of numbers. */
export function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}
