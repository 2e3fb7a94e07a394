import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { Partition } from '../replication/partition.js';
import { coordinatorWriteError } from '../coordinator/coordinator-log.js';
import type { ShareGroupConfig, ShareGroupConfigSource } from '../coordinator/share/share-group-config.js';
import type { AcquiredRange, DeadLetter, SharePartition } from '../coordinator/share/share-partition.js';
import { ShareStateError, type ShareKey, type ShareStateStore } from '../coordinator/share/share-state-store.js';
import { batchesFrom, type LogBatch } from '../storage/log-reader.js';
import type { AbortedTxn } from '../storage/transaction-index.js';
import { StorageError } from '../storage/storage-error.js';
import type { BrokerContext } from './broker-context.js';

/** Acknowledgements of one partition, as ShareFetch and ShareAcknowledge carry them. */
export interface AckBatch {
  firstOffset: bigint;
  lastOffset: bigint;
  acknowledgeTypes: number[];
}

/** What a share fetch got from one partition. */
export interface Acquisition {
  records: Buffer | null;
  ranges: AcquiredRange[];
}

/** How much of the log one read for records being handed out again takes. */
const READ_BYTES = 1 << 20;

/** The error a client gets when share state cannot be read or written. */
function stateErrorCode(e: unknown): number {
  return e instanceof ShareStateError ? e.errorCode : coordinatorWriteError(e);
}


/**
 * Share groups' records (KIP-932) on the topic partitions this broker leads: acquisition for
 * ShareFetch, acknowledgement for ShareFetch and ShareAcknowledge, release when a consumer
 * goes. The share-partition states are the store's; this turns requests into their changes and
 * reads the records they hand out.
 */
export class ShareDelivery {
  constructor(
    private readonly ctx: BrokerContext,
    readonly store: ShareStateStore,
    private readonly config: ShareGroupConfigSource,
    /** group.share.partition.max.record.locks: records in flight per share-partition. */
    private readonly maxRecordLocks: () => number,
  ) {}

  /** The partition this broker leads for a topic id, or the error for the client. */
  leader(topicId: string, partition: number): Partition | number {
    const name = this.ctx.metadata.topicById(topicId)?.name;
    if (name === undefined) return ErrorCode.UNKNOWN_TOPIC_ID;
    return this.ctx.partitions.lookupLeader(name, partition);
  }

  /**
   * The partition and its share-partition, when this broker leads the partition. The state may
   * come from another broker (the share coordinator of its key); failing that, the error.
   */
  private async open(key: ShareKey): Promise<{ p: Partition; sp: SharePartition } | number> {
    const p = this.leader(key.topicId, key.partition);
    if (typeof p === 'number') return p;
    try {
      return { p, sp: await this.store.open(key, p) };
    } catch (e) {
      log.warn({ err: e, ...key }, 'share-partition state could not be read');
      return stateErrorCode(e);
    }
  }

  /**
   * Applies a member's acknowledgements to one partition and stores the result (dead letters
   * first). Batches with records not acquired by the member change nothing and make the answer
   * INVALID_RECORD_STATE; the others still apply.
   */
  async acknowledge(key: ShareKey, memberId: string, batches: readonly AckBatch[]): Promise<number> {
    const opened = await this.open(key);
    if (typeof opened === 'number') return opened;
    const { sp } = opened;
    const cfg = this.config(key.groupId);
    const letters: DeadLetter[] = [];
    let error: number = ErrorCode.NONE;
    const now = Date.now();
    for (const b of batches) {
      const e = sp.acknowledge(memberId, Number(b.firstOffset), Number(b.lastOffset), b.acknowledgeTypes, now, cfg, letters);
      if (e !== ErrorCode.NONE && error === ErrorCode.NONE) error = e;
    }
    try {
      await this.store.settle(key, sp, letters);
    } catch (e) {
      log.error({ err: e, ...key }, 'could not store share-partition state');
      return stateErrorCode(e);
    }
    return error;
  }

