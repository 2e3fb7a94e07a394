// Produces with @platformatic/kafka, then consumes everything back as a group member, and
// prints what it read. A child process because the client needs a newer Node than the tests
// may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port> <messages per topic> [<options JSON>]
//   Without options: to one topic per codec, pf-<codec>, made on first use, all to partition 0;
//   read back by the group pf-roundtrip.
//   With {"topic", "partitions", "expect"}: uncompressed to that topic, message i to partition
//   i % partitions; the group pf-<topic> reads until `expect` records of the topic (those of
//   other clients included) are in.
// stdout: one JSON object { topic: [{ partition, offset, key, value, headers: [[k, v]] }] }, keys,
//   values and header values as base64 (null for null). Every message sent has the header n.
import { inspect } from 'node:util';
import { Consumer, Producer } from '@platformatic/kafka';

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const b64 = (b) => (b === null || b === undefined ? null : Buffer.from(b).toString('base64'));

async function main() {
  const [bootstrap, countText, optionsText] = process.argv.slice(2);
  const count = Number(countText);
  const options = optionsText === undefined ? null : JSON.parse(optionsText);
  const targets = options
    ? [{ topic: options.topic, codec: 'none', partition: (i) => i % options.partitions, expect: options.expect }]
    : CODECS.map((codec) => ({ topic: `pf-${codec}`, codec, partition: () => 0, expect: count }));
  const base = { clientId: 'sluice-roundtrip', bootstrapBrokers: [bootstrap], timeout: 10_000, retries: 3 };
  const producer = new Producer({ ...base, autocreateTopics: true });
  try {
    for (const { topic, codec, partition } of targets) {
      const messages = Array.from({ length: count }, (_, i) => ({
        topic,
        partition: partition(i),
        key: i % 5 === 0 ? null : Buffer.from(`key-${i}`),
        value: i % 7 === 3 ? null : Buffer.from(`${codec} value ${i} ${'.'.repeat(i % 50)}`),
        headers: new Map([[Buffer.from('n'), Buffer.from(String(i))]]),
      }));
      await producer.send({ acks: -1, compression: codec, messages });
    }
  } finally {
    await producer.close();
  }

  const consumer = new Consumer({ ...base, groupId: options ? `pf-${options.topic}` : 'pf-roundtrip', autocommit: true, maxWaitTime: 200 });
  const read = Object.fromEntries(targets.map((t) => [t.topic, []]));
  try {
    const stream = await consumer.consume({ topics: Object.keys(read), mode: 'earliest' });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(Object.fromEntries(Object.entries(read).map(([t, m]) => [t, m.length])))}`)), 30_000);
      stream.on('error', reject);
      stream.on('data', (m) => {
        read[m.topic].push({ partition: m.partition, offset: String(m.offset), key: b64(m.key), value: b64(m.value), headers: [...m.headers].map(([k, v]) => [b64(k), b64(v)]) });
        if (targets.every((t) => read[t.topic].length >= t.expect)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  // process.exit() would cut off what a pipe has not taken yet.
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify(read)}\n`, resolve));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${inspect(err, { depth: 6 })}\n`);
    process.exit(1);
  },
);
