// Transactions with @platformatic/kafka, for test/transactions/clients.test.ts. A child process
// because the client needs a newer Node than the tests may run on (see platformatic-runner.ts).
//
// argv: <host:port> <topic>
//   A transactional producer (transactional id pf-<topic>) writes to partition 0 of <topic>:
//   a transaction committed (pf-c1, pf-c2), one aborted (pf-a1, pf-a2), one committed (pf-c3),
//   then one committed holding only pf-end. Then two group consumers read the topic from the
//   beginning until pf-end: one read_committed, one read_uncommitted. Last, a member of the group
//   pf-eos-<topic> takes the first two records, and another transactional producer (transactional
//   id pf-eos-<topic>) sends each on to <topic>-out ("out-" before the value) in a transaction
//   with the record's offset for the group (addConsumer, addOffset): the first committed, the
//   second aborted.
// stdout: one JSON object { readCommitted: [values], readUncommitted: [values] }.
import { inspect } from 'node:util';
import { Consumer, FetchIsolationLevels, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';

async function transaction(producer, values, commit) {
  const txn = await producer.beginTransaction();
  await txn.send({ messages: values.map((value) => ({ topic, partition: 0, key: value, value })) });
  await (commit ? txn.commit() : txn.abort());
}

async function readUntilEnd(isolationLevel, groupId) {
  const consumer = new Consumer({ ...base, groupId, isolationLevel, deserializers: stringDeserializers, autocommit: false, maxWaitTime: 200 });
  const values = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; read ${JSON.stringify(values)}`)), 20_000);
      stream.on('error', reject);
      stream.on('data', (m) => {
        values.push(m.value);
        if (m.value === 'pf-end') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return values;
}

async function consumeTransformProduce() {
  const consumer = new Consumer({ ...base, groupId: `pf-eos-${topic}`, deserializers: stringDeserializers, autocommit: false, maxWaitTime: 200 });
  const producer = new Producer({ ...base, transactionalId: `pf-eos-${topic}`, idempotent: true, serializers: stringSerializers });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    const taken = [];
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for two records')), 20_000);
      stream.on('error', reject);
      stream.on('data', (m) => {
        taken.push(m);
        if (taken.length === 2) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    for (const [i, m] of taken.slice(0, 2).entries()) {
      const txn = await producer.beginTransaction();
      await txn.send({ messages: [{ topic: `${topic}-out`, partition: 0, key: m.key, value: `out-${m.value}` }] });
      await txn.addConsumer(consumer);
      await txn.addOffset(m);
      await (i === 0 ? txn.commit() : txn.abort());
    }
    await stream.close();
  } finally {
    await producer.close();
    await consumer.close(true);
  }
}

const [bootstrap, topic] = process.argv.slice(2);
const base = { clientId: 'sluice-transactions', bootstrapBrokers: [bootstrap], timeout: 10_000, retries: 3 };

async function main() {
  const producer = new Producer({ ...base, transactionalId: `pf-${topic}`, idempotent: true, serializers: stringSerializers });
  try {
    await transaction(producer, ['pf-c1', 'pf-c2'], true);
    await transaction(producer, ['pf-a1', 'pf-a2'], false);
    await transaction(producer, ['pf-c3'], true);
    await transaction(producer, ['pf-end'], true);
  } finally {
    await producer.close();
  }
  const readCommitted = await readUntilEnd(FetchIsolationLevels.READ_COMMITTED, `pf-rc-${topic}`);
  const readUncommitted = await readUntilEnd(FetchIsolationLevels.READ_UNCOMMITTED, `pf-ru-${topic}`);
  await consumeTransformProduce();
  // process.exit() would cut off what a pipe has not taken yet.
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify({ readCommitted, readUncommitted })}\n`, resolve));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${inspect(err, { depth: 6 })}\n`);
    process.exit(1);
  },
);