  /**
   * Acquires records of one partition for a member: up to `maxRecords`, reading at most about
   * `maxBytes` of new batches (always one whole batch). The acquisition is stored in the
   * background: a crash before it is written only forgets a delivery attempt.
   */
  async acquire(key: ShareKey, memberId: string, maxRecords: number, maxBytes: number): Promise<Acquisition | number> {
    const opened = await this.open(key);
    if (typeof opened === 'number') return opened;
    const { p, sp } = opened;
    const cfg = this.config(key.groupId);
    const now = Date.now();
    sp.skipTo(p.log.logStartOffset);
    const upTo = cfg.readCommitted ? p.lastStableOffset(true) : p.highWatermark;
    try {
      let spans: LogBatch[] = sp.endOffset < upTo && maxRecords > 0 ? batchesFrom(p.log, sp.endOffset, maxBytes, upTo) : [];
      if (cfg.readCommitted && spans.length > 0) spans = withoutAborted(spans, p.log.abortedTransactions(spans[0].baseOffset, upTo));
      const ranges = sp.acquire(memberId, maxRecords, this.maxRecordLocks(), spans, upTo, now, cfg);
      if (ranges.length === 0) return { records: null, ranges };
      this.store.persist(key, sp).catch((e: unknown) => log.warn({ err: e, ...key }, 'could not store a share-partition acquisition'));
      return { records: this.batchesCovering(p, ranges, upTo), ranges };
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      return e.kind === 'offset-out-of-range' ? ErrorCode.OFFSET_OUT_OF_RANGE : ErrorCode.KAFKA_STORAGE_ERROR;
    }
  }

  /** The log's batches holding the acquired offsets, each once, in offset order. */
  private batchesCovering(p: Partition, ranges: readonly AcquiredRange[], upTo: number): Buffer {
    const parts = new Map<number, Buffer>();
    for (const r of ranges) {
      let next = r.firstOffset;
      while (next <= r.lastOffset) {
        let advanced = false;
        for (const b of batchesFrom(p.log, next, READ_BYTES, upTo)) {
          if (b.lastOffset < next) continue;
          if (b.baseOffset > r.lastOffset) break;
          parts.set(b.baseOffset, b.bytes);
          next = b.lastOffset + 1;
          advanced = true;
        }
        if (!advanced) break;
      }
    }
    return Buffer.concat([...parts].sort(([a], [b]) => a - b).map(([, b]) => b));
  }

  /** A member's records in these partitions become available again (its session closed, it left). */
  release(groupId: string, memberId: string, partitions: Iterable<{ topicId: string; partition: number }>): void {
    const cfg = this.config(groupId);
    for (const { topicId, partition } of [...partitions]) void this.releaseOne({ groupId, topicId, partition }, memberId, cfg);
  }

  private async releaseOne(key: ShareKey, memberId: string, cfg: ShareGroupConfig): Promise<void> {
    const opened = await this.open(key);
    if (typeof opened === 'number') return;
    const letters: DeadLetter[] = [];
    if (!opened.sp.releaseMember(memberId, Date.now(), cfg, letters)) return;
    await this.store.settle(key, opened.sp, letters).catch((e: unknown) => log.error({ err: e, ...key }, 'could not store share-partition state'));
  }

  /** How long acquired records of the group stay locked. */
  lockDurationMs(groupId: string): number {
    return this.config(groupId).lockDurationMs;
  }
}

/**
 * read_committed: a batch of an aborted transaction goes to no one, as a marker does not; its
 * offsets are archived as they are reached (KIP-932).
 */
function withoutAborted(batches: readonly LogBatch[], aborted: readonly AbortedTxn[]): LogBatch[] {
  const isAborted = (b: LogBatch): boolean => b.transactionOf !== null && aborted.some((t) => t.producerId === b.transactionOf && t.firstOffset <= b.baseOffset && b.baseOffset < t.lastOffset);
  return batches.map((b) => (isAborted(b) ? { ...b, recordless: true } : b));
}
