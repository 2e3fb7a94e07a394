import { log } from '../../log.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { RecordBatchHeader } from '../../protocol/records/batch-header.js';
import type { PartitionLog, PartitionLogListener } from '../../storage/partition-log.js';
import { ProducerEntry, sequenceAfter, type BatchMetadata } from './producer-entry.js';
import { ControlType, controlRecordAt } from '../../protocol/records/control-record.js';
import { deleteSnapshot, listSnapshots, readSnapshot, SnapshotError, writeSnapshot } from './producer-snapshot.js';

/** How often expiry looks (Kafka's producer.id.expiration.check.interval.ms default). */
const EXPIRATION_CHECK_INTERVAL_MS = 10 * 60 * 1000;

export type SequenceVerdict =
  | { kind: 'append' }
  | { kind: 'duplicate'; batch: BatchMetadata }
  | { kind: 'rejected'; errorCode: number; message: string };

const APPEND: SequenceVerdict = { kind: 'append' };

/**
 * The idempotent producers of one partition, as Kafka's ProducerStateManager keeps them: per
 * producer id its epoch and its last 5 batches, enough to fence old epochs, refuse gaps and
 * answer retries with the offsets of the original.
 *
 * It follows its log (PartitionLogListener): a snapshot when a segment rolls and when the log
 * closes cleanly, a rebuild when the log is truncated. Loading reads the newest usable snapshot
 * and replays batch headers from there to the log end, which also covers an unclean stop.
 */
export class PartitionProducerState implements PartitionLogListener {
  private readonly producers = new Map<bigint, ProducerEntry>();
  /** Every producer batch below this offset is in the state, none at or after it. */
  private endOffset = 0;
  private nextExpiryCheck = 0;

  constructor(private readonly log: PartitionLog) {
    this.reload(Date.now());
  }

