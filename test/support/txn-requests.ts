import { apis } from '../../src/protocol/generated/api-table.js';
import type { AddPartitionsToTxnResponse } from '../../src/protocol/generated/messages/add-partitions-to-txn-response.js';
import type { DescribeTransactionsResponseTransactionState } from '../../src/protocol/generated/messages/describe-transactions-response.js';
import type { FetchResponsePartitionData } from '../../src/protocol/generated/messages/fetch-response.js';
import type { ListTransactionsResponse } from '../../src/protocol/generated/messages/list-transactions-response.js';
import type { ProduceResponsePartitionProduceResponse } from '../../src/protocol/generated/messages/produce-response.js';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch, type RecordBatch } from '../../src/protocol/records/record-batch.js';
import type { RawConnection } from './raw-connection.js';
import { fetchRequest, producerBatch } from './raw-requests.js';

/**
 * Raw requests of Kafka's transaction APIs, as a transactional producer (and an admin client)
 * sends them, for tests that need each step under their own control.
 */

export interface TxnProducer {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

/** FindCoordinator v4 (batched keys) of one key: the coordinator's answer for it. */
export async function findCoordinator(client: RawConnection, key: string, keyType: number): Promise<{ errorCode: number; nodeId: number; port: number }> {
  const res = await client.request(apis.FindCoordinator, 4, { key: '', keyType, coordinatorKeys: [key] });
  const c = res.coordinators[0];
  return { errorCode: c.errorCode, nodeId: c.nodeId, port: c.port };
}

/** InitProducerId with a transactional id (v4 unless told). */
export async function initTxn(
  client: RawConnection,
  transactionalId: string,
  opts: { version?: number; timeoutMs?: number; producerId?: bigint; producerEpoch?: number } = {},
): Promise<{ errorCode: number } & TxnProducer> {
  const res = await client.request(apis.InitProducerId, opts.version ?? 4, {
    transactionalId,
    transactionTimeoutMs: opts.timeoutMs ?? 60_000,
    producerId: opts.producerId ?? -1n,
    producerEpoch: opts.producerEpoch ?? -1,
  });
  return { errorCode: res.errorCode, transactionalId, producerId: res.producerId, producerEpoch: res.producerEpoch };
}

/** Groups partitions by topic, as the requests carry them. */
function byTopic(partitions: TopicPartition[]): { name: string; partitions: number[] }[] {
  const topics = new Map<string, number[]>();
  for (const p of partitions) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
  return [...topics].map(([name, ids]) => ({ name, partitions: ids }));
}

/** AddPartitionsToTxn in a producer's form (v0-3): each partition's error code, by "topic-partition". */
export async function addPartitions(client: RawConnection, p: TxnProducer, partitions: TopicPartition[], version = 3): Promise<Map<string, number>> {
  const res = await client.request(apis.AddPartitionsToTxn, version, {
    transactions: [],
    v3AndBelowTransactionalId: p.transactionalId,
    v3AndBelowProducerId: p.producerId,
    v3AndBelowProducerEpoch: p.producerEpoch,
    v3AndBelowTopics: byTopic(partitions),
  });
  return new Map(res.resultsByTopicV3AndBelow.flatMap((t) => t.resultsByPartition.map((r) => [`${t.name}-${r.partitionIndex}`, r.partitionErrorCode] as const)));
}

/** AddPartitionsToTxn in the batched form (v4+), one transaction per entry. */
export function addPartitionsBatched(
  client: RawConnection,
  transactions: (TxnProducer & { verifyOnly?: boolean; partitions: TopicPartition[] })[],
  version = 4,
): Promise<AddPartitionsToTxnResponse> {
  return client.request(apis.AddPartitionsToTxn, version, {
    transactions: transactions.map((t) => ({
      transactionalId: t.transactionalId,
      producerId: t.producerId,
      producerEpoch: t.producerEpoch,
      verifyOnly: t.verifyOnly ?? false,
      topics: byTopic(t.partitions),
    })),
    v3AndBelowTransactionalId: '',
    v3AndBelowProducerId: 0n,
    v3AndBelowProducerEpoch: 0,
    v3AndBelowTopics: [],
  });
}

/** The error codes of one transaction of a batched AddPartitionsToTxn answer, by "topic-partition". */
export function resultsOf(res: AddPartitionsToTxnResponse, transactionalId: string): Map<string, number> {
  const t = res.resultsByTransaction.find((r) => r.transactionalId === transactionalId);
  if (!t) throw new Error(`no result for ${transactionalId}`);
  return new Map(t.topicResults.flatMap((r) => r.resultsByPartition.map((p) => [`${r.name}-${p.partitionIndex}`, p.partitionErrorCode] as const)));
}

export async function addOffsets(client: RawConnection, p: TxnProducer, groupId: string, version = 3): Promise<number> {
  const res = await client.request(apis.AddOffsetsToTxn, version, { transactionalId: p.transactionalId, producerId: p.producerId, producerEpoch: p.producerEpoch, groupId });
  return res.errorCode;
}

export async function endTxn(client: RawConnection, p: TxnProducer, committed: boolean, version = 3): Promise<number> {
  const res = await client.request(apis.EndTxn, version, { transactionalId: p.transactionalId, producerId: p.producerId, producerEpoch: p.producerEpoch, committed });
  return res.errorCode;
}

/** TxnOffsetCommit v3 of offsets for one topic, outside any group generation: each partition's error code. */
export async function txnOffsetCommit(client: RawConnection, p: TxnProducer, groupId: string, topic: string, offsets: [number, bigint][], version = 3): Promise<number[]> {
  const res = await client.request(apis.TxnOffsetCommit, version, {
    transactionalId: p.transactionalId,
    groupId,
    producerId: p.producerId,
    producerEpoch: p.producerEpoch,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: topic, partitions: offsets.map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset, committedLeaderEpoch: -1, committedMetadata: null })) }],
  });
  return res.topics[0].partitions.map((x) => x.errorCode);
}

