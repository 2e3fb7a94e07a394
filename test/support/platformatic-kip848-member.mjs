// One member of a KIP-848 consumer group (groupProtocol: 'consumer') on @platformatic/kafka, for
// test/broker/consumer-group-protocol.test.ts. A child process because the client needs a newer
// Node than the tests may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port> <group> <topic> <name>
// stdout: JSON lines: {event:'ready'}, {event:'skipped', partition, offset} for a record of a
//   partition no longer owned or already committed, {event:'message', partition, offset, value} before a record
//   is committed, {event:'committed', partition, offset} once its commit is acknowledged,
//   {event:'closed'} after a graceful stop (SIGTERM: the member leaves the group).
import { Consumer } from '@platformatic/kafka';

const [bootstrap, groupId, topic, name] = process.argv.slice(2);
const say = (o) => process.stdout.write(`${JSON.stringify({ name, ...o })}\n`);

const consumer = new Consumer({
  clientId: `kip848-${name}`,
  bootstrapBrokers: [bootstrap],
  groupId,
  groupProtocol: 'consumer',
  rebalanceTimeout: 60_000,
  autocommit: false,
  maxWaitTime: 100,
  timeout: 10_000,
  retries: 10,
});

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  consumer.close(true).then(
    () => {
      say({ event: 'closed' });
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`close failed: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
});

const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
say({ event: 'ready' });
stream.on('error', (err) => process.stderr.write(`stream error: ${err?.stack ?? err}\n`));
// The next offset to process per partition, as this member has committed it: the client may
// deliver again what it fetched before an assignment change refreshed its positions.
const position = new Map();
const owns = (partition) => (consumer.assignments ?? []).some((a) => a.topic === topic && a.partitions.includes(partition));
for await (const message of stream) {
  if (stopping) break;
  const partition = message.partition;
  const offset = Number(message.offset);
  // What a careful application does: nothing for a partition it no longer owns (the client's
  // stream may still hold records fetched before a revocation), nothing it has committed past.
  if (!owns(partition) || offset < (position.get(partition) ?? -1)) {
    say({ event: 'skipped', partition, offset });
    continue;
  }
  say({ event: 'message', partition, offset, value: message.value.toString() });
  try {
    await message.commit();
    position.set(partition, offset + 1);
    say({ event: 'committed', partition, offset });
  } catch (err) {
    say({ event: 'commit-failed', partition, offset, error: String(err?.message ?? err) });
  }
}
