// Runs a capture plan with @platformatic/kafka. It is a child process because that client needs a
// newer Node than the tests may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port>
// stdin: first line, the plan as written by planToJson in client-plan.ts (too big for argv);
//   then the consumer leaves its group and the process exits when another line arrives or
//   stdin ends.
// stdout: one JSON line with the client software name and version it announces in ApiVersions.
// Exit code 0 on success; anything else, with the error on stderr, on failure.
import { createInterface } from 'node:readline';
import { inspect } from 'node:util';
import { Consumer, Producer, clientSoftwareName, clientSoftwareVersion } from '@platformatic/kafka';

const bytes = (text) => (text === null ? null : Buffer.from(text, 'base64'));

function messageOf(send, m) {
  // Map keys are compared by identity, so two Buffers with one header name stay two headers.
  const headers = new Map(m.headers.map((h) => [Buffer.from(h.key, 'utf8'), bytes(h.value)]));
  return { topic: send.topic, partition: send.partition, key: bytes(m.key), value: bytes(m.value), headers, timestamp: BigInt(m.timestamp) };
}

/** The plan, and a promise of the stop signal: the next line or the end of stdin. */
function readStdin() {
  const lines = createInterface({ input: process.stdin });
  let stopped;
  const stop = new Promise((resolve) => (stopped = resolve));
  const plan = new Promise((resolve, reject) => {
    lines.once('line', (first) => {
      resolve(first);
      lines.once('line', () => lines.close());
    });
    lines.once('close', () => {
      reject(new Error('stdin ended before the plan'));
      stopped();
    });
  });
  return { plan, stop };
}

async function main() {
  const [bootstrap] = process.argv.slice(2);
  if (bootstrap === undefined) throw new Error('usage: platformatic-client.mjs <host:port> < plan');
  const stdin = readStdin();
  const plan = JSON.parse(await stdin.plan);
  const { stop } = stdin;
  process.stdout.write(`${JSON.stringify({ software: { name: clientSoftwareName, version: clientSoftwareVersion } })}\n`);

  const base = { clientId: plan.clientId, bootstrapBrokers: [bootstrap], timeout: plan.requestTimeoutMs, connectTimeout: plan.requestTimeoutMs, retries: 0 };
  for (const planned of plan.producers) {
    const producer = new Producer({ ...base, idempotent: planned.idempotent, autocreateTopics: false });
    try {
      for (const send of planned.sends) {
        await producer.send({ acks: send.acks, compression: send.compression, messages: send.messages.map((m) => messageOf(send, m)) });
      }
    } finally {
      await producer.close();
    }
  }

  const { group } = plan;
  const consumer = new Consumer({
    ...base,
    groupId: group.groupId,
    sessionTimeout: group.sessionTimeoutMs,
    rebalanceTimeout: group.rebalanceTimeoutMs,
    heartbeatInterval: group.heartbeatIntervalMs,
    maxWaitTime: group.maxWaitMs,
    minBytes: group.minBytes,
    maxBytes: group.maxBytes,
    maxBytesPerPartition: group.maxBytesPerPartition,
    autocommit: false,
  });
  try {
    // committed, falling back to latest: OffsetFetch first, then ListOffsets, as kafkajs does.
    const stream = await consumer.consume({ topics: group.topics, mode: 'committed', fallbackMode: 'latest' });
    const failed = new Promise((_, reject) => stream.once('error', reject));
    // An error while closing, after the race, is the close's to report.
    failed.catch(() => {});
    stream.resume();
    await Promise.race([stop, failed]);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    // inspect shows the nested causes and error lists the client wraps its failures in.
    process.stderr.write(`${inspect(err, { depth: 6 })}\n`);
    process.exit(1);
  },
);
