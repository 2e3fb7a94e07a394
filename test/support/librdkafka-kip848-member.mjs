// One member of a KIP-848 consumer group (group.protocol=consumer) on librdkafka 2.15, through
// @confluentinc/kafka-javascript's node-rdkafka API, for test/broker/consumer-group-librdkafka.test.ts.
// A child process so that a test can SIGKILL it. The package lives in test/librdkafka
// (scripts/install-librdkafka-client.mjs), outside the root package.
//
// Commits are synchronous: its KafkaJS-style commitOffsets() resolves once the commit is queued,
// not once the broker has acknowledged it, which is what 'committed' must mean.
//
// argv: <host:port> <group> <topics, comma-separated> <name> [group.remote.assignor]
// stdout: the JSON lines of test/support/live-group.ts (LiveEvent); librdkafka's errors go to stderr.
import { createRequire } from 'node:module';
import { liveMember } from './live-member.mjs';

const { KafkaConsumer } = createRequire(new URL('../librdkafka/package.json', import.meta.url))('@confluentinc/kafka-javascript');

const [bootstrap, groupId, topicList, name, assignor] = process.argv.slice(2);

const consumer = new KafkaConsumer({
  'bootstrap.servers': bootstrap,
  'client.id': `rdk-${name}`,
  'group.id': groupId,
  'group.protocol': 'consumer',
  ...(assignor ? { 'group.remote.assignor': assignor } : {}),
  'enable.auto.commit': false,
  'auto.offset.reset': 'earliest',
  'fetch.wait.max.ms': 100,
});
consumer.on('event.error', (err) => process.stderr.write(`error: ${err?.stack ?? err}\n`));
const member = liveMember(name, () => new Promise((resolve, reject) => consumer.disconnect((err) => (err ? reject(err) : resolve()))));
const owns = (topic, partition) => consumer.assignments().some((a) => a.topic === topic && a.partition === partition);

async function poll() {
  const messages = await new Promise((resolve, reject) => consumer.consume(100, (err, ms) => (err ? reject(err) : resolve(ms))));
  for (const m of messages) {
    if (member.stopping) return;
    await member.process(m.topic, m.partition, m.offset, m.value.toString(), owns, async () => {
      consumer.commitSync({ topic: m.topic, partition: m.partition, offset: m.offset + 1 });
    });
  }
  if (!member.stopping) setImmediate(() => poll().catch((err) => process.stderr.write(`consume failed: ${err?.stack ?? err}\n`)));
}

await new Promise((resolve, reject) => consumer.connect({}, (err) => (err ? reject(err) : resolve())));
consumer.subscribe(topicList.split(','));
member.say({ event: 'ready' });
await poll();
