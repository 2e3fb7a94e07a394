import { request } from 'node:http';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

export interface ConsoleBroker extends InProcessBroker {
  /** http://127.0.0.1:PORT of the console. */
  base: string;
  kafka: Kafka;
}

/** A broker with its console on a free loopback port, quick to form groups. */
export async function startConsoleBroker(): Promise<ConsoleBroker> {
  const broker = await startTestBroker({ 'sluice.console.listener': '127.0.0.1:0', 'group.initial.rebalance.delay.ms': '0' });
  const port = broker.broker.consolePort;
  if (port === null) throw new Error('the console did not start');
  const kafka = new Kafka({ clientId: 'console-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  return { ...broker, base: `http://127.0.0.1:${port}`, kafka };
}

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: T;
}

/**
 * One HTTP request through node:http rather than fetch, which would not let a test send the
 * Host and Origin headers of a hostile page.
 */
export function http<T = any>(base: string, method: string, path: string, options: { json?: unknown; headers?: Record<string, string> } = {}): Promise<HttpAnswer<T>> {
  const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      { method, headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown = null;
          if (String(res.headers['content-type'] ?? '').includes('json')) body = JSON.parse(text);
          resolve({ status: res.statusCode!, headers: res.headers, text, body: body as T });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls until `check` passes (returns a value other than undefined) or the time runs out. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A kafkajs consumer in `groupId` that stays a member and commits `offset` on partition 0 of
 * `topic`, without committing what it reads: the group lags by the high watermark minus it.
 */
export async function laggingMember(kafka: Kafka, groupId: string, topic: string, offset: number): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachMessage: async () => {} });
  await joined;
  await consumer.commitOffsets([{ topic, partition: 0, offset: String(offset) }]);
  return consumer;
}
