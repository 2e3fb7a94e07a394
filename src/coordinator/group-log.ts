import { log } from '../log.js';
import { decodeRecordBatch, encodeRecordBatch } from '../protocol/records/record-batch.js';
import type { GroupMetadataValue } from '../protocol/generated/group-coordinator/group-metadata-value.js';
import type { OffsetCommitValue } from '../protocol/generated/group-coordinator/offset-commit-value.js';
import type { PartitionManager } from '../broker/partition-manager.js';
import { Partition } from '../broker/partition.js';
import { forEachBatch } from '../storage/log-reader.js';
import {
  groupMetadataKey,
  groupMetadataValue,
  OFFSETS_TOPIC,
  offsetCommitKey,
  offsetCommitValue,
  offsetsPartitionFor,
  readOffsetsTopicRecord,
  type OffsetsTopicRecord,
} from './offsets-topic-records.js';

export interface OffsetsTopicSettings {
  partitions: number;
  /** Topic configs of __consumer_offsets when it is created. */
  configs: Record<string, string>;
}

export type GroupLogRecord =
  | { kind: 'offset'; topic: string; partition: number; value: OffsetCommitValue | null }
  | { kind: 'group'; value: GroupMetadataValue | null };

/**
 * The __consumer_offsets partition that holds a group's records, or the Kafka error for it when
 * the broker cannot serve it; null while the topic does not exist.
 */
export function groupPartition(partitions: PartitionManager, groupId: string): Partition | number | null {
  const count = partitions.partitionCount(OFFSETS_TOPIC);
  return count === 0 ? null : partitions.lookup(OFFSETS_TOPIC, offsetsPartitionFor(groupId, count));
}

/**
 * The coordinator's durable state: records in __consumer_offsets, in Kafka's key and value
 * formats, so that a group's history is a compacted log. The topic is created on first use.
 */
export class GroupLog {
  constructor(
    private readonly partitions: PartitionManager,
    private readonly settings: OffsetsTopicSettings,
    private readonly createTopic: (name: string, partitions: number, configs: Record<string, string>) => void,
  ) {}

  /** Throws when the partition is offline: callers answer COORDINATOR_NOT_AVAILABLE. */
  private partitionFor(groupId: string): Partition {
    if (this.partitions.partitionCount(OFFSETS_TOPIC) === 0) {
      this.createTopic(OFFSETS_TOPIC, this.settings.partitions, this.settings.configs);
    }
    const p = groupPartition(this.partitions, groupId);
    if (!(p instanceof Partition)) throw new Error(`the ${OFFSETS_TOPIC} partition of group ${groupId} is offline`);
    return p;
  }

  /** Appends a group's records as one batch and resolves once they are as durable as the log makes them. */
  async append(groupId: string, records: GroupLogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const now = Date.now();
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(now),
      records: records.map((r) =>
        r.kind === 'offset'
          ? { key: offsetCommitKey(groupId, r.topic, r.partition), value: r.value && offsetCommitValue(r.value) }
          : { key: groupMetadataKey(groupId), value: r.value && groupMetadataValue(r.value) },
      ),
    });
    const partition = this.partitionFor(groupId);
    const appended = partition.log.append(batch, { leaderEpoch: partition.leaderEpoch, now, assignOffsets: true });
    await appended.durable;
    partition.advanceHighWatermark(appended.lastOffset + 1);
  }

  /** Replays every record of __consumer_offsets in offset order, per partition. */
  replay(visit: (record: OffsetsTopicRecord) => void): void {
    for (const p of this.partitions.ofTopic(OFFSETS_TOPIC)) {
      forEachBatch(p.log, p.log.logStartOffset, p.highWatermark, (bytes) => {
        for (const r of decodeRecordBatch(bytes).records) {
          if (r.key === null) continue;
          try {
            const record = readOffsetsTopicRecord(r.key, r.value);
            if (record) visit(record);
          } catch (e) {
            log.warn({ err: e, partition: p.key }, 'skipped an unreadable __consumer_offsets record');
          }
        }
      });
    }
  }
}
