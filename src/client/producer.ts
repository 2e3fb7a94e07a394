import { CompressionType } from '../protocol/compression/index.js';
import { encodeRecordBatch, type RecordHeaderInput, type RecordInput } from '../protocol/records/index.js';
import type { BrokerConnection } from './connection.js';
import { KafkaError, type KafkaClient } from './kafka-client.js';
import { DefaultPartitioner } from './partitioner.js';
import { partitionOf, type TopicInfo } from './topics.js';

export type Acks = -1 | 0 | 1;

export interface ProducerOptions {
  /** -1 (all in-sync replicas, the default), 1 (the leader) or 0 (no response at all). */
  acks?: Acks;
  compression?: CompressionType;
  /** Default 30 s. */
  timeoutMs?: number;
  /** A batch is closed at this many bytes of records (default 16 KiB, Kafka's batch.size)... */
  batchBytes?: number;
  /** ...or this many records (default 1000). */
  batchRecords?: number;
  /** Produce requests awaiting a response, per broker (default 5, Kafka's default). */
  maxInFlight?: number;
  /** `send` waits while this many bytes of batches are queued or in flight (default 32 MiB). */
  bufferBytes?: number;
  /**
   * A batch that has not filled goes out once it is this old and its broker can take a request
   * (default 5 ms, Kafka's linger.ms): someone typing lines sees each one sent.
   */
  lingerMs?: number;
}

export interface ProducerRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: readonly RecordHeaderInput[];
  /** Default: the key's partition, or the sticky one for unkeyed records. */
  partition?: number;
}

interface OpenBatch {
  records: RecordInput[];
  bytes: number;
  /** Also when it was opened, for the linger time. */
  baseTimestamp: number;
}

interface ClosedBatch {
  partition: number;
  bytes: Buffer;
}

interface Leader {
  conn: BrokerConnection;
  partitions: number[];
  inFlight: number;
}

/** Varint lengths, attributes, deltas: what a record costs beyond its key, value and headers. */
const RECORD_OVERHEAD = 16;

function recordSize(r: ProducerRecord): number {
  let size = RECORD_OVERHEAD + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? []) size += h.key.length + (h.value?.length ?? 0) + 4;
  return size;
}

/**
 * A producer for one topic: records are batched per partition (closed by size or count), a
 * request carries the oldest closed batch of every partition the broker leads, and up to
 * `maxInFlight` requests per broker are on the wire at once. Requests are not retried (a retry
 * could duplicate or reorder records without idempotence): the first error fails the producer.
 */
