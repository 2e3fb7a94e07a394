/**
 * Values by topic and partition index, looked up by the pair itself. A "topic-index" string key
 * costs a new string and its hash on every look-up, and the look-ups that matter run per
 * partition: each partition of a produce, and each of the 30,000 a Metadata answer can list.
 */
export class PartitionTable<V> {
  private readonly byTopic = new Map<string, Map<number, V>>();

  get(topic: string, index: number): V | undefined {
    return this.byTopic.get(topic)?.get(index);
  }

  has(topic: string, index: number): boolean {
    return this.byTopic.get(topic)?.has(index) ?? false;
  }

  set(topic: string, index: number, value: V): void {
    let partitions = this.byTopic.get(topic);
    if (!partitions) {
      partitions = new Map();
      this.byTopic.set(topic, partitions);
    }
    partitions.set(index, value);
  }

  delete(topic: string, index: number): void {
    const partitions = this.byTopic.get(topic);
    if (!partitions?.delete(index)) return;
    if (partitions.size === 0) this.byTopic.delete(topic);
  }

  *values(): IterableIterator<V> {
    for (const partitions of this.byTopic.values()) yield* partitions.values();
  }
}
