import { join } from 'node:path';
import { log } from '../log.js';
import { readCheckpointFile, writeCheckpointFile } from '../storage/checkpoint-file.js';
import type { Listing } from '../storage/directory-listing.js';
import type { PartitionLog, PartitionLogListener } from '../storage/partition-log.js';

const FILE = 'leader-epoch-checkpoint';
const VERSION = 0;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

/** No epoch: Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_OFFSET = -1;

/**
 * Kafka's leader epoch cache (KIP-101/279): the offset at which each leader epoch began in this
 * log, in `leader-epoch-checkpoint` beside the segments (Kafka's format: version, count, then
 * "epoch startOffset" lines). A follower asks its leader where the leader's log leaves its own
 * last epoch (OffsetForLeaderEpoch) and cuts off what diverges, so a deposed leader's
 * unreplicated writes disappear instead of forking the log.
 */
export class LeaderEpochCache implements PartitionLogListener {
  private entries: EpochEntry[];
  private readonly path: string;

  /** `listing`: the log directory's, when the caller has one. */
  constructor(
    private readonly log: PartitionLog,
    listing: Listing | null = null,
  ) {
    this.path = join(log.dir, FILE);
    this.entries = LeaderEpochCache.read(this.path, listing);
    // Entries past the log end describe records a crash took: they go.
    this.truncateFromEnd(log.logEndOffset);
    log.addListener(this);
  }

  /**
   * The file as written; a damaged one (a crash before it reached the disk) counts as empty:
   * what it held makes truncation precise, and without it a follower cuts to its high watermark.
   */
  private static read(path: string, listing: Listing | null): EpochEntry[] {
    try {
      return readCheckpointFile(path, VERSION, listing).map((line) => {
        const [epoch, startOffset] = line.split(/\s+/).map(Number);
        if (!Number.isInteger(epoch) || !Number.isInteger(startOffset)) throw new Error(`bad entry "${line}"`);
        return { epoch, startOffset };
      });
    } catch (e) {
      log.warn({ path, err: (e as Error).message }, 'leader epoch checkpoint unreadable: starting without it');
      return [];
    }
  }

  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  all(): readonly EpochEntry[] {
    return this.entries;
  }

  /** Records that `epoch` starts at `startOffset`, unless the cache already has it or a later one. */
  assign(epoch: number, startOffset: number): void {
    const last = this.entries.at(-1);
    if (epoch < 0 || (last && last.epoch >= epoch)) return;
    this.entries.push({ epoch, startOffset });
    this.persist();
  }

  /**
   * Kafka's endOffsetFor: for `requested`, the largest epoch not above it that this log has, and
   * the offset where that epoch ends (the next epoch's start, or the log end for the latest).
   * Undefined when the log has no epoch that old.
   */
  endOffsetFor(requested: number, logEndOffset: number): EpochEntry {
    if (requested === this.latestEpoch) return { epoch: requested, startOffset: logEndOffset };
    let found = -1;
    for (let i = 0; i < this.entries.length && this.entries[i].epoch <= requested; i++) found = i;
    if (found < 0) return { epoch: UNDEFINED_EPOCH, startOffset: UNDEFINED_OFFSET };
    const next = this.entries[found + 1];
    return { epoch: this.entries[found].epoch, startOffset: next ? next.startOffset : logEndOffset };
  }

  /** Drops epochs that begin at or after `offset`: the log was cut there. */
  truncateFromEnd(offset: number): void {
    const keep = this.entries.filter((e) => e.startOffset < offset);
    if (keep.length === this.entries.length) return;
    this.entries = keep;
    this.persist();
  }

  private persist(): void {
    writeCheckpointFile(
      this.path,
      VERSION,
      this.entries.map((e) => `${e.epoch} ${e.startOffset}`),
      false,
    );
  }

  rolled(): void {}

  truncated(logEndOffset: number): void {
    // An empty log (truncateFullyAndStartAt) has no epochs: they come again with its records.
    this.truncateFromEnd(this.log.logStartOffset === logEndOffset ? -1 : logEndOffset);
  }

  closing(): void {}
}
