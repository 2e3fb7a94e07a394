import { join } from 'node:path';
import { readCheckpointFile, writeCheckpointFile } from '../../storage/checkpoint-file.js';

/** Ids reserved per durable write, as Kafka's ProducerIdManager reserves them. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

/** In the first log directory, beside the metadata: the first id no block has claimed yet. */
const FILE = 'producer-id-block-checkpoint';
const VERSION = 0;

/**
 * Hands out producer ids that are never handed out twice, across restarts and crashes alike:
 * ids come from blocks, and a block is claimed by durably moving the recorded next block start
 * past it before any of its ids is used. A crash wastes the rest of the block, never repeats one.
 */
export class ProducerIdManager {
  private readonly path: string;
  private next: number;
  private blockEnd: number;

  constructor(dir: string) {
    this.path = join(dir, FILE);
    const entries = readCheckpointFile(this.path, VERSION);
    const start = entries.length === 0 ? 0 : Number(entries[0]);
    if (entries.length > 1 || !Number.isSafeInteger(start) || start < 0) {
      throw new Error(`${this.path}: expected one non-negative id, found ${JSON.stringify(entries)}`);
    }
    this.next = start;
    this.blockEnd = start;
  }

  nextProducerId(): bigint {
    if (this.next === this.blockEnd) {
      const end = this.blockEnd + PRODUCER_ID_BLOCK_SIZE;
      writeCheckpointFile(this.path, VERSION, [String(end)]);
      this.blockEnd = end;
    }
    return BigInt(this.next++);
  }
}
