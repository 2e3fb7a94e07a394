import assert from 'node:assert/strict';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { assertReadInOrder, type Placed } from './deliveries.js';
import { eventually } from './librdkafka-groups.js';
import type { ConsumedRecord } from './python-clients.js';

/**
 * A kafkajs consumer group member that keeps every record it reads, in the order it read them,
 * for tests that check what a consumer saw while the cluster changed under it. Any crash of
 * the consumer is an error the application would have seen: it is kept, never retried.
 */
export class KafkajsReader {
  readonly records: ConsumedRecord[] = [];
  readonly errors: string[] = [];
  /**
   * Times it joined the group. kafkajs joins again on its own when a partition's leader moves
   * (NOT_LEADER_OR_FOLLOWER), and then starts over from the committed offsets: what it read
   * since the last commit comes again.
   */
  joins = 0;
  /** Each time it went back in a partition: from what it had read to where it started again, and what it had last committed there. */
  readonly rewinds: { p: number; from: number; to: number; committed: number }[] = [];
  private readonly committed = new Map<number, number>();
  private readonly lastRead = new Map<number, number>();

  private constructor(
    readonly topic: string,
    private readonly consumer: Consumer,
    /** What kafkajs logged at warn level and above: the retries it made on its own, for a failure message. */
    readonly log: string[],
  ) {}

  static async start(brokers: string[], topic: string, groupId: string): Promise<KafkajsReader> {
    const log: string[] = [];
    const kafka = new Kafka({
      clientId: `reader-${groupId}`,
      brokers,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => void log.push(`${entry.namespace}: ${entry.log.message} ${JSON.stringify({ ...entry.log, message: undefined, timestamp: undefined, logger: undefined })}`),
    });
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      // Short enough that a member lost with a broker is noticed within a test.
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 500,
      // A restart could outlive stop() and keep the test process alive; a crash is the test's to report.
      retry: { restartOnFailure: async () => false },
    });
    const reader = new KafkajsReader(topic, consumer, log);
    consumer.on(consumer.events.CRASH, ({ payload }) => void reader.errors.push(`crashed: ${payload.error.message}`));
    consumer.on(consumer.events.GROUP_JOIN, () => void reader.joins++);
    consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
      for (const t of payload.topics) for (const p of t.partitions) reader.committed.set(Number(p.partition), Number(p.offset));
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const o = Number(message.offset);
          const last = reader.lastRead.get(partition);
          if (last !== undefined && o <= last) reader.rewinds.push({ p: partition, from: last, to: o, committed: reader.committed.get(partition) ?? -1 });
          reader.lastRead.set(partition, o);
          reader.records.push({ p: partition, o, k: message.key?.toString() ?? null, v: message.value?.toString() ?? null });
        },
      });
    } catch (e) {
      await consumer.disconnect();
      throw e;
    }
    return reader;
  }

  /** Waits until `done` holds for what was read; fails at once when the consumer crashes. */
  until(what: string, done: (records: readonly ConsumedRecord[]) => boolean, timeoutMs: number): Promise<void> {
    return eventually(
      what,
      () => {
        if (this.errors.length > 0) throw new Error(`the consumer of ${this.topic} failed while waiting for ${what}: ${this.errors.join('; ')}`);
        return done(this.records);
      },
      timeoutMs,
      () => `read ${this.records.length} records of ${this.topic}; kafkajs said:\n${this.log.slice(-8).join('\n')}`,
    );
  }

  /**
   * Waits until every acknowledged record has been read, then checks what was: no error, each
   * partition in order with no gap (assertReadInOrder), and after each rejoin a start again at
   * the offsets last committed, never before: only what was not committed yet comes twice.
   */
  async assertReadAll(acked: readonly Placed[], timeoutMs: number): Promise<void> {
    await this.until(`all ${acked.length} acknowledged records`, (records) => new Set(records.map((r) => `${r.p}:${r.o}`)).size >= acked.length, timeoutMs);
    assert.deepEqual(this.errors, [], 'the consumer saw no error');
    assertReadInOrder(this.records, acked, this.topic, this.joins - 1);
    assert.deepEqual(
      this.rewinds.filter((r) => r.to < r.committed),
      [],
      'the consumer started again no earlier than the offsets it had committed',
    );
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
