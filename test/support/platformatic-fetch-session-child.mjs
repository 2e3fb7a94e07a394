// Consumes a topic with @platformatic/kafka, which keeps a KIP-227 fetch session, while records
// arrive on one partition at a time, and prints what it read. A child process because the
// client needs a newer Node than the tests may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port> <topic> <partitions> <rounds> <per round>
//   The topic must exist with <partitions> partitions. Round r sends <per round> records, the
//   values `round r record i`, to partition r % partitions, and the next round starts only once
//   the consumer has read them all: then almost every fetch after the session's first has one
//   partition that moved, and the rest are what the session spares the request and the answer.
// stdout: one JSON object { partitions: [[{ offset, value }]], fetches }, the records read from
//   each partition in the order they came (values as text), and how many fetches the consumer
//   made.
import { inspect } from 'node:util';
import { Consumer, Producer } from '@platformatic/kafka';

const ROUND_TIMEOUT_MS = 15_000;
// Fetches to let pass after the last round: a record delivered twice would come by then.
const SETTLING_FETCHES = 3;

async function main() {
  const [bootstrap, topic, partitionsText, roundsText, perRoundText] = process.argv.slice(2);
  const partitions = Number(partitionsText);
  const rounds = Number(roundsText);
  const perRound = Number(perRoundText);
  const base = { clientId: 'sluice-fetch-sessions', bootstrapBrokers: [bootstrap], timeout: 10_000, retries: 3 };
  const read = Array.from({ length: partitions }, () => []);
  let fetches = 0;
  // Wakes whatever waits on the consumer: a record or a finished fetch.
  let progress = () => {};
  let failure = null;
  /** Resolves once `done()` holds, checked after every record and fetch. */
  const until = (what, done, timeoutMs) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        progress = () => {};
        reject(new Error(`timed out waiting for ${what}; read per partition: ${read.map((r) => r.length).join(' ')}`));
      }, timeoutMs);
      progress = () => {
        if (failure !== null) {
          clearTimeout(timer);
          reject(failure);
        } else if (done()) {
          clearTimeout(timer);
          progress = () => {};
          resolve();
        }
      };
      progress();
    });

  const consumer = new Consumer({ ...base, groupId: `pf-${topic}`, autocommit: true, maxWaitTime: 200 });
  const producer = new Producer(base);
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    stream.on('error', (err) => {
      failure = err;
      progress();
    });
    stream.on('data', (m) => {
      read[m.partition].push({ offset: String(m.offset), value: m.value === null || m.value === undefined ? null : Buffer.from(m.value).toString() });
      progress();
    });
    stream.on('fetch', () => {
      fetches++;
      progress();
    });
    try {
      const expected = Array(partitions).fill(0);
      for (let r = 0; r < rounds; r++) {
        const partition = r % partitions;
        const messages = Array.from({ length: perRound }, (_, i) => ({ topic, partition, value: Buffer.from(`round ${r} record ${i}`) }));
        await producer.send({ acks: -1, messages });
        expected[partition] += perRound;
        await until(`round ${r} on partition ${partition}`, () => read[partition].length >= expected[partition], ROUND_TIMEOUT_MS);
      }
      const settled = fetches + SETTLING_FETCHES;
      await until('the last fetches', () => fetches >= settled, ROUND_TIMEOUT_MS);
    } finally {
      await stream.close();
    }
  } catch (err) {
    await Promise.allSettled([consumer.close(), producer.close()]);
    throw err;
  }
  // Closing is part of what is tested: the member leaves its group, both clients hang up.
  await Promise.all([consumer.close(), producer.close()]);
  // process.exit() would cut off what a pipe has not taken yet.
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify({ partitions: read, fetches })}\n`, resolve));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${inspect(err, { depth: 6 })}\n`);
    process.exit(1);
  },
);
