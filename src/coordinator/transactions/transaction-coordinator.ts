import { log } from '../../log.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { Partition } from '../../replication/partition.js';
import { CoordinatorLogError, coordinatorWriteError, type CoordinatorLog } from '../coordinator-log.js';
import {
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  partitionList,
  readTransactionLogRecord,
  transactionLogKey,
  transactionLogValue,
  TxnState,
  type TransactionMetadata,
  type TxnStateId,
} from './transaction-metadata.js';

/** A producer epoch is an int16: one that would overflow gets a new producer id instead. */
const MAX_EPOCH = 32767;

export interface TransactionSettings {
  /** transaction.max.timeout.ms. */
  maxTimeoutMs: number;
  /** transactional.id.expiration.ms: an id unused this long (and no transaction open) is forgotten. */
  idExpirationMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms. */
  abortCheckIntervalMs: number;
}

/** The end of a transaction to be marked in each of its partitions (WriteTxnMarkers). */
export interface MarkerJob {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  commit: boolean;
  partitions: { topic: string; partition: number }[];
}

/** Writes transaction markers to partition leaders; resolves once every partition has its marker (or is gone). */
export type MarkerWriter = (job: MarkerJob, stillCoordinator: () => boolean) => Promise<void>;

export interface ProducerIds {
  nextProducerId(): Promise<bigint>;
}

