import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { Writer } from '../protocol/primitives/writer.js';
import { RecordBatchHeader } from '../protocol/records/batch-header.js';
import type { ControlTypeId } from '../protocol/records/control-record.js';
import { decodeRecordBatch, encodeRecordBatch } from '../protocol/records/record-batch.js';
import { waitForHighWatermark } from '../replication/high-watermark-wait.js';
import type { Partition } from '../replication/partition.js';
import { hasProducerId } from '../protocol/records/batch-layout.js';
import { producerStateOf } from '../replication/producers/producer-state.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import { forEachBatch } from '../storage/log-reader.js';
import type { AppendResult } from '../storage/partition-log.js';

/** A key or value of an internal topic's record: its int16 version, then the message in that version. */
export function versionedRecord(version: number, write: (w: Writer) => void): Buffer {
  const w = new Writer(64);
  w.int16(version);
  write(w);
  return Buffer.from(w.finish());
}

/** Java's String.hashCode, which picks a key's partition of Kafka's internal topics. */
function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The partition of an internal topic that holds a group or a transactional id, by Kafka's own rule. */
export function coordinatorPartitionFor(key: string, partitions: number): number {
  // Kafka's Utils.abs maps Integer.MIN_VALUE to 0 rather than overflowing.
  const h = javaStringHash(key);
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

/** Why a coordinator's records cannot be written here now, as the Kafka error to answer with. */
export class CoordinatorLogError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CoordinatorLogError';
  }
}

/**
 * Kafka's answer when a coordinator's write fails: NOT_COORDINATOR when its partition is led
 * elsewhere now (the client finds the new coordinator), COORDINATOR_NOT_AVAILABLE otherwise
 * (a timeout, an offline partition: the client retries).
 */
export function coordinatorWriteError(e: unknown): number {
  return e instanceof CoordinatorLogError ? e.errorCode : ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

export interface CoordinatorRecord {
  key: Buffer;
  value: Buffer | null;
}

/** A batch of an internal topic as a coordinator replays it. */
export interface CoordinatorBatch {
  offset: number;
  producerId: bigint;
  producerEpoch: number;
  transactional: boolean;
  /** A transaction marker's type, for a control batch; null otherwise. */
  control: ControlTypeId | null;
  records: CoordinatorRecord[];
}

/**
 * The durable state of a coordinator (groups, transactions): records in a compacted internal
 * topic, a key's history in the partition its key hashes to, that partition's leader the key's
 * coordinator. A write is done once every in-sync replica has it (Kafka's required acks -1 for
 * coordinator writes), so it survives the leader's loss.
 */
export class CoordinatorLog {
  private readonly header = new RecordBatchHeader();

  constructor(
    private readonly partitions: ReplicaManager,
    readonly topic: string,
    /** How long a write may wait for the in-sync replicas (offsets.commit.timeout.ms and the like). */
    private readonly commitTimeoutMs: number,
  ) {}

  /** The partition that holds `key`, or -1 while the topic does not exist. */
  partitionOf(key: string): number {
    const count = this.partitions.partitionCount(this.topic);
    return count === 0 ? -1 : coordinatorPartitionFor(key, count);
  }

  /** The key's partition, if this broker leads it. */
  private leaderFor(key: string): Partition {
    const index = this.partitionOf(key);
    const p = index < 0 ? null : this.partitions.lookupLeader(this.topic, index);
    if (p === null || typeof p === 'number') throw new CoordinatorLogError(ErrorCode.NOT_COORDINATOR, `the ${this.topic} partition of ${key} is not led here`);
    return p;
  }

  /**
   * Appends records under `key`'s partition as one batch (a producer's transactional one when
   * `producer` is given: TxnOffsetCommit) and resolves once the in-sync replicas have them.
   */
  async append(key: string, records: CoordinatorRecord[], producer?: { id: bigint; epoch: number }): Promise<void> {
    if (records.length === 0) return;
    const now = Date.now();
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(now),
      records,
      ...(producer ? { producerId: producer.id, producerEpoch: producer.epoch, baseSequence: -1, transactional: true } : {}),
    });
    await this.appendBatch(this.leaderFor(key), batch, now);
  }

  /**
   * Appends a batch already made to a partition this broker leads: at once (a failure, or a
   * producer epoch older than the partition knows, throws here), and the promise resolves once
   * it is replicated. A producer's batch (a transaction marker, a transactional offset commit)
   * goes into the partition's producer state right after the append, before anything else can
   * append, so the state follows the log batch by batch.
   */
  appendBatch(partition: Partition, batch: Buffer, now = Date.now()): Promise<number> {
    const h = this.header.reset(batch);
    const producers = hasProducerId(batch) ? producerStateOf(partition.log) : null;
    const verdict = producers?.checkEpoch(h.producerId, h.producerEpoch, h.isControl ? (h.controlRecord?.coordinatorEpoch ?? -1) : undefined);
    if (verdict?.kind === 'rejected') throw new CoordinatorLogError(verdict.errorCode, verdict.message);
    const appended = partition.appendAsLeader(batch, now);
    producers?.apply(this.header.reset(batch), now);
    return this.replicated(partition, appended);
  }

  private async replicated(partition: Partition, appended: AppendResult): Promise<number> {
    await appended.durable;
    const outcome = await waitForHighWatermark(partition, appended.lastOffset + 1, this.commitTimeoutMs);
    if (outcome === 'not-leader') throw new CoordinatorLogError(ErrorCode.NOT_COORDINATOR, `${partition.key} lost its leadership before the write was replicated`);
    if (outcome === 'timed-out') {
      throw new CoordinatorLogError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `the in-sync replicas of ${partition.key} did not take the write within ${this.commitTimeoutMs} ms`);
    }
    return appended.firstOffset;
  }

  /** Replays one partition of the topic in offset order (a coordinator taking it over). */
  replay(partition: Partition, visit: (batch: CoordinatorBatch) => void): void {
    forEachBatch(partition.log, partition.log.logStartOffset, partition.log.logEndOffset, (bytes) => {
      const h = this.header.reset(bytes);
      try {
        const decoded = decodeRecordBatch(bytes);
        visit({
          offset: Number(h.baseOffset),
          producerId: h.producerId,
          producerEpoch: h.producerEpoch,
          transactional: h.isTransactional,
          control: h.isControl ? (h.controlRecord?.type ?? null) : null,
          records: decoded.records.flatMap((r) => (r.key === null ? [] : [{ key: r.key, value: r.value }])),
        });
      } catch (e) {
        log.warn({ err: e, partition: partition.key, offset: Number(h.baseOffset) }, `skipped an unreadable ${this.topic} batch`);
      }
    });
  }

  /**
   * Replays the records of one partition, transaction markers left out: `read` makes of each
   * what a coordinator keeps (null for the kinds it does not); one that does not parse is
   * skipped with a warning, as a later record of the same key may well supersede it.
   */
  replayRecords<T>(partition: Partition, read: (key: Buffer, value: Buffer | null) => T | null, visit: (record: T) => void): void {
    this.replay(partition, (batch) => {
      if (batch.control !== null) return;
      for (const r of batch.records) {
        let record: T | null;
        try {
          record = read(r.key, r.value);
        } catch (e) {
          log.warn({ err: e, partition: partition.key }, `skipped an unreadable ${this.topic} record`);
          continue;
        }
        if (record !== null) visit(record);
      }
    });
  }
}

/** The inner map of a two-level map, created when missing (group id, then member id). */
export function innerMap<T>(outer: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let inner = outer.get(key);
  if (!inner) outer.set(key, (inner = new Map()));
  return inner;
}