/**
 * OffsetFetch of one partition of a group: its error codes and committed offset (-1: none). v6,
 * or v7 when the offset must be stable (KIP-447: not pending in a transaction).
 */
export async function committedOffset(
  client: RawConnection,
  groupId: string,
  topic: string,
  partition: number,
  requireStable = false,
): Promise<{ errorCode: number; partitionError: number; offset: bigint }> {
  const res = await client.request(apis.OffsetFetch, requireStable ? 7 : 6, { groupId, topics: [{ name: topic, partitionIndexes: [partition] }], groups: [], requireStable });
  const p = res.topics[0]?.partitions[0];
  return { errorCode: res.errorCode, partitionError: p?.errorCode ?? -1, offset: p?.committedOffset ?? -1n };
}

export async function describeTransaction(client: RawConnection, transactionalId: string): Promise<DescribeTransactionsResponseTransactionState> {
  const res = await client.request(apis.DescribeTransactions, 0, { transactionalIds: [transactionalId] });
  return res.transactionStates[0];
}

export function listTransactions(
  client: RawConnection,
  filters: { states?: string[]; producerIds?: bigint[]; durationMs?: bigint } = {},
  version = 1,
): Promise<ListTransactionsResponse> {
  return client.request(apis.ListTransactions, version, { stateFilters: filters.states ?? [], producerIdFilters: filters.producerIds ?? [], durationFilter: filters.durationMs ?? -1n });
}

/**
 * Produce v9 (acks=all) of a transactional batch of `count` records to one partition, values
 * `<tag>-<i>`, in the request of the producer's transactional id.
 */
