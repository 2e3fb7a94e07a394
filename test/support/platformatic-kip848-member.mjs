// One member of a KIP-848 consumer group (groupProtocol: 'consumer') on @platformatic/kafka, for
// test/broker/consumer-group-protocol.test.ts. A child process because the client needs a newer
// Node than the tests may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port> <group> <topic> <name>
// stdout: the JSON lines of test/support/live-group.ts (LiveEvent).
import { Consumer } from '@platformatic/kafka';
import { liveMember } from './live-member.mjs';

const [bootstrap, groupId, topic, name] = process.argv.slice(2);

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
const member = liveMember(name, () => consumer.close(true));

const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
member.say({ event: 'ready' });
stream.on('error', (err) => process.stderr.write(`stream error: ${err?.stack ?? err}\n`));
const owns = (t, partition) => (consumer.assignments ?? []).some((a) => a.topic === t && a.partitions.includes(partition));
for await (const message of stream) {
  if (member.stopping) break;
  await member.process(message.topic, message.partition, Number(message.offset), message.value.toString(), owns, () => message.commit());
}
