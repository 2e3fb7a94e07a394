/**
 * bench/delay.ts's producer, as a child process: `count` records of 100 B with random
 * sluice-delay-ms headers, acks=1. Sends { sent } every million and { rate } at the end.
 */
import { KafkaClient } from '../../src/client/kafka-client.js';
import { TopicProducer } from '../../src/client/producer.js';
import { describeTopic } from '../../src/client/topics.js';

const { bootstrap, topic, count, minDelayMs, spreadMs } = JSON.parse(process.argv[2]) as { bootstrap: string; topic: string; count: number; minDelayMs: number; spreadMs: number };
const VALUE = Buffer.alloc(100, 'x');

const client = new KafkaClient({ brokers: [bootstrap], clientId: 'bench-delay-producer' });
try {
  const producer = await TopicProducer.create(client, await describeTopic(client, topic), { acks: 1, batchBytes: 256 * 1024, batchRecords: 2000 });
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const delay = minDelayMs + Math.floor(Math.random() * (spreadMs + 1));
    await producer.send({ key: Buffer.from(String(i)), value: VALUE, headers: [{ key: 'sluice-delay-ms', value: Buffer.from(String(delay)) }] });
    if ((i + 1) % 1_000_000 === 0) process.send!({ sent: i + 1 });
  }
  await producer.flush();
  process.send!({ rate: count / ((performance.now() - started) / 1000) });
} finally {
  await client.close();
  process.disconnect();
}