export async function produceTxn(
  client: RawConnection,
  p: TxnProducer,
  tp: TopicPartition,
  b: { sequence: number; count: number; tag?: string },
): Promise<ProduceResponsePartitionProduceResponse> {
  const records = producerBatch({ producerId: p.producerId, epoch: p.producerEpoch, sequence: b.sequence, count: b.count, tag: b.tag, transactional: true });
  const res = await client.request(apis.Produce, 9, {
    transactionalId: p.transactionalId,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: tp.topic, partitionData: [{ index: tp.partition, records }] }],
  });
  return res.responses[0].partitionResponses[0];
}

export interface FetchedPartition {
  data: FetchResponsePartitionData;
  /** Every batch in the response, control batches included. */
  batches: RecordBatch[];
  /** The values a read_committed consumer keeps: data records not in an aborted transaction. */
  committedValues: string[];
  /** Every data record's value, as read_uncommitted sees them. */
  allValues: string[];
}

/**
 * Fetch v12 of one partition from `offset`, no waiting, and what a consumer makes of it:
 * the aborted transactions the answer lists are dropped as Kafka's consumers drop them (from
 * each one's first offset, up to its ABORT marker).
 */
export async function fetchPartition(client: RawConnection, tp: TopicPartition, offset: bigint, isolationLevel: number): Promise<FetchedPartition> {
  const res = await client.request(apis.Fetch, 12, fetchRequest({ topic: tp.topic }, [{ partition: tp.partition, fetchOffset: offset }], { maxBytes: 16 * 1024 * 1024, partitionMaxBytes: 8 * 1024 * 1024, isolationLevel }));
  const data = res.responses[0].partitions[0];
  const bytes = (data.records as Buffer | null) ?? Buffer.alloc(0);
  const batches: RecordBatch[] = [];
  for (const span of batchSpans(bytes)) batches.push(decodeRecordBatch(bytes, { offset: span.offset }));
  // As Kafka's consumer does: an aborted transaction's batches are skipped from its first
  // offset until its producer's ABORT marker.
  const pending = [...(data.abortedTransactions ?? [])].sort((a, b) => Number(a.firstOffset - b.firstOffset));
  const aborting = new Set<bigint>();
  const committedValues: string[] = [];
  const allValues: string[] = [];
  for (const b of batches) {
    while (pending.length > 0 && pending[0].firstOffset <= b.baseOffset + BigInt(b.lastOffsetDelta)) aborting.add(pending.shift()!.producerId);
    if (b.control) {
      if (aborting.has(b.producerId)) aborting.delete(b.producerId);
      continue;
    }
    const values = b.records.map((r) => r.value?.toString() ?? '');
    allValues.push(...values);
    if (!(b.transactional && aborting.has(b.producerId))) committedValues.push(...values);
  }
  return { data, batches, committedValues, allValues };
}

/**
 * Fetches one partition from `offset` on, as a consumer does, until it has read up to the last
 * stable offset (read_committed) or the high watermark: a single fetch stops at a segment's end.
 * Each response's aborted transactions apply to its own records, as in a consumer.
 */
export async function fetchAll(client: RawConnection, tp: TopicPartition, offset: bigint, isolationLevel: number): Promise<FetchedPartition> {
  let next = offset;
  let first: FetchedPartition | null = null;
  const batches: RecordBatch[] = [];
  const committedValues: string[] = [];
  const allValues: string[] = [];
  for (;;) {
    const part = await fetchPartition(client, tp, next, isolationLevel);
    first ??= part;
    if (part.data.errorCode !== 0) throw new Error(`fetching ${tp.topic}-${tp.partition} at ${next}: error ${part.data.errorCode}`);
    batches.push(...part.batches);
    committedValues.push(...part.committedValues);
    allValues.push(...part.allValues);
    const end = isolationLevel === READ_COMMITTED ? part.data.lastStableOffset : part.data.highWatermark;
    const last = part.batches.at(-1);
    if (!last) break;
    next = last.baseOffset + BigInt(last.lastOffsetDelta) + 1n;
    if (next >= end) break;
  }
  return { data: first.data, batches, committedValues, allValues };
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
