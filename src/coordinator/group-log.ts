import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { decodeRecordBatch, encodeRecordBatch } from '../protocol/records/record-batch.js';
import type { GroupMetadataValue } from '../protocol/generated/group-coordinator/group-metadata-value.js';
import type { OffsetCommitValue } from '../protocol/generated/group-coordinator/offset-commit-value.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { Partition } from '../replication/partition.js';
import { forEachBatch } from '../storage/log-reader.js';
import { waitForHighWatermark } from '../replication/high-watermark-wait.js';
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

export type GroupLogRecord =
  | { kind: 'offset'; topic: string; partition: number; value: OffsetCommitValue | null }
  | { kind: 'group'; value: GroupMetadataValue | null };

/** Why a group's records cannot be written here now, as the Kafka error to answer with. */
export class GroupLogError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'GroupLogError';
  }
}

/**
 * Kafka's answer when a group's write fails: NOT_COORDINATOR when its partition is led
 * elsewhere now (the client finds the new coordinator), COORDINATOR_NOT_AVAILABLE otherwise
 * (a timeout, an offline partition: the client retries).
 */
export function groupWriteError(e: unknown): number {
  return e instanceof GroupLogError ? e.errorCode : ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

/**
 * The coordinator's durable state: records in __consumer_offsets, in Kafka's key and value
 * formats, so that a group's history is a compacted log. A group lives in one partition of it,
 * and is coordinated by that partition's leader; a write is done once every in-sync replica has
 * it (offsets.commit.required.acks=-1), so a committed offset survives the leader's loss.
 */
export class GroupLog {
  constructor(
    private readonly partitions: ReplicaManager,
    /** offsets.commit.timeout.ms: how long a write may wait for the in-sync replicas. */
    private readonly commitTimeoutMs: number,
  ) {}

  /** The partition of __consumer_offsets that holds a group, or -1 while the topic does not exist. */
  partitionOf(groupId: string): number {
    const count = this.partitions.partitionCount(OFFSETS_TOPIC);
    return count === 0 ? -1 : offsetsPartitionFor(groupId, count);
  }

  /** The group's partition, if this broker leads it. */
  private leaderFor(groupId: string): Partition {
    const index = this.partitionOf(groupId);
    const p = index < 0 ? null : this.partitions.lookupLeader(OFFSETS_TOPIC, index);
    if (p === null || typeof p === 'number') throw new GroupLogError(ErrorCode.NOT_COORDINATOR, `the ${OFFSETS_TOPIC} partition of group ${groupId} is not led here`);
    return p;
  }

  /** Appends a group's records as one batch and resolves once the in-sync replicas have them. */
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
    const partition = this.leaderFor(groupId);
    const appended = partition.appendAsLeader(batch, now);
    await appended.durable;
    const outcome = await waitForHighWatermark(partition, appended.lastOffset + 1, this.commitTimeoutMs);
    if (outcome === 'not-leader') throw new GroupLogError(ErrorCode.NOT_COORDINATOR, `${partition.key} lost its leadership before the write was replicated`);
    if (outcome === 'timed-out') {
      throw new GroupLogError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `the in-sync replicas of ${partition.key} did not take the write within ${this.commitTimeoutMs} ms`);
    }
  }

  /** Replays the records of one partition of __consumer_offsets in offset order (a coordinator taking it over). */
  replay(partition: Partition, visit: (record: OffsetsTopicRecord) => void): void {
    forEachBatch(partition.log, partition.log.logStartOffset, partition.log.logEndOffset, (bytes) => {
      for (const r of decodeRecordBatch(bytes).records) {
        if (r.key === null) continue;
        try {
          const record = readOffsetsTopicRecord(r.key, r.value);
          if (record) visit(record);
        } catch (e) {
          log.warn({ err: e, partition: partition.key }, 'skipped an unreadable __consumer_offsets record');
        }
      }
    });
  }
}
