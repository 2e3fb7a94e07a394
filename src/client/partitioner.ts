/**
 * MurmurHash2 (32-bit, seed 0x9747b28c) exactly as Kafka's clients compute it: a keyed message
 * must land on the partition that a Java, librdkafka (murmur2_random) or kafkajs producer would
 * pick for the same key, or consumers relying on key affinity see keys split across partitions.
 */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The tail bytes fall through from 3 to 1, as in the reference implementation.
  const tail = length & 3;
  if (tail >= 3) h ^= data[whole + 2] << 16;
  if (tail >= 2) h ^= data[whole + 1] << 8;
  if (tail >= 1) h = Math.imul(h ^ data[whole], m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  return h ^ (h >>> 15);
}

/** Kafka's default partition for a key: the positive part of its murmur2 hash, modulo the count. */
export function keyPartition(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/**
 * Partitions for unkeyed messages, sticky like Kafka's default since KIP-480: every message goes
 * to the current partition until its batch is closed, then the next one takes over. Whole
 * batches instead of one message per partition per batch keep batches large.
 */
export class StickyPartitioner {
  private current: number;

  constructor(private readonly partitions: number) {
    this.current = Math.floor(Math.random() * partitions);
  }

  partition(): number {
    return this.current;
  }

  /** Called when a batch of `partition` is closed; moves on if it was the sticky one. */
  batchClosed(partition: number): void {
    if (partition === this.current) this.current = (this.current + 1) % this.partitions;
  }
}

/** The partition of a message: Kafka's key hash for keyed ones, the sticky partition otherwise. */
export class DefaultPartitioner {
  private readonly sticky: StickyPartitioner;

  constructor(readonly partitions: number) {
    this.sticky = new StickyPartitioner(partitions);
  }

  partition(key: Uint8Array | null): number {
    return key === null ? this.sticky.partition() : keyPartition(key, this.partitions);
  }

  batchClosed(partition: number): void {
    this.sticky.batchClosed(partition);
  }
}
