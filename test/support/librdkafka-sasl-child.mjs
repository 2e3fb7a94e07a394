// Produces one message every <gapMs> with librdkafka 2.15 (@confluentinc/kafka-javascript's
// KafkaJS-style API) over SASL, each awaited, and prints how many were delivered: a producer that
// lives through several SASL session lifetimes, which librdkafka renews by re-authenticating
// (KIP-368). A child process because the package lives in test/librdkafka, outside the root package.
//
// argv: <host:port> <topic> <count> <gapMs> <sasl JSON: { mechanism, username, password }>
import { createRequire } from 'node:module';

const { KafkaJS } = createRequire(new URL('../librdkafka/package.json', import.meta.url))('@confluentinc/kafka-javascript');

const [bootstrap, topic, countText, gapText, saslText] = process.argv.slice(2);
const producer = new KafkaJS.Kafka({ kafkaJS: { brokers: [bootstrap], sasl: JSON.parse(saslText), logLevel: KafkaJS.logLevel.NOTHING } }).producer();
await producer.connect();
let delivered = 0;
try {
  for (let i = 0; i < Number(countText); i++) {
    await producer.send({ topic, messages: [{ value: `reauth ${i}` }] });
    delivered++;
    await new Promise((resolve) => setTimeout(resolve, Number(gapText)));
  }
} finally {
  await producer.disconnect();
}
process.stdout.write(JSON.stringify({ delivered }));
