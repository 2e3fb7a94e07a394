import type { PartitionLog } from '../storage/partition-log.js';

/**
 * A partition this broker leads: its log and its high watermark. On a single node the in-sync
 * replica set is the leader alone, so the high watermark follows the log end, once the bytes
 * are durable when the log flushes synchronously: consumers never see what a crash could take.
 */
export class Partition {
  highWatermark: number;
  leaderEpoch = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly topicId: string,
    readonly log: PartitionLog,
  ) {
    this.highWatermark = log.logEndOffset;
  }

  get key(): string {
    return `${this.topic}-${this.index}`;
  }

  /** Moves the high watermark up and wakes whoever waits for new data. */
  advanceHighWatermark(offset: number): void {
    if (offset <= this.highWatermark) return;
    this.highWatermark = offset;
    for (const l of this.listeners) l();
  }

  /** Calls `listener` whenever the high watermark moves; returns the way to stop. */
  onNewData(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** After truncation or DeleteRecords, the high watermark may not exceed the log end. */
  clampHighWatermark(): void {
    this.highWatermark = Math.min(Math.max(this.highWatermark, this.log.logStartOffset), this.log.logEndOffset);
  }
}