  /** Kafka's checks of a produced batch against the producer's state, before it is appended. */
  check(batch: RecordBatchHeader): SequenceVerdict {
    const producerId = batch.producerId;
    const entry = this.producers.get(producerId);
    // A producer this partition has not seen (new, expired, or its batches deleted): since
    // KIP-360 any sequence is accepted, so a producer whose state is gone carries on.
    if (!entry) return APPEND;
    const epoch = batch.producerEpoch;
    const firstSequence = batch.baseSequence;
    const duplicate = entry.findDuplicate(epoch, firstSequence, sequenceAfter(firstSequence, batch.lastOffsetDelta));
    if (duplicate) return { kind: 'duplicate', batch: duplicate };
    if (epoch < entry.epoch) {
      return reject(ErrorCode.INVALID_PRODUCER_EPOCH, `epoch ${epoch} of producer ${producerId} is older than its current epoch ${entry.epoch}`);
    }
    if (epoch !== entry.epoch) {
      if (firstSequence === 0) return APPEND;
      return reject(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${producerId} starts epoch ${epoch} at sequence ${firstSequence}; a new epoch starts at 0`,
      );
    }
    if (firstSequence === sequenceAfter(entry.lastSequence, 1)) return APPEND;
    return reject(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      `out of order sequence number for producer ${producerId}: ${firstSequence} (incoming), ${entry.lastSequence} (current end)`,
    );
  }

  /**
   * Kafka's check of a batch a coordinator writes for a producer (a transaction marker, a
   * transactional offset commit), which carries no sequence: not from an epoch older than the
   * producer's (a fenced producer, or a stale retry), and a marker (with `coordinatorEpoch`)
   * not from an older coordinator than the producer's last marker here.
   */
  checkEpoch(producerId: bigint, epoch: number, coordinatorEpoch?: number): SequenceVerdict {
    const entry = this.producers.get(producerId);
    if (entry && epoch < entry.epoch) {
      return reject(ErrorCode.INVALID_PRODUCER_EPOCH, `epoch ${epoch} of producer ${producerId} is older than its current epoch ${entry.epoch}`);
    }
    // A marker from a coordinator that has been replaced (paused, cut off) must not end the producer's next transaction.
    if (entry && coordinatorEpoch !== undefined && coordinatorEpoch < entry.coordinatorEpoch) {
      return reject(ErrorCode.TRANSACTION_COORDINATOR_FENCED, `coordinator epoch ${coordinatorEpoch} is older than ${entry.coordinatorEpoch}, of the last marker of producer ${producerId}`);
    }
    return APPEND;
  }

  /**
   * The first offset of a transaction still open in this partition (Kafka's first unstable
   * offset): read_committed consumers read no further. Null when none is open.
   */
  firstUnstableOffset(): number | null {
    let first: number | null = null;
    for (const p of this.producers.values()) {
      if (p.currentTxnFirstOffset >= 0 && (first === null || p.currentTxnFirstOffset < first)) first = p.currentTxnFirstOffset;
    }
    return first;
  }

  /** Open transactions, by producer: DescribeProducers' currentTxnStartOffset. */
  openTransaction(producerId: bigint): number {
    return this.producers.get(producerId)?.currentTxnFirstOffset ?? -1;
  }

  /**
   * A transaction marker now in the log: the producer's open transaction ends; an aborted one
   * goes into the segment's transaction index, with the stable offset it leaves, so that
   * read_committed fetches can tell consumers to drop its records.
   */
  private applyMarker(batch: RecordBatchHeader, seenMs: number): void {
    const producerId = batch.producerId;
    const markerOffset = Number(batch.baseOffset);
    let entry = this.producers.get(producerId);
    if (!entry) {
      entry = new ProducerEntry(producerId, batch.producerEpoch, Number(batch.maxTimestamp), seenMs);
      this.producers.set(producerId, entry);
    }
    // A marker may carry a bumped epoch (an abort that fences): older batches of the producer are then gone.
    if (batch.producerEpoch > entry.epoch) entry.add(batch.producerEpoch, { firstSequence: -1, lastSequence: -1, firstOffset: markerOffset, lastOffset: markerOffset, timestamp: Number(batch.maxTimestamp) }, seenMs);
    const first = entry.currentTxnFirstOffset;
    entry.currentTxnFirstOffset = -1;
    entry.lastSeenMs = seenMs;
    this.endOffset = markerOffset + 1;
    const marker = batch.controlRecord ?? controlRecordAt(this.log.readBatchAt(markerOffset) ?? Buffer.alloc(0), 0);
    entry.coordinatorEpoch = Math.max(entry.coordinatorEpoch, marker?.coordinatorEpoch ?? -1);
    if (marker?.type === ControlType.ABORT && first >= 0) {
      this.log.appendAbortedTxn({ producerId, firstOffset: first, lastOffset: markerOffset, lastStableOffset: this.firstUnstableOffset() ?? markerOffset + 1 });
    }
  }

  /** Takes in a batch now in the log, its offsets assigned: after an append or while replaying. */
  apply(batch: RecordBatchHeader, seenMs: number): void {
    if (batch.isControl) return this.applyMarker(batch, seenMs);
    const producerId = batch.producerId;
    const epoch = batch.producerEpoch;
    const firstOffset = Number(batch.baseOffset);
    const lastOffset = firstOffset + batch.lastOffsetDelta;
    const metadata: BatchMetadata = {
      firstSequence: batch.baseSequence,
      lastSequence: sequenceAfter(batch.baseSequence, batch.lastOffsetDelta),
      firstOffset,
      lastOffset,
      timestamp: Number(batch.maxTimestamp),
    };
    let entry = this.producers.get(producerId);
    if (!entry) {
      entry = new ProducerEntry(producerId, epoch, metadata.timestamp, seenMs);
      this.producers.set(producerId, entry);
    }
    entry.add(epoch, metadata, seenMs);
    if (batch.isTransactional && entry.currentTxnFirstOffset < 0) entry.currentTxnFirstOffset = firstOffset;
    this.endOffset = lastOffset + 1;
    if (seenMs >= this.nextExpiryCheck) this.expire(seenMs);
  }

  /** The producers with state here, after forgetting the expired ones. */
  activeProducers(now: number): ProducerEntry[] {
    this.expire(now);
    return [...this.producers.values()];
  }

  private expire(now: number): void {
    this.nextExpiryCheck = now + EXPIRATION_CHECK_INTERVAL_MS;
    // A producer with a transaction open stays: its transaction holds the stable offset back until it ends.
    for (const [id, entry] of this.producers) if (now - entry.lastSeenMs >= this.log.config.producerIdExpirationMs && entry.currentTxnFirstOffset < 0) this.producers.delete(id);
  }

  rolled(offset: number): void {
    this.snapshotAt(offset);
  }

  truncated(logEndOffset: number): void {
    if (this.log.logStartOffset === logEndOffset) {
      // Everything is gone (truncateFullyAndStartAt): so is every producer, as in Kafka.
      this.producers.clear();
      this.endOffset = logEndOffset;
      for (const offset of listSnapshots(this.log.dir)) deleteSnapshot(this.log.dir, offset);
    } else if (this.endOffset > logEndOffset) {
      this.reload(Date.now());
    } else {
      for (const offset of listSnapshots(this.log.dir)) if (offset > logEndOffset) deleteSnapshot(this.log.dir, offset);
    }
  }

  closing(): void {
    // Not fsynced one by one: tens of thousands of partitions would take minutes to stop. The
    // log manager syncs the file system once before its clean-shutdown marker. A snapshot a
    // power loss damaged anyway fails its CRC, and the state is rebuilt from an older one or the log.
    this.snapshotAt(this.log.logEndOffset, false);
  }

  /**
   * Writes the state as of `offset`, unless the state holds batches past it (a truncation under
   * way: what it will hold at `offset` is not known yet). Snapshots older than the first
   * segment go: the batches after them are gone, so they no longer describe any log state.
   */
  private snapshotAt(offset: number, durable = true): void {
    if (this.endOffset > offset) return;
    const dir = this.log.dir;
    try {
      writeSnapshot(dir, offset, [...this.producers.values()], durable);
      const first = this.log.segmentBaseOffsets()[0];
      for (const older of listSnapshots(dir)) if (older < first) deleteSnapshot(dir, older);
    } catch (e) {
      // The state stays right in memory, and a later load replays from an older snapshot.
      log.warn({ err: e, dir, offset }, 'could not write a producer state snapshot');
    }
  }

  /**
   * Rebuilds the state from the newest usable snapshot and the batches after it. A snapshot
   * past the log end (the log lost its tail in a crash or a truncation) or before the first
   * segment (the batches after it were deleted) does not describe this log and is deleted.
   */
  private reload(now: number): void {
    const dir = this.log.dir;
    const end = this.log.logEndOffset;
    const first = this.log.segmentBaseOffsets()[0];
    this.producers.clear();
    const usable: number[] = [];
    for (const offset of listSnapshots(dir)) {
      if (offset > end || offset < first) deleteSnapshot(dir, offset);
      else usable.push(offset);
    }
    // Newest first; older snapshots stay, for truncations that reach back before the newest.
    let from = first;
    for (const offset of usable) {
      try {
        for (const entry of readSnapshot(dir, offset)) this.producers.set(entry.producerId, entry);
        from = offset;
        break;
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw e;
        log.warn({ err: e, dir }, 'ignoring a damaged producer state snapshot');
        deleteSnapshot(dir, offset);
      }
    }
    // Replayed batches count as seen now: the log does not say when they were appended, and a
    // producer kept a day too long costs less than one forgotten while it still retries.
    this.log.scanBatchHeaders(
      from,
      (batch) => {
        if (batch.producerId >= 0n) this.apply(batch, now);
      },
      this.log.producerFreeFrom,
    );
    this.endOffset = end;
    this.expire(now);
  }
}

function reject(errorCode: number, message: string): SequenceVerdict {
  return { kind: 'rejected', errorCode, message };
}

const states = new WeakMap<PartitionLog, PartitionProducerState>();

/** The producer state of a log if it is loaded; a follower then keeps it in step as it appends. */
export function loadedProducerState(partitionLog: PartitionLog): PartitionProducerState | undefined {
  return states.get(partitionLog);
}

/**
 * A partition's producer state, loaded on first use: only partitions that idempotent producers
 * write to pay for loading, and the state then follows its log until the log goes.
 */
export function producerStateOf(partitionLog: PartitionLog): PartitionProducerState {
  let state = states.get(partitionLog);
  if (!state) {
    state = new PartitionProducerState(partitionLog);
    partitionLog.addListener(state);
    states.set(partitionLog, state);
  }
  return state;
}
