import kafkajs from 'kafkajs';
import type { IHeaders, Message } from 'kafkajs';
import type { CompressionName, PlannedHeader, PlannedMessage } from './client-plan.js';
import { registerKafkajsCodecs } from './kafkajs-codecs.js';
import { STEP_TIMEOUT_MS, type ClientFacts, type DriveArgs } from './real-client-capture.js';
import type { ClientExpectations } from './verify-capture.js';

const { Kafka, CompressionTypes, logLevel } = kafkajs;

const COMPRESSION: Record<CompressionName, kafkajs.CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** kafkajs takes headers as an object; a repeated key becomes an array, in order. */
function headersOf(headers: PlannedHeader[]): IHeaders {
  const out: IHeaders = {};
  for (const { key, value } of headers) {
    if (value === null) throw new Error(`kafkajs cannot send the null value of header ${key}`);
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else out[key] = Array.isArray(existing) ? [...existing, value] : [existing as Buffer, value];
  }
  return out;
}

function messageOf(partition: number, m: PlannedMessage): Message {
  return { partition, key: m.key, value: m.value, headers: headersOf(m.headers), timestamp: m.timestamp.toString() };
}

/** Sent in InitProducerId even by a producer that is only idempotent. */
const KAFKAJS_TRANSACTION_TIMEOUT_MS = 50_000;

/** Fields kafkajs fills in by itself, where they differ from @platformatic/kafka's. */
export function kafkajsExpectations(): ClientExpectations {
  return {
    // The protocol's "no producer yet" (InitProducerId below v3 does not carry these at all).
    initProducerId: { transactionTimeoutMs: KAFKAJS_TRANSACTION_TIMEOUT_MS, producerId: -1n, producerEpoch: -1 },
  };
}

/** Runs a plan with kafkajs in this process. Errors it logs are kept for the failure message. */
export async function driveKafkajs({ plan, bootstrap, stop }: DriveArgs): Promise<ClientFacts> {
  registerKafkajsCodecs();
  const logged: string[] = [];
  const kafka = new Kafka({
    clientId: plan.clientId,
    brokers: [bootstrap],
    connectionTimeout: STEP_TIMEOUT_MS,
    requestTimeout: plan.requestTimeoutMs,
    // A retry would send a request twice and blur which request came from which call.
    retry: { retries: 0 },
    logLevel: logLevel.ERROR,
    logCreator: () => (entry) => logged.push(`${entry.namespace}: ${entry.log.message}`),
  });
  const withLog = (err: unknown): Error =>
    new Error(`kafkajs failed: ${err instanceof Error ? err.message : String(err)}${logged.length > 0 ? `\nkafkajs log:\n${logged.join('\n')}` : ''}`, {
      cause: err,
    });

  try {
    for (const planned of plan.producers) {
      const producer = kafka.producer({
        idempotent: planned.idempotent,
        // kafkajs insists on one request in flight and on retries for idempotence; a retry that
        // did happen would show up as one Produce request too many.
        ...(planned.idempotent ? { maxInFlightRequests: 1, retry: { retries: 1 } } : {}),
        allowAutoTopicCreation: false,
        transactionTimeout: KAFKAJS_TRANSACTION_TIMEOUT_MS,
      });
      await producer.connect();
      try {
        for (const send of planned.sends) {
          await producer.send({
            topic: send.topic,
            acks: send.acks,
            timeout: plan.requestTimeoutMs,
            compression: COMPRESSION[send.compression],
            messages: send.messages.map((m) => messageOf(send.partition, m)),
          });
        }
      } finally {
        await producer.disconnect();
      }
    }

    const consumer = kafka.consumer({
      groupId: plan.group.groupId,
      sessionTimeout: plan.group.sessionTimeoutMs,
      rebalanceTimeout: plan.group.rebalanceTimeoutMs,
      heartbeatInterval: plan.group.heartbeatIntervalMs,
      maxWaitTimeInMs: plan.group.maxWaitMs,
      minBytes: plan.group.minBytes,
      maxBytes: plan.group.maxBytes,
      maxBytesPerPartition: plan.group.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      retry: { retries: 0 },
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: plan.group.topics, fromBeginning: false });
      await consumer.run({ eachMessage: async () => {} });
      await stop;
    } finally {
      await consumer.disconnect();
    }
  } catch (err) {
    throw withLog(err);
  }
  // kafkajs speaks ApiVersions v2 at most, which has no client software fields.
  return {};
}
