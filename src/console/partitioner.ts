import { keyPartition } from '../client/partitioner.js';

/** The partition for a test message: the key's, as Kafka's default partitioner picks it, else any. */
export function choosePartition(key: Uint8Array | null, partitions: number): number {
  if (key === null) return Math.floor(Math.random() * partitions);
  return keyPartition(key, partitions);
}
