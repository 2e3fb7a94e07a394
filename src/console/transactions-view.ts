import { TXN_STATE_NAMES } from '../coordinator/transactions/transaction-metadata.js';
import { loadedProducerState } from '../replication/producers/producer-state.js';
import type { ConsoleBroker } from './console-broker.js';

export interface CoordinatedTransaction {
  transactionalId: string;
  producerId: string;
  producerEpoch: number;
  state: string;
  timeoutMs: number;
  /** When the open transaction began; null when none is open. */
  startTimestamp: number | null;
  partitions: { topic: string; partitions: number[] }[];
}

/** A transaction still open in a partition led here: what holds its last stable offset back. */
export interface OpenInPartition {
  topic: string;
  partition: number;
  producerId: string;
  producerEpoch: number;
  firstOffset: number;
  lastStableOffset: number;
  highWatermark: number;
  /** The producer's last write here. */
  lastTimestamp: number;
}

export interface TransactionsView {
  /** The transactional ids this broker coordinates (each broker coordinates its __transaction_state partitions). */
  coordinated: CoordinatedTransaction[];
  open: OpenInPartition[];
}

/**
 * Transactions as this broker sees them. Partitions whose producer state was never loaded (no
 * producer has written to them since the start, no read_committed consumer has read them) are
 * not loaded for this: they have no transaction open that anyone waits on.
 */
export function transactionsView(broker: ConsoleBroker): TransactionsView {
  const now = Date.now();
  const coordinated = broker.transactions
    .all()
    .map((md) => ({
      transactionalId: md.transactionalId,
      producerId: String(md.producerId),
      producerEpoch: md.producerEpoch,
      state: TXN_STATE_NAMES[md.state],
      timeoutMs: md.timeoutMs,
      startTimestamp: md.startTimestamp >= 0 ? md.startTimestamp : null,
      partitions: [...md.partitions].map(([topic, ids]) => ({ topic, partitions: [...ids].sort((a, b) => a - b) })),
    }))
    .sort((a, b) => a.transactionalId.localeCompare(b.transactionalId));
  const open: OpenInPartition[] = [];
  for (const p of broker.partitions.all()) {
    if (!p.isLeader) continue;
    const producers = loadedProducerState(p.log);
    if (!producers) continue;
    for (const e of producers.activeProducers(now)) {
      if (e.currentTxnFirstOffset < 0) continue;
      open.push({
        topic: p.topic,
        partition: p.index,
        producerId: String(e.producerId),
        producerEpoch: e.epoch,
        firstOffset: e.currentTxnFirstOffset,
        lastStableOffset: p.lastStableOffset(false),
        highWatermark: p.highWatermark,
        lastTimestamp: e.lastTimestamp,
      });
    }
  }
  return { coordinated, open };
}
