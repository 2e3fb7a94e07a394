import { CompressionType } from '../../src/protocol/compression/index.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { createFetchRequest, type FetchRequest } from '../../src/protocol/generated/messages/fetch-request.js';
import type { DescribeProducersResponseProducerState } from '../../src/protocol/generated/messages/describe-producers-response.js';
import type { InitProducerIdResponse } from '../../src/protocol/generated/messages/init-producer-id-response.js';
import type { MetadataResponseTopic } from '../../src/protocol/generated/messages/metadata-response.js';
import type { ProduceResponsePartitionProduceResponse } from '../../src/protocol/generated/messages/produce-response.js';
import { ZERO_UUID } from '../../src/protocol/primitives/uuid.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import type { RawConnection } from './raw-connection.js';

/** What an idempotent producer puts in a batch header, and how many records follow. */
export interface ProducerBatch {
  producerId: bigint;
  epoch: number;
  sequence: number;
  count: number;
  /** Distinguishes values across batches; default `s<sequence>`. */
  tag?: string;
  compression?: CompressionType;
  transactional?: boolean;
}

/** A batch as an idempotent producer sends it; values are `<tag>-<i>`. */
export function producerBatch(b: ProducerBatch): Buffer {
  const tag = b.tag ?? `s${b.sequence}`;
  return encodeRecordBatch({
    producerId: b.producerId,
    producerEpoch: b.epoch,
    baseSequence: b.sequence,
    compression: b.compression,
    transactional: b.transactional,
    baseTimestamp: BigInt(Date.now()),
    records: Array.from({ length: b.count }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`${tag}-${i}`),
      timestampDelta: i,
      headers: [{ key: 'h', value: Buffer.from(tag) }],
    })),
  });
}

export async function initProducerId(
  client: RawConnection,
  opts: { version?: number; transactionalId?: string | null; producerId?: bigint; producerEpoch?: number } = {},
): Promise<InitProducerIdResponse> {
  return client.request(apis.InitProducerId, opts.version ?? 4, {
    transactionalId: opts.transactionalId ?? null,
    transactionTimeoutMs: 60_000,
    producerId: opts.producerId ?? -1n,
    producerEpoch: opts.producerEpoch ?? -1,
  });
}

/** Produce v9 (acks=all) of one batch to one partition; the partition's answer. */
export async function produceBatch(
  client: RawConnection,
  topic: string,
  partition: number,
  records: Buffer,
  opts: { version?: number; timeoutMs?: number } = {},
): Promise<ProduceResponsePartitionProduceResponse> {
  const res = await client.request(apis.Produce, opts.version ?? 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: opts.timeoutMs ?? 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  return res.responses[0].partitionResponses[0];
}

/** DescribeProducers of one partition: its error code and active producers. */
export async function describeProducers(
  client: RawConnection,
  topic: string,
  partition: number,
): Promise<{ errorCode: number; producers: DescribeProducersResponseProducerState[] }> {
  const res = await client.request(apis.DescribeProducers, 0, { topics: [{ name: topic, partitionIndexes: [partition] }] });
  const p = res.topics[0].partitions[0];
  return { errorCode: p.errorCode, producers: p.activeProducers };
}

/** The partition's log end (ListOffsets LATEST). */
export async function latestOffset(client: RawConnection, topic: string, partition: number): Promise<bigint> {
  const res = await client.request(apis.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }],
    timeoutMs: 5000,
  });
  return res.topics[0].partitions[0].offset;
}

/** CreateTopics v5 of one topic with the given configs (one partition unless told); its error code. */
export async function createTopic(client: RawConnection, name: string, configs: Record<string, string> = {}, partitions = 1): Promise<number> {
  const res = await client.request(apis.CreateTopics, 5, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  return res.topics[0].errorCode;
}

/** Metadata v12 of one topic, never creating it: its error code and partitions, by index. */
export async function topicMetadata(client: RawConnection, topic: string): Promise<MetadataResponseTopic> {
  const res = await client.request(apis.Metadata, 12, {
    topics: [{ topicId: ZERO_UUID, name: topic }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const t = res.topics[0];
  return { ...t, partitions: [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex) };
}

/**
 * A consumer's Fetch of one topic (by name up to v12, by id from v13), with no wait: each
 * partition from `fetchOffset` (default 0), up to `partitionMaxBytes` each and `maxBytes` in all.
 */
export function fetchRequest(
  topic: { topic?: string; topicId?: string },
  partitions: { partition: number; fetchOffset?: bigint }[],
  limits: { maxBytes: number; partitionMaxBytes: number; isolationLevel?: number },
): FetchRequest {
  return {
    ...createFetchRequest(),
    minBytes: 1,
    maxBytes: limits.maxBytes,
    isolationLevel: limits.isolationLevel ?? 0,
    topics: [
      {
        topic: topic.topic ?? '',
        topicId: topic.topicId ?? ZERO_UUID,
        partitions: partitions.map((p) => ({ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: p.fetchOffset ?? 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: limits.partitionMaxBytes, replicaDirectoryId: ZERO_UUID })),
      },
    ],
  };
}

