import type { MetadataStore } from '../../metadata/store.js';

/** Ids reserved per durable write, as Kafka's ProducerIdManager reserves them. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

/**
 * Hands out producer ids that are never handed out twice, across brokers, restarts and crashes
 * alike: ids come from blocks the metadata store gives out once (a file on a single node, a
 * compare-and-set counter in etcd). A crash wastes the rest of a block, never repeats an id.
 */
export class ProducerIdManager {
  private next = 0n;
  private blockEnd = 0n;
  private claiming: Promise<void> | null = null;

  constructor(private readonly store: MetadataStore) {}

  async nextProducerId(): Promise<bigint> {
    while (this.next === this.blockEnd) {
      this.claiming ??= this.store.allocateProducerIds(PRODUCER_ID_BLOCK_SIZE).then(
        (start) => {
          this.next = start;
          this.blockEnd = start + BigInt(PRODUCER_ID_BLOCK_SIZE);
          this.claiming = null;
        },
        (e: unknown) => {
          this.claiming = null;
          throw e;
        },
      );
      await this.claiming;
    }
    return this.next++;
  }
}
