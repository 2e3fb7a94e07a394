import { ZERO_UUID } from '../protocol/primitives/uuid.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { FetchRequest } from '../protocol/generated/messages/fetch-request.js';
import { batchSpans, decodeRecordBatch, type RecordHeader } from '../protocol/records/index.js';
import { check, KafkaError, type KafkaClient } from './kafka-client.js';
import { byLeader, describeTopic, partitionOf, type TopicInfo } from './topics.js';

/** A record as a consumer sees it: where it is, when it was written, what it holds. */
export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** Milliseconds since the epoch: the producer's time, or the broker's for log-append topics. */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface PartitionFetch {
  partition: number;
  records: FetchedRecord[];
  /** Where the next fetch of this partition starts. */
  nextOffset: bigint;
  highWatermark: bigint;
  logStartOffset: bigint;
  /** The position was not in the log (removed by retention, or past its end); nothing was read. */
  outOfRange: boolean;
}

/**
 * The records at or after `from` in a Fetch response's records blob. A response may end inside
 * its last batch (the broker cuts at the size limit): that part is left for the next fetch.
 * Control batches (transaction markers) are not data. A compressed batch can start before
 * `from`, so earlier records in it are dropped.
 */
export function decodeFetchedRecords(topic: string, partition: number, blob: Buffer, from: bigint): { records: FetchedRecord[]; nextOffset: bigint } {
  const records: FetchedRecord[] = [];
  let nextOffset = from;
  for (const span of batchSpans(blob, { allowPartialTail: true })) {
    const batch = decodeRecordBatch(blob, { offset: span.offset });
    const end = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
    if (end > nextOffset) nextOffset = end;
    if (batch.control) continue;
    for (const r of batch.records) {
      const offset = batch.baseOffset + BigInt(r.offsetDelta);
      if (offset < from) continue;
      const timestamp = batch.timestampType === 'log-append' ? batch.maxTimestamp : batch.baseTimestamp + BigInt(r.timestampDelta);
      records.push({ topic, partition, offset, timestamp, key: r.key, value: r.value, headers: r.headers });
    }
  }
  return { records, nextOffset };
}

export interface FetcherOptions {
  /** How long the broker may hold a fetch that has nothing yet; default 500 ms. */
  maxWaitMs?: number;
  /** Per response; default 50 MiB. */
  maxBytes?: number;
  /** Per partition; default 1 MiB (a larger first batch still comes whole, KIP-74). */
  partitionMaxBytes?: number;
}

/**
 * Reads one topic's partitions from their leaders, one Fetch per leader in parallel, without
 * fetch sessions (every request names all its partitions: simple, and cheap at CLI scale).
 */
export class TopicFetcher {
  private info: TopicInfo | null;
  private readonly topicName: string;

  constructor(
    private readonly client: KafkaClient,
    topic: TopicInfo,
    private readonly options: FetcherOptions = {},
  ) {
    this.info = topic;
    this.topicName = topic.name;
  }

  /** The next records of each partition in `positions` (partition to offset). */
  async fetch(positions: ReadonlyMap<number, bigint>): Promise<PartitionFetch[]> {
    return this.client.retrying(async () => {
      const info = (this.info ??= await describeTopic(this.client, this.topicName));
      const wanted = [...positions.keys()].map((p) => partitionOf(info, p));
      try {
        const perLeader = await Promise.all([...byLeader(wanted)].map(([leaderId, ps]) => this.fetchFrom(leaderId, info, ps.map((p) => p.partition), positions)));
        return perLeader.flat();
      } catch (e) {
        this.info = null;
        throw e;
      }
    });
  }

  private async fetchFrom(leaderId: number, info: TopicInfo, partitions: number[], positions: ReadonlyMap<number, bigint>): Promise<PartitionFetch[]> {
    const conn = await this.client.node(leaderId);
    const request: FetchRequest = {
      clusterId: null,
      replicaId: -1,
      replicaState: { replicaId: -1, replicaEpoch: -1n },
      maxWaitMs: this.options.maxWaitMs ?? 500,
      minBytes: 1,
      maxBytes: this.options.maxBytes ?? 50 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: info.name,
          topicId: info.topicId,
          partitions: partitions.map((partition) => ({
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: positions.get(partition)!,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: this.options.partitionMaxBytes ?? 1024 * 1024,
            replicaDirectoryId: ZERO_UUID,
          })),
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    };
    const res = await conn.send('Fetch', request);
    check(res.errorCode, `fetch from ${conn.address}`);
    const out: PartitionFetch[] = [];
    for (const p of res.responses.flatMap((t) => t.partitions)) {
      const from = positions.get(p.partitionIndex);
      if (from === undefined) continue;
      const base = { partition: p.partitionIndex, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset };
      if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        out.push({ ...base, records: [], nextOffset: from, outOfRange: true });
        continue;
      }
      // A moved leader or a stale epoch: the whole fetch is retried from fresh metadata.
      if (p.errorCode !== ErrorCode.NONE) throw new KafkaError(p.errorCode, `fetch ${info.name}-${p.partitionIndex}`);
      const blob = p.records as Buffer | null;
      const decoded = blob && blob.length > 0 ? decodeFetchedRecords(info.name, p.partitionIndex, blob, from) : { records: [], nextOffset: from };
      out.push({ ...base, ...decoded, outOfRange: false });
    }
    return out;
  }
}
