// One member of a classic consumer group (JoinGroup/SyncGroup, kafkajs's eager rebalance) for
// test/broker/consumer-group-librdkafka.test.ts, where consumer-protocol members join the same
// group and leave it again. A child process so that it is run and stopped like those members.
//
// argv: <host:port> <group> <topic> <name>
// stdout: the JSON lines of test/support/live-group.ts (LiveEvent); kafkajs's errors go to stderr.
import { Kafka, logLevel } from 'kafkajs';
import { liveMember } from './live-member.mjs';

const [bootstrap, groupId, topic, name] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: `classic-${name}`,
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  logCreator: () => (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`),
});
const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 20_000, maxWaitTimeInMs: 100 });
const member = liveMember(name, () => consumer.disconnect());

// The assignment of the last SyncGroup: an eager member owns nothing else until the next one.
let owned = new Set();
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  owned = new Set(e.payload.memberAssignment[topic] ?? []);
});

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachMessage: async ({ partition, message }) => {
    if (member.stopping) return;
    const offset = Number(message.offset);
    await member.process(topic, partition, offset, message.value.toString(), (_, p) => owned.has(p), () =>
      consumer.commitOffsets([{ topic, partition, offset: String(offset + 1) }]),
    );
  },
});
member.say({ event: 'ready' });
