// A kafkajs group member in its own process, so a test can SIGKILL it: no LeaveGroup, the
// broker must notice through the session timeout. Prints one JSON line per event on stdout.
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, groupId, topic, name] = process.argv.slice(2);
const kafka = new Kafka({ clientId: name, brokers: [bootstrap], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000 });
const say = (event: object): void => void process.stdout.write(`${JSON.stringify({ name, ...event })}\n`);

consumer.on(consumer.events.GROUP_JOIN, (e) => say({ event: 'assigned', assignment: e.payload.memberAssignment[topic] ?? [] }));
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ partition, message }) => say({ event: 'message', partition, offset: Number(message.offset), value: message.value?.toString() }),
});
process.stdin.on('data', async () => {
  await consumer.disconnect();
  say({ event: 'left' });
  process.exit(0);
});
