import { check, KafkaClient, KafkaError } from '../client/kafka-client.js';
import { formatHostPort, securityProtocolOf } from '../config/listeners.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { encodeRecordBatch } from '../protocol/records/record-batch.js';
import type { ConsoleBroker } from './console-broker.js';
import { choosePartition } from './partitioner.js';
import { placementOf } from './placement.js';

export interface TestMessage {
  topic: string;
  /** Absent: chosen as a producer would (by key hash, else any). */
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

const REQUEST_TIMEOUT_MS = 30_000;
/** All in-sync replicas: the answer comes once the record is as durable as any client's. */
const ACKS_ALL = -1;

/**
 * host:port of the broker's first PLAINTEXT listener, seen from this process: the console has no
 * credentials of its own, and writes as User:ANONYMOUS (docs/security.md).
 */
function ownAddress(broker: ConsoleBroker): string {
  const plaintext = broker.listeners.find((l) => securityProtocolOf(broker.config, l.name) === 'PLAINTEXT');
  if (!plaintext) throw new Error('the console writes through a PLAINTEXT listener, and this broker has none: add one on 127.0.0.1');
  const { host, port } = plaintext;
  // A wildcard bind is reachable on loopback; a specific address only on itself.
  const reachable = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return formatHostPort({ host: reachable, port });
}

/**
 * The console's writes, sent to its own broker over the Kafka protocol. Going through the
 * listener rather than calling into the broker means a topic created or a record produced here
 * takes exactly the path a client's does: the same handlers, checks, request metrics and
 * durability, with nothing of it repeated in the console.
 */
export class BrokerWriter {
  private kafka: KafkaClient | null = null;

  constructor(private readonly broker: ConsoleBroker) {}

  private get client(): KafkaClient {
    return (this.kafka ??= new KafkaClient({ brokers: [ownAddress(this.broker)], clientId: 'sluice-console' }));
  }

  /** partitions and replicationFactor -1: the broker's num.partitions and default.replication.factor. */
  async createTopic(name: string, partitions: number, replicationFactor: number, configs: Record<string, string>): Promise<void> {
    // Any broker of a cluster applies a topic creation to the shared metadata: this one will do.
    const res = await this.client.call(() => this.client.any(), 'CreateTopics', {
      topics: [{ name, numPartitions: partitions, replicationFactor, assignments: [], configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) }],
      timeoutMs: REQUEST_TIMEOUT_MS,
      validateOnly: false,
    });
    const result = res.topics[0];
    check(result.errorCode, `creating topic ${name}`, result.errorMessage);
  }

  async produce(message: TestMessage): Promise<{ partition: number; offset: number }> {
    const topic = this.broker.metadata.topic(message.topic);
    if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${message.topic}`, 'no such topic');
    const partition = message.partition ?? choosePartition(message.key, topic.partitions.length);
    const state = topic.partitions[partition];
    if (!state) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${message.topic}-${partition}`, `the topic has ${topic.partitions.length} partitions`);
    // Said here: the client would otherwise retry, finding no broker with node id -1.
    if (placementOf(this.broker, message.topic, partition, state).offline) throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `producing to ${message.topic}-${partition}`, 'the partition has no leader');
    const records = encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: message.key, value: message.value, headers: message.headers }] });
    // Only the leader takes a produce: in a cluster it is often another broker than this one.
    const res = await this.client.call(() => this.client.leader(message.topic, partition), 'Produce', {
      transactionalId: null,
      acks: ACKS_ALL,
      timeoutMs: REQUEST_TIMEOUT_MS,
      topicData: [{ name: message.topic, partitionData: [{ index: partition, records }] }],
    });
    const answer = res.responses[0].partitionResponses[0];
    check(answer.errorCode, `producing to ${message.topic}-${partition}`, answer.errorMessage);
    return { partition, offset: Number(answer.baseOffset) };
  }

  async close(): Promise<void> {
    await this.kafka?.close();
    this.kafka = null;
  }
}
