/**
 * What a real client is told to send in the capture tests, written once and handed to each
 * client's driver (in-process for kafkajs, as JSON to a child process for @platformatic/kafka),
 * then used again as the expectation for every decoded request and record.
 */

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionName = (typeof COMPRESSIONS)[number];

export interface PlannedHeader {
  key: string;
  value: Buffer | null;
}

export interface PlannedMessage {
  key: Buffer | null;
  value: Buffer | null;
  /** In wire order; equal keys are adjacent, the only order every client can express. */
  headers: PlannedHeader[];
  /** Create time in epoch milliseconds. */
  timestamp: bigint;
}

/** One send call: one Produce request holding one batch for one partition. */
export interface PlannedSend {
  topic: string;
  partition: number;
  acks: number;
  compression: CompressionName;
  messages: PlannedMessage[];
}

export interface PlannedProducer {
  idempotent: boolean;
  sends: PlannedSend[];
}

export interface PlannedGroup {
  groupId: string;
  topics: string[];
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Fetch settings; a short wait keeps an idle consumer's loop slow but the test quick. */
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  maxBytesPerPartition: number;
}

export interface ClientPlan {
  clientId: string;
  /** The clients' request timeout, which is also what they put in Produce's timeoutMs. */
  requestTimeoutMs: number;
  /** Every topic of the broker has this many partitions. */
  partitionsPerTopic: number;
  producers: PlannedProducer[];
  group: PlannedGroup;
}

export interface PlanOptions {
  clientId: string;
  /** kafkajs cannot write a null header value; @platformatic/kafka can. */
  nullHeaderValues: boolean;
}

const BASE_TIMESTAMP = 1_700_000_000_000n;

/** A value that compresses well and spans several 32 KiB snappy blocks. */
function repetitiveValue(size: number): Buffer {
  const unit = Buffer.from('sluice-real-client-capture;');
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += unit.length) unit.copy(out, at);
  return out;
}

/** The same shapes of record for every codec: the codec must not change one byte of them. */
function messagesFor(tag: string, first: bigint, options: PlanOptions): PlannedMessage[] {
  const nullHeader: PlannedHeader[] = options.nullHeaderValues ? [{ key: 'absent', value: null }] : [];
  return [
    {
      key: Buffer.from(`key-${tag}-0`),
      value: Buffer.from(`value-${tag}-0`),
      headers: [
        { key: 'trace-id', value: Buffer.from(`trace-${tag}`) },
        { key: 'hop', value: Buffer.from('a') },
        { key: 'hop', value: Buffer.from('b') },
        ...nullHeader,
      ],
      timestamp: first,
    },
    // A tombstone: a key and a null value.
    { key: Buffer.from(`key-${tag}-1`), value: null, headers: [], timestamp: first + 5n },
    // Earlier than the first record: a negative timestamp delta for clients that base on the first.
    { key: null, value: Buffer.from([0x00, 0xff, 0x80, 0x7f, 0xc3, 0x28]), headers: [], timestamp: first - 3n },
    // Empty but not null, in key, value and header value; a multibyte header key.
    { key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [{ key: 'ключ-✓', value: Buffer.alloc(0) }], timestamp: first + 1_000n },
    { key: Buffer.from(`key-${tag}-4`), value: repetitiveValue(70_000), headers: [{ key: 'size', value: Buffer.from('70000') }], timestamp: first + 2_000n },
  ];
}

export function buildPlan(options: PlanOptions): ClientPlan {
  const { clientId } = options;
  let sendIndex = 0;
  const send = (topic: string, compression: CompressionName, acks: number): PlannedSend => {
    const index = sendIndex++;
    return {
      topic,
      partition: index % 2,
      acks,
      compression,
      messages: messagesFor(`${compression}-${index}`, BASE_TIMESTAMP + BigInt(index) * 10_000n, options),
    };
  };
  return {
    clientId,
    requestTimeoutMs: 30_000,
    partitionsPerTopic: 2,
    producers: [
      { idempotent: false, sends: COMPRESSIONS.map((c, i) => send(`${clientId}-${c}`, c, i % 2 === 0 ? -1 : 1)) },
      // Idempotence requires acks=-1; two batches to one partition show the sequence advancing.
      {
        idempotent: true,
        sends: [send(`${clientId}-idempotent`, 'none', -1), send(`${clientId}-idempotent`, 'zstd', -1)].map((s) => ({ ...s, partition: 0 })),
      },
    ],
    group: {
      groupId: `${clientId}-group`,
      topics: [`${clientId}-group-a`, `${clientId}-group-b`],
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 45_000,
      heartbeatIntervalMs: 100,
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 4_000_000,
      maxBytesPerPartition: 1_000_000,
    },
  };
}

/**
 * The plan as JSON for a child process: byte strings in base64, bigints as decimal strings.
 * test/support/platformatic-client.mjs reads this shape back.
 */
export function planToJson(plan: ClientPlan): string {
  const bytes = (b: Buffer | null): string | null => (b === null ? null : b.toString('base64'));
  return JSON.stringify({
    ...plan,
    producers: plan.producers.map((p) => ({
      ...p,
      sends: p.sends.map((s) => ({
        ...s,
        messages: s.messages.map((m) => ({
          key: bytes(m.key),
          value: bytes(m.value),
          headers: m.headers.map((h) => ({ key: h.key, value: bytes(h.value) })),
          timestamp: m.timestamp.toString(),
        })),
      })),
    })),
  });
}

/** Every topic the plan names, for checking what Metadata was asked about. */
export function plannedTopics(plan: ClientPlan): Set<string> {
  const topics = new Set(plan.group.topics);
  for (const p of plan.producers) for (const s of p.sends) topics.add(s.topic);
  return topics;
}
