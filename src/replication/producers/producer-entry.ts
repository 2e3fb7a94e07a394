/** Sequences are int32 and wrap from 2^31 - 1 to 0. */
const MAX_SEQUENCE = 0x7fff_ffff;

/**
 * Batches remembered per producer and partition. A producer keeps at most 5 requests in flight
 * per connection (max.in.flight.requests.per.connection with idempotence), so a retry is always
 * of one of its last 5 batches.
 */
export const TRACKED_BATCHES = 5;

/** No sequence yet: what DescribeProducers reports for a producer whose epoch just began. */
const NO_SEQUENCE = -1;

/** The sequence `delta` after `sequence`, wrapping as Kafka's producers do. */
export function sequenceAfter(sequence: number, delta: number): number {
  return sequence > MAX_SEQUENCE - delta ? delta - (MAX_SEQUENCE - sequence) - 1 : sequence + delta;
}

/** What a duplicate is matched against and answered with: where the original batch went. */
export interface BatchMetadata {
  firstSequence: number;
  lastSequence: number;
  firstOffset: number;
  lastOffset: number;
  /** The batch's max timestamp as stored (the append time under LogAppendTime). */
  timestamp: number;
}

/** One producer id's state in one partition: its epoch and its newest batches. */
export class ProducerEntry {
  /** Oldest first, at most TRACKED_BATCHES, all of the current epoch. */
  readonly batches: BatchMetadata[] = [];

  constructor(
    readonly producerId: bigint,
    public epoch: number,
    /** The newest batch's max timestamp (what DescribeProducers reports). */
    public lastTimestamp: number,
    /** The broker's clock at the newest batch: what expiry measures, whatever the producer's clock says. */
    public lastSeenMs: number,
    /** The first offset of its transaction in this partition that no marker has ended yet; -1 when none. */
    public currentTxnFirstOffset = -1,
  ) {}

  /** The coordinator epoch of the last marker here: markers from an older coordinator are refused. */
  coordinatorEpoch = -1;

  get lastSequence(): number {
    return this.batches.length === 0 ? NO_SEQUENCE : this.batches[this.batches.length - 1].lastSequence;
  }

  /** The remembered batch with exactly these sequences in this epoch: a retry of it. */
  findDuplicate(epoch: number, firstSequence: number, lastSequence: number): BatchMetadata | null {
    if (epoch !== this.epoch) return null;
    for (const b of this.batches) if (b.firstSequence === firstSequence && b.lastSequence === lastSequence) return b;
    return null;
  }

  /** Records an appended batch; a new epoch forgets the old epoch's batches. */
  add(epoch: number, batch: BatchMetadata, seenMs: number): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.batches.length = 0;
    }
    this.batches.push(batch);
    if (this.batches.length > TRACKED_BATCHES) this.batches.shift();
    this.lastTimestamp = batch.timestamp;
    this.lastSeenMs = seenMs;
  }
}