export interface InitResult {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

const initError = (errorCode: number): InitResult => ({ errorCode, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH });

/**
 * Kafka's transaction coordinator: each transactional id lives in one partition of
 * __transaction_state, whose leader is its coordinator. It hands out producer ids and epochs
 * (fencing zombies by bumping the epoch), records the partitions of the open transaction, and
 * ends transactions in two phases: PrepareCommit/PrepareAbort written, then a marker written to
 * every partition of the transaction, then CompleteCommit/CompleteAbort. A coordinator that
 * takes a partition over replays it and finishes what its predecessor had prepared; a
 * transaction open past its timeout is aborted with a bumped epoch, fencing its producer.
 */
export class TransactionCoordinator {
  private readonly txns = new Map<string, TransactionMetadata>();
  /** Partitions of __transaction_state led here, with the leader epoch each was taken over in (the coordinator epoch). */
  private readonly loaded = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly txnLog: CoordinatorLog,
    private readonly producerIds: ProducerIds,
    private readonly writeMarkers: MarkerWriter,
    private readonly settings: TransactionSettings,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.expire(Date.now()), this.settings.abortCheckIntervalMs);
    this.timer.unref();
  }

  /** Stops coordinating: marker writes and retries under way give up (the next coordinator finishes them). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.loaded.clear();
    this.txns.clear();
  }

  /** NONE when this broker coordinates the id now; else what sends the client to find its coordinator again. */
  coordinatorError(transactionalId: string): number {
    const index = this.txnLog.partitionOf(transactionalId);
    if (index < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return this.loaded.has(index) ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR;
  }

  private coordinatorEpochOf(transactionalId: string): number {
    return this.loaded.get(this.txnLog.partitionOf(transactionalId)) ?? -1;
  }

  /** Takes over one partition of __transaction_state: replays it and finishes the transactions it left prepared. */
  loadPartition(partition: Partition): void {
    const found = new Map<string, TransactionMetadata | null>();
    this.txnLog.replay(partition, (batch) => {
      for (const r of batch.records) {
        try {
          const { transactionalId, metadata } = readTransactionLogRecord(r.key, r.value);
          found.set(transactionalId, metadata);
        } catch (e) {
          log.warn({ err: e, partition: partition.key }, 'skipped an unreadable __transaction_state record');
        }
      }
    });
    for (const [id, md] of found) {
      if (md) this.txns.set(id, md);
      else this.txns.delete(id);
    }
    this.loaded.set(partition.index, partition.leaderEpoch);
    log.info({ partition: partition.key, transactionalIds: found.size }, 'transaction coordinator of a __transaction_state partition: loaded');
    for (const md of this.txns.values()) {
      if (this.txnLog.partitionOf(md.transactionalId) !== partition.index) continue;
      if (md.state === TxnState.PrepareCommit || md.state === TxnState.PrepareAbort) void this.completeTransaction(md);
      else if (md.state === TxnState.PrepareEpochFence) void this.abortWithFencing(md);
    }
  }

  /** Gives up a partition this broker no longer leads: its next coordinator has its transactions. */
  unloadPartition(index: number): void {
    if (!this.loaded.delete(index)) return;
    for (const [id] of this.txns) if (this.txnLog.partitionOf(id) === index) this.txns.delete(id);
    log.info({ partition: index }, 'no longer the transaction coordinator of a __transaction_state partition');
  }

  /**
   * Writes `md`'s next state and takes it only once the write is replicated; CONCURRENT_TRANSACTIONS
   * for whoever asks meanwhile. Returns the error to answer with (NONE when written).
   */
  private async transition(md: TransactionMetadata, next: Partial<TransactionMetadata>): Promise<number> {
    const proposed: TransactionMetadata = { ...md, ...next, lastUpdateTimestamp: Date.now(), writing: false };
    md.writing = true;
    try {
      await this.txnLog.append(md.transactionalId, [{ key: transactionLogKey(md.transactionalId), value: transactionLogValue(proposed) }]);
    } catch (e) {
      log.warn({ transactionalId: md.transactionalId, err: (e as Error).message }, 'could not write a transaction state');
      return coordinatorWriteError(e);
    } finally {
      md.writing = false;
    }
    Object.assign(md, proposed);
    return ErrorCode.NONE;
  }

  /** The next producer id and epoch for a new session of `md`: the epoch bumped, or a new id once it runs out. */
  private async nextEpoch(md: TransactionMetadata): Promise<{ producerId: bigint; producerEpoch: number; previousProducerId: bigint }> {
    if (md.producerEpoch + 1 < MAX_EPOCH) return { producerId: md.producerId, producerEpoch: md.producerEpoch + 1, previousProducerId: md.previousProducerId };
    return { producerId: await this.producerIds.nextProducerId(), producerEpoch: 0, previousProducerId: md.producerId };
  }

  /**
   * InitProducerId with a transactional id: a new id for an unknown one; for a known one the
   * epoch bumped (fencing any older producer of it), once its last transaction has ended; an open
   * one is aborted first, and the caller is told to retry (CONCURRENT_TRANSACTIONS) meanwhile.
   * KIP-360: a producer that names its current id and epoch keeps its id with the next epoch; a
   * retry naming the previous epoch gets the current one again.
   */
  async initProducerId(transactionalId: string, timeoutMs: number, expected: { producerId: bigint; producerEpoch: number } | null): Promise<InitResult> {
    if (timeoutMs <= 0 || timeoutMs > this.settings.maxTimeoutMs) return initError(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const elsewhere = this.coordinatorError(transactionalId);
    if (elsewhere !== ErrorCode.NONE) return initError(elsewhere);
    let md = this.txns.get(transactionalId);
    if (!md || md.state === TxnState.Dead) {
      md = {
        transactionalId,
        producerId: await this.producerIds.nextProducerId(),
        previousProducerId: NO_PRODUCER_ID,
        producerEpoch: NO_PRODUCER_EPOCH,
        lastProducerEpoch: NO_PRODUCER_EPOCH,
        timeoutMs,
        state: TxnState.Empty,
        partitions: new Map(),
        startTimestamp: -1,
        lastUpdateTimestamp: Date.now(),
        writing: false,
      };
      this.txns.set(transactionalId, md);
    }
    if (md.writing) return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
    // Kafka lets any expected id through for an id just created (no epoch yet): clients such as
    // @platformatic/kafka send 0/0 rather than -1/-1 on their first InitProducerId.
    if (expected && expected.producerId !== NO_PRODUCER_ID && md.producerEpoch !== NO_PRODUCER_EPOCH) {
      const retry = expected.producerId === md.producerId && expected.producerEpoch === md.lastProducerEpoch;
      if (retry) return { errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch };
      if (expected.producerId !== md.producerId || expected.producerEpoch !== md.producerEpoch) return initError(ErrorCode.PRODUCER_FENCED);
    }
    switch (md.state) {
      case TxnState.PrepareCommit:
      case TxnState.PrepareAbort:
      case TxnState.PrepareEpochFence:
        return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
      case TxnState.Ongoing:
        void this.abortWithFencing(md);
        return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    const next = await this.nextEpoch(md);
    const lastProducerEpoch = md.producerEpoch;
    const error = await this.transition(md, { ...next, timeoutMs, state: TxnState.Empty, partitions: new Map(), startTimestamp: -1 });
    if (error !== ErrorCode.NONE) return initError(error);
    md.lastProducerEpoch = lastProducerEpoch;
    return { errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch };
  }

  /** Kafka's checks of a producer's request against its transactional id's metadata. */
  private producerError(transactionalId: string, producerId: bigint, producerEpoch: number, verifyOnly = false): { error: number; md: TransactionMetadata | null } {
    const elsewhere = this.coordinatorError(transactionalId);
    if (elsewhere !== ErrorCode.NONE) return { error: elsewhere, md: null };
    const md = this.txns.get(transactionalId);
    if (!md || md.producerId !== producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING, md: null };
    if (producerEpoch < md.producerEpoch) return { error: ErrorCode.PRODUCER_FENCED, md: null };
    if (producerEpoch > md.producerEpoch) return { error: ErrorCode.INVALID_PRODUCER_EPOCH, md: null };
    // A verification (KIP-890) looks only at what is written, as Kafka's does: a state change being written meanwhile (another partition joining) does not concern it.
    if ((md.writing && !verifyOnly) || md.state === TxnState.PrepareCommit || md.state === TxnState.PrepareAbort) return { error: ErrorCode.CONCURRENT_TRANSACTIONS, md: null };
    if (md.state === TxnState.PrepareEpochFence) return { error: ErrorCode.PRODUCER_FENCED, md: null };
    return { error: ErrorCode.NONE, md };
  }

  /**
   * AddPartitionsToTxn (and AddOffsetsToTxn, with the group's __consumer_offsets partition):
   * the partitions join the open transaction, which opens now if none is. With `verifyOnly`
   * (KIP-890: a partition leader asking before it appends a transactional batch) nothing
   * changes: NONE when they are all in the open transaction, INVALID_TXN_STATE otherwise.
   * Returns one error for all the partitions.
   */
  async addPartitions(transactionalId: string, producerId: bigint, producerEpoch: number, partitions: { topic: string; partition: number }[], verifyOnly: boolean): Promise<number> {
    const { error, md } = this.producerError(transactionalId, producerId, producerEpoch, verifyOnly);
    if (!md) return error;
    const missing = partitions.filter((p) => !md.partitions.get(p.topic)?.has(p.partition));
    if (verifyOnly) return md.state === TxnState.Ongoing && missing.length === 0 ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
    if (md.state === TxnState.Ongoing && missing.length === 0) return ErrorCode.NONE;
    const next = new Map([...md.partitions].map(([t, ids]) => [t, new Set(ids)]));
    for (const p of partitions) {
      if (!next.has(p.topic)) next.set(p.topic, new Set());
      next.get(p.topic)!.add(p.partition);
    }
    const opening = md.state !== TxnState.Ongoing;
    return this.transition(md, { state: TxnState.Ongoing, partitions: next, startTimestamp: opening ? Date.now() : md.startTimestamp });
  }

  /**
   * EndTxn: the open transaction is prepared to commit or abort (written), and the answer goes
   * back; markers go to its partitions after. A retry of an ending already done or under way gets
   * NONE or CONCURRENT_TRANSACTIONS; the other ending, INVALID_TXN_STATE.
   */
  async endTxn(transactionalId: string, producerId: bigint, producerEpoch: number, commit: boolean): Promise<number> {
    const elsewhere = this.coordinatorError(transactionalId);
    if (elsewhere !== ErrorCode.NONE) return elsewhere;
    const md = this.txns.get(transactionalId);
    if (!md || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch < md.producerEpoch || md.state === TxnState.PrepareEpochFence) return ErrorCode.PRODUCER_FENCED;
    if (producerEpoch > md.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (md.writing) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const done = commit ? TxnState.CompleteCommit : TxnState.CompleteAbort;
    const preparing = commit ? TxnState.PrepareCommit : TxnState.PrepareAbort;
    switch (md.state) {
      case TxnState.Ongoing: {
        const error = await this.transition(md, { state: preparing });
        if (error === ErrorCode.NONE) void this.completeTransaction(md);
        return error;
      }
      case done:
        return ErrorCode.NONE;
      case preparing:
        return ErrorCode.CONCURRENT_TRANSACTIONS;
      case TxnState.Empty:
        // Nothing was added: an abort is a no-op (librdkafka aborts to reset), a commit is not.
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      default:
        return ErrorCode.INVALID_TXN_STATE;
    }
  }

  /** Second phase: the markers, then the completed state. Resumed by a new coordinator after a failover. */
  private async completeTransaction(md: TransactionMetadata): Promise<void> {
    const commit = md.state === TxnState.PrepareCommit;
    const index = this.txnLog.partitionOf(md.transactionalId);
    const stillCoordinator = (): boolean => this.loaded.has(index) && this.txns.get(md.transactionalId) === md;
    await this.writeMarkers(
      { transactionalId: md.transactionalId, producerId: md.producerId, producerEpoch: md.producerEpoch, coordinatorEpoch: this.coordinatorEpochOf(md.transactionalId), commit, partitions: partitionList(md) },
      stillCoordinator,
    );
    if (!stillCoordinator()) return;
    // Retried until written: a transaction left prepared is finished by whoever coordinates it next.
    for (let attempt = 0; stillCoordinator(); attempt++) {
      const error = await this.transition(md, { state: commit ? TxnState.CompleteCommit : TxnState.CompleteAbort, partitions: new Map(), startTimestamp: -1 });
      if (error === ErrorCode.NONE) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * 2 ** attempt)));
    }
  }

  /**
   * Aborts an open transaction with the producer's epoch bumped (a timed-out transaction, or a
   * new session of the same transactional id), so its old producer is fenced everywhere the
   * abort marker lands.
   */
  private async abortWithFencing(md: TransactionMetadata): Promise<void> {
    if (md.writing) return;
    const next = await this.nextEpoch(md);
    const error = await this.transition(md, { ...next, state: TxnState.PrepareAbort });
    if (error === ErrorCode.NONE) await this.completeTransaction(md);
  }

  /** Aborts transactions open past their timeout, and forgets ids unused past transactional.id.expiration.ms. */
  private expire(now: number): void {
    for (const md of [...this.txns.values()]) {
      if (md.writing || this.coordinatorError(md.transactionalId) !== ErrorCode.NONE) continue;
      if (md.state === TxnState.Ongoing && now - md.startTimestamp > md.timeoutMs) {
        log.info({ transactionalId: md.transactionalId, producerId: String(md.producerId), timeoutMs: md.timeoutMs }, 'aborting a transaction open past its timeout');
        void this.abortWithFencing(md);
      } else if (isIdle(md.state) && now - md.lastUpdateTimestamp > this.settings.idExpirationMs) {
        void this.forget(md);
      }
    }
  }

  private async forget(md: TransactionMetadata): Promise<void> {
    md.writing = true;
    try {
      await this.txnLog.append(md.transactionalId, [{ key: transactionLogKey(md.transactionalId), value: null }]);
      this.txns.delete(md.transactionalId);
      log.info({ transactionalId: md.transactionalId }, 'transactional id expired');
    } catch (e) {
      if (!(e instanceof CoordinatorLogError)) throw e;
    } finally {
      md.writing = false;
    }
  }

  /** DescribeTransactions of one id here. */
  describe(transactionalId: string): TransactionMetadata | number {
    const elsewhere = this.coordinatorError(transactionalId);
    if (elsewhere !== ErrorCode.NONE) return elsewhere;
    return this.txns.get(transactionalId) ?? ErrorCode.TRANSACTIONAL_ID_NOT_FOUND;
  }

  /** The transactions this broker coordinates (ListTransactions). */
  all(): TransactionMetadata[] {
    return [...this.txns.values()];
  }
}

function isIdle(state: TxnStateId): boolean {
  return state === TxnState.Empty || state === TxnState.CompleteCommit || state === TxnState.CompleteAbort;
}
