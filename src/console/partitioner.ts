/**
 * MurmurHash2 as Kafka's clients compute it (seed 0x9747b28c), so a keyed message from the
 * console lands on the partition the application's own producers would pick for that key.
 */
function murmur2(data: Uint8Array): number {
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
  const tail = length & 3;
  if (tail >= 3) h ^= data[whole + 2] << 16;
  if (tail >= 2) h ^= data[whole + 1] << 8;
  if (tail >= 1) h = Math.imul(h ^ data[whole], m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  return h ^ (h >>> 15);
}

/** The partition for a message: the key's hash like Kafka's default partitioner, else any. */
export function choosePartition(key: Uint8Array | null, partitions: number): number {
  if (key === null) return Math.floor(Math.random() * partitions);
  return (murmur2(key) & 0x7fffffff) % partitions;
}