export class TopicProducer {
  private readonly open = new Map<number, OpenBatch>();
  private readonly closed = new Map<number, ClosedBatch[]>();
  private readonly leaders: Leader[];
  private readonly partitioner: DefaultPartitioner;
  private queuedBytes = 0;
  private failure: Error | null = null;
  private waiters: (() => void)[] = [];
  private readonly acks: Acks;
  private readonly compression: CompressionType;
  private readonly batchBytes: number;
  private readonly batchRecords: number;
  private readonly maxInFlight: number;
  private readonly bufferBytes: number;
  private readonly lingerMs: number;
  private lingerTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly topic: TopicInfo,
    leaders: Leader[],
    private readonly options: ProducerOptions,
  ) {
    this.leaders = leaders;
    this.partitioner = new DefaultPartitioner(topic.partitions.length);
    this.acks = options.acks ?? -1;
    this.compression = options.compression ?? CompressionType.None;
    this.batchBytes = options.batchBytes ?? 16 * 1024;
    this.batchRecords = options.batchRecords ?? 1000;
    this.maxInFlight = options.maxInFlight ?? 5;
    this.bufferBytes = options.bufferBytes ?? 32 * 1024 * 1024;
    this.lingerMs = options.lingerMs ?? 5;
  }

  /** Connects to the leaders of the topic's partitions first, so requests go out in order. */
  static async create(client: KafkaClient, topic: TopicInfo, options: ProducerOptions = {}): Promise<TopicProducer> {
    const byNode = new Map<number, number[]>();
    for (const p of topic.partitions) byNode.set(p.leaderId, [...(byNode.get(p.leaderId) ?? []), p.partition]);
    const leaders = await Promise.all([...byNode].map(async ([nodeId, partitions]) => ({ conn: await client.retrying(() => client.node(nodeId)), partitions, inFlight: 0 })));
    return new TopicProducer(topic, leaders, options);
  }

  /** Adds a record; waits while the buffer is full. Throws the first error of any request. */
  async send(record: ProducerRecord): Promise<void> {
    if (this.failure) throw this.failure;
    const partition = record.partition ?? this.partitioner.partition(record.key);
    if (record.partition !== undefined) partitionOf(this.topic, partition);
    const size = recordSize(record);
    let batch = this.open.get(partition);
    if (batch && batch.bytes + size > this.batchBytes) {
      this.close(partition);
      this.pump();
      batch = undefined;
    }
    if (!batch) {
      batch = { records: [], bytes: 0, baseTimestamp: Date.now() };
      this.open.set(partition, batch);
    }
    batch.records.push({ key: record.key, value: record.value, headers: record.headers, timestampDelta: Date.now() - batch.baseTimestamp });
    batch.bytes += size;
    if (batch.records.length >= this.batchRecords || batch.bytes >= this.batchBytes) {
      this.close(partition);
      this.pump();
    } else {
      this.scheduleLinger();
    }
    while (this.queuedBytes > this.bufferBytes && !this.failure) await this.progress();
    if (this.failure) throw this.failure;
  }

  /** Sends every open batch and waits for all responses (with acks=0: until the broker read them). */
  async flush(): Promise<void> {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    for (const partition of [...this.open.keys()]) this.close(partition);
    this.pump();
    while (this.queuedBytes > 0 && !this.failure) await this.progress();
    if (this.failure) throw this.failure;
    if (this.acks === 0) {
      // Nothing answers acks=0 requests; a broker answers requests on a connection in order, so
      // once a later request is answered, the records before it have been taken in.
      await Promise.all(this.leaders.map((l) => l.conn.send('Metadata', { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })));
    }
  }

  private close(partition: number): void {
    const batch = this.open.get(partition);
    if (!batch) return;
    this.open.delete(partition);
    const bytes = encodeRecordBatch({ baseTimestamp: BigInt(batch.baseTimestamp), compression: this.compression, records: batch.records });
    const queue = this.closed.get(partition);
    if (queue) queue.push({ partition, bytes });
    else this.closed.set(partition, [{ partition, bytes }]);
    this.queuedBytes += bytes.length;
    this.partitioner.batchClosed(partition);
  }

  /**
   * Sends a request to every broker that has room for one and batches to send: closed ones, or
   * open ones past their linger time.
   */
  private pump(): void {
    const lingered = Date.now() - this.lingerMs;
    for (const leader of this.leaders) {
      while (leader.inFlight < this.maxInFlight && !this.failure) {
        const batches: ClosedBatch[] = [];
        for (const p of leader.partitions) {
          const queue = this.closed.get(p);
          if (!queue?.length && (this.open.get(p)?.baseTimestamp ?? Infinity) <= lingered) this.close(p);
          const next = this.closed.get(p)?.shift();
          if (next) batches.push(next);
        }
        if (batches.length === 0) break;
        this.sendRequest(leader, batches);
      }
    }
    this.scheduleLinger();
  }

  private scheduleLinger(): void {
    if (this.lingerTimer || this.open.size === 0) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      this.pump();
    }, this.lingerMs);
  }

  private sendRequest(leader: Leader, batches: ClosedBatch[]): void {
    const size = batches.reduce((n, b) => n + b.bytes.length, 0);
    const request = {
      transactionalId: null,
      acks: this.acks,
      timeoutMs: this.options.timeoutMs ?? 30_000,
      topicData: [{ name: this.topic.name, partitionData: batches.map((b) => ({ index: b.partition, records: b.bytes })) }],
    };
    if (this.acks === 0) {
      leader.conn.sendOneWay('Produce', request);
      this.queuedBytes -= size;
      return;
    }
    leader.inFlight++;
    leader.conn.send('Produce', request).then(
      (res) => {
        for (const p of res.responses.flatMap((t) => t.partitionResponses)) {
          if (p.errorCode !== 0) this.failure ??= new KafkaError(p.errorCode, `produce to ${this.topic.name}-${p.index}`, p.errorMessage ?? p.recordErrors[0]?.batchIndexErrorMessage);
        }
        this.settle(leader, size);
      },
      (e: unknown) => {
        this.failure ??= e as Error;
        this.settle(leader, size);
      },
    );
  }

  private settle(leader: Leader, size: number): void {
    leader.inFlight--;
    this.queuedBytes -= size;
    this.pump();
    for (const w of this.waiters.splice(0)) w();
  }

  private progress(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
