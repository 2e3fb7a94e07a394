/**
 * Producer quota benchmark: an embedded broker with a producer_byte_rate quota on one client
 * id, and a kafkajs producer of that id sending as fast as it is let. Prints the rate it
 * achieved against the quota, once the burst the windows allow at the start has passed.
 *
 *   npm run bench:quota
 *
 * Environment:
 *   SLUICE_BENCH_QUOTA_BYTES    the quota, bytes a second (default 4 MiB)
 *   SLUICE_BENCH_QUOTA_SECONDS  how long to produce (default 90: the windows let a fresh client burst,
 *                              which evens out over several window spans)
 */
import { Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../src/client/kafka-client.js';
import { alterClientQuotas } from '../src/client/quotas.js';
import { startBroker } from '../src/embedded.js';
import { envCount } from './support/env.js';

const QUOTA = envCount('SLUICE_BENCH_QUOTA_BYTES', 4 * 1024 * 1024);
const SECONDS = envCount('SLUICE_BENCH_QUOTA_SECONDS', 90, 15);
const CLIENT_ID = 'quota-bench';
/** quota.window.num × quota.window.size.seconds at their defaults: the burst a fresh client may send at once. */
const WINDOW_SPAN_S = 11;

const broker = await startBroker();
const admin = new KafkaClient({ brokers: [broker.bootstrap], clientId: 'quota-bench-admin' });
try {
  await alterClientQuotas(admin, [{ type: 'client-id', name: CLIENT_ID }], { producer_byte_rate: QUOTA });
  const kafka = new Kafka({ clientId: CLIENT_ID, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  await kafkaAdmin.createTopics({ topics: [{ topic: 'quota-bench', numPartitions: 1 }] });
  await kafkaAdmin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const value = Buffer.alloc(64 * 1024, 7);
  const messages = Array.from({ length: 4 }, () => ({ value }));
  const started = Date.now();
  // Timestamps and running totals of bytes acknowledged, to measure past the initial burst.
  const marks: { at: number; bytes: number }[] = [];
  let bytes = 0;
  while (Date.now() - started < SECONDS * 1000) {
    await producer.send({ topic: 'quota-bench', acks: 1, messages });
    bytes += messages.length * value.length;
    marks.push({ at: Date.now(), bytes });
  }
  await producer.disconnect();
  const steadyFrom = marks.find((m) => m.at - started >= WINDOW_SPAN_S * 1000) ?? marks[0];
  const last = marks[marks.length - 1];
  const steady = (last.bytes - steadyFrom.bytes) / ((last.at - steadyFrom.at) / 1000);
  const overall = last.bytes / ((last.at - started) / 1000);
  const mib = (b: number): string => (b / 2 ** 20).toFixed(2);
  console.log(`quota: ${mib(QUOTA)} MiB/s (producer_byte_rate), ${SECONDS} s of producing 256 KiB requests`);
  console.log(`overall:  ${mib(overall)} MiB/s  achieved/quota ${(overall / QUOTA).toFixed(3)} (includes the first ${WINDOW_SPAN_S} s burst the windows allow)`);
  console.log(`steady:   ${mib(steady)} MiB/s  achieved/quota ${(steady / QUOTA).toFixed(3)} (after ${WINDOW_SPAN_S} s)`);
} finally {
  await admin.close();
  await broker.stop();
}
