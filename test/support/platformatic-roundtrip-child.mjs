// Produces with @platformatic/kafka to one topic per codec, then consumes everything back as a
// group member, and prints what it read. A child process because the client needs a newer
// Node than the tests may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port> <messages per topic>
// stdout: one JSON object { topic: [{ offset, key, value, headers: [[k, v]] }] }, keys, values
//   and header values as base64 (null for null).
import { inspect } from 'node:util';
import { Consumer, Producer } from '@platformatic/kafka';

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const b64 = (b) => (b === null || b === undefined ? null : Buffer.from(b).toString('base64'));

async function main() {
  const [bootstrap, countText] = process.argv.slice(2);
  const count = Number(countText);
  const base = { clientId: 'sluice-roundtrip', bootstrapBrokers: [bootstrap], timeout: 10_000, retries: 3 };
  const producer = new Producer({ ...base, autocreateTopics: true });
  try {
    for (const codec of CODECS) {
      const messages = Array.from({ length: count }, (_, i) => ({
        topic: `pf-${codec}`,
        partition: 0,
        key: i % 5 === 0 ? null : Buffer.from(`key-${i}`),
        value: i % 7 === 3 ? null : Buffer.from(`${codec} value ${i} ${'.'.repeat(i % 50)}`),
        headers: new Map([[Buffer.from('n'), Buffer.from(String(i))]]),
      }));
      await producer.send({ acks: -1, compression: codec, messages });
    }
  } finally {
    await producer.close();
  }

  const consumer = new Consumer({ ...base, groupId: 'pf-roundtrip', autocommit: true, maxWaitTime: 200 });
  const read = Object.fromEntries(CODECS.map((c) => [`pf-${c}`, []]));
  try {
    const stream = await consumer.consume({ topics: Object.keys(read), mode: 'earliest' });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(Object.fromEntries(Object.entries(read).map(([t, m]) => [t, m.length])))}`)), 30_000);
      stream.on('error', reject);
      stream.on('data', (m) => {
        read[m.topic].push({ offset: String(m.offset), key: b64(m.key), value: b64(m.value), headers: [...m.headers].map(([k, v]) => [b64(k), b64(v)]) });
        if (Object.values(read).every((list) => list.length >= count)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  process.stdout.write(`${JSON.stringify(read)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${inspect(err, { depth: 6 })}\n`);
    process.exit(1);
  },
);
