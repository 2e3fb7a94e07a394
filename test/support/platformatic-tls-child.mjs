// Produces with @platformatic/kafka over TLS, consumes the messages back, and prints their
// values as a JSON array. A child process because the client needs a newer Node than the tests
// may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port> <topic> <count> <tls JSON: { ca, cert?, key? } as file paths>
import { readFileSync } from 'node:fs';
import { Consumer, Producer } from '@platformatic/kafka';

async function main() {
  const [bootstrap, topic, countText, tlsText] = process.argv.slice(2);
  const count = Number(countText);
  const tls = Object.fromEntries(Object.entries(JSON.parse(tlsText)).map(([k, path]) => [k, readFileSync(path)]));
  const base = { clientId: 'sluice-tls', bootstrapBrokers: [bootstrap], timeout: 10_000, retries: 3, tls };
  const producer = new Producer({ ...base, autocreateTopics: true });
  try {
    const messages = Array.from({ length: count }, (_, i) => ({ topic, partition: 0, value: Buffer.from(`pf ${i}`) }));
    await producer.send({ acks: -1, messages });
  } finally {
    await producer.close();
  }
  const consumer = new Consumer({ ...base, groupId: `pf-${topic}`, autocommit: true, maxWaitTime: 200 });
  const values = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${values.length} of ${count}`)), 30_000);
      stream.on('error', reject);
      stream.on('data', (m) => {
        values.push(m.value.toString());
        if (values.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  process.stdout.write(JSON.stringify(values));
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e?.stack ?? e}\n`);
    process.exit(1);
  },
);
