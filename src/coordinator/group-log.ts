import type { GroupMetadataValue } from '../protocol/generated/group-coordinator/group-metadata-value.js';
import type { OffsetCommitValue } from '../protocol/generated/group-coordinator/offset-commit-value.js';
import type { ControlTypeId } from '../protocol/records/control-record.js';
import type { Partition } from '../replication/partition.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import { CoordinatorLog } from './coordinator-log.js';
import { groupMetadataKey, groupMetadataValue, OFFSETS_TOPIC, offsetCommitKey, offsetCommitValue, readOffsetsTopicRecord, type OffsetsTopicRecord } from './offsets-topic-records.js';
import { log } from '../log.js';

export type GroupLogRecord =
  | { kind: 'offset'; topic: string; partition: number; value: OffsetCommitValue | null }
  | { kind: 'group'; value: GroupMetadataValue | null };

/** What a replay of __consumer_offsets hands its coordinator: a record, or a transaction's end. */
export type GroupLogEntry =
  | { kind: 'record'; record: OffsetsTopicRecord; /** The transactional producer that wrote it (TxnOffsetCommit), if any. */ producerId: bigint | null }
  | { kind: 'marker'; producerId: bigint; type: ControlTypeId };

/**
 * The group coordinator's durable state: records in __consumer_offsets, in Kafka's key and value
 * formats, so that a group's history is a compacted log (see CoordinatorLog).
 */
export class GroupLog {
  readonly log: CoordinatorLog;

  constructor(partitions: ReplicaManager, commitTimeoutMs: number) {
    this.log = new CoordinatorLog(partitions, OFFSETS_TOPIC, commitTimeoutMs);
  }

  partitionOf(groupId: string): number {
    return this.log.partitionOf(groupId);
  }

  /** Appends a group's records as one batch (a transactional producer's, for TxnOffsetCommit). */
  append(groupId: string, records: GroupLogRecord[], producer?: { id: bigint; epoch: number }): Promise<void> {
    return this.log.append(
      groupId,
      records.map((r) =>
        r.kind === 'offset'
          ? { key: offsetCommitKey(groupId, r.topic, r.partition), value: r.value && offsetCommitValue(r.value) }
          : { key: groupMetadataKey(groupId), value: r.value && groupMetadataValue(r.value) },
      ),
      producer,
    );
  }

  /** Replays one partition of __consumer_offsets in offset order (a coordinator taking it over). */
  replay(partition: Partition, visit: (entry: GroupLogEntry) => void): void {
    this.log.replay(partition, (batch) => {
      if (batch.control !== null) {
        visit({ kind: 'marker', producerId: batch.producerId, type: batch.control });
        return;
      }
      for (const r of batch.records) {
        try {
          const record = readOffsetsTopicRecord(r.key, r.value);
          if (record) visit({ kind: 'record', record, producerId: batch.transactional ? batch.producerId : null });
        } catch (e) {
          log.warn({ err: e, partition: partition.key }, 'skipped an unreadable __consumer_offsets record');
        }
      }
    });
  }
}
