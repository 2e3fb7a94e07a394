import assert from 'node:assert/strict';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startTestBroker, type InProcessBroker } from './test-broker.js';
import type { BrokerConnection } from '../../src/client/connection.js';
import { GROUP_RESOURCE } from '../../src/client/group-configs.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { ShareFetchResponse } from '../../src/protocol/generated/messages/share-fetch-response.js';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';

/** Raw ShareFetch and ShareAcknowledge, as a share consumer sends them, and group configs, for tests of the broker's side. */

export { GROUP_RESOURCE };

/** IncrementalAlterConfigs on a group: a value sets, null deletes. */
export async function setGroupConfigs(client: KafkaClient, groupId: string, configs: Record<string, string | null>) {
  const res = await client.call(() => client.any(), 'IncrementalAlterConfigs', {
    resources: [{ resourceType: GROUP_RESOURCE, resourceName: groupId, configs: Object.entries(configs).map(([name, value]) => ({ name, value, configOperation: value === null ? 1 : 0 })) }],
    validateOnly: false,
  });
  return res.responses[0];
}

export interface Ack {
  firstOffset: bigint;
  lastOffset: bigint;
  acknowledgeTypes: number[];
}

export const ack = (first: number, last: number, ...types: number[]): Ack => ({ firstOffset: BigInt(first), lastOffset: BigInt(last), acknowledgeTypes: types });

/** One member's share session on partition 0 of a topic, through `route` (a broker connection of `client`). */
export class ShareMember {
  epoch = 0;

  constructor(
    private readonly client: KafkaClient,
    private readonly route: () => Promise<BrokerConnection>,
    readonly groupId: string,
    readonly memberId: string,
    readonly topicId: string,
  ) {}

  /** The next request of this member's share session (epoch -1 closes it). */
  async fetch(acks: Ack[] = [], opts: { close?: boolean; maxWaitMs?: number; maxRecords?: number } = {}): Promise<ShareFetchResponse> {
    const epoch = opts.close ? -1 : this.epoch;
    const res = await this.client.call(
      this.route,
      'ShareFetch',
      {
        ...apis.ShareFetch.request.create(),
        groupId: this.groupId,
        memberId: this.memberId,
        shareSessionEpoch: epoch,
        maxWaitMs: opts.maxWaitMs ?? 100,
        minBytes: 1,
        maxBytes: 1 << 20,
        maxRecords: opts.maxRecords ?? 500,
        batchSize: 500,
        topics: [{ topicId: this.topicId, partitions: [{ partitionIndex: 0, partitionMaxBytes: 0, acknowledgementBatches: acks }] }],
        forgottenTopicsData: [],
      },
      1,
    );
    if (res.errorCode === ErrorCode.NONE && !opts.close) this.epoch++;
    return res;
  }

  /** ShareAcknowledge: the top-level error, then each partition's. */
  async acknowledge(acks: Ack[], epoch = this.epoch): Promise<number[]> {
    const res = await this.client.call(
      this.route,
      'ShareAcknowledge',
      { ...apis.ShareAcknowledge.request.create(), groupId: this.groupId, memberId: this.memberId, shareSessionEpoch: epoch, topics: [{ topicId: this.topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: acks }] }] },
      1,
    );
    if (res.errorCode === ErrorCode.NONE) this.epoch++;
    return [res.errorCode, ...res.responses.flatMap((t) => t.partitions.map((p) => p.errorCode))];
  }
}

/** Acquired ranges ([first, last, delivery count]) and the values of the acquired records in a response. */
export function acquired(res: ShareFetchResponse): { ranges: [number, number, number][]; values: string[] } {
  const p = res.responses[0]?.partitions[0];
  assert.equal(res.errorCode, ErrorCode.NONE);
  assert.equal(p?.errorCode ?? ErrorCode.NONE, ErrorCode.NONE);
  const ranges = (p?.acquiredRecords ?? []).map((r) => [Number(r.firstOffset), Number(r.lastOffset), r.deliveryCount] as [number, number, number]);
  const inRange = (o: number) => ranges.some(([f, l]) => o >= f && o <= l);
  const values: string[] = [];
  const bytes = p?.records ? Buffer.from(p.records as Buffer) : Buffer.alloc(0);
  for (const span of batchSpans(bytes)) {
    const batch = decodeRecordBatch(bytes, { offset: span.offset });
    for (const r of batch.records) if (inRange(Number(batch.baseOffset) + r.offsetDelta)) values.push(r.value!.toString());
  }
  return { ranges, values };
}

/** An in-process broker with a raw client and a kafkajs producer on it, for share group tests that restart it. */
export class ShareTestBroker {
  broker!: InProcessBroker;
  client!: KafkaClient;
  producer!: Producer;

  constructor(
    private readonly dir: string,
    private readonly settings: Record<string, string> = {},
  ) {}

  async start(): Promise<void> {
    this.broker = await startTestBroker(this.settings, this.dir);
    this.client = new KafkaClient({ brokers: [this.broker.bootstrap], clientId: 'share-test', retries: 10 });
    this.producer = new Kafka({ brokers: [this.broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
    await this.producer.connect();
  }

  async stop(): Promise<void> {
    await this.producer.disconnect();
    await this.client.close();
    await this.broker.stop();
  }

  member(groupId: string, memberId: string, topicId: string): ShareMember {
    return new ShareMember(this.client, () => this.client.any(), groupId, memberId, topicId);
  }
}
