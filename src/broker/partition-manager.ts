import type { LogManager } from '../storage/log-manager.js';
import type { MetadataStore, TopicMetadata } from '../metadata/metadata-store.js';
import { Partition } from './partition.js';

/**
 * The partitions this broker serves, kept in step with the metadata image and the logs on disk:
 * creating a topic writes the image and creates the logs, deleting does the reverse.
 */
export class PartitionManager {
  private readonly partitions = new Map<string, Partition>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly logs: LogManager,
  ) {
    for (const t of metadata.allTopics()) this.attach(t, 0);
    // Logs on disk that the image does not know are left from a deletion cut short.
    for (const l of logs.all()) {
      const t = metadata.topic(l.topic);
      if (!t || l.partition >= t.partitions) logs.delete(l.topic, l.partition);
    }
  }

  private attach(t: TopicMetadata, from: number): void {
    for (let i = from; i < t.partitions; i++) {
      this.partitions.set(`${t.name}-${i}`, new Partition(t.name, i, t.id, this.logs.getOrCreate(t.name, i)));
    }
  }

  get(topic: string, index: number): Partition | undefined {
    return this.partitions.get(`${topic}-${index}`);
  }

  all(): Partition[] {
    return [...this.partitions.values()];
  }

  ofTopic(topic: string): Partition[] {
    const t = this.metadata.topic(topic);
    if (!t) return [];
    return Array.from({ length: t.partitions }, (_, i) => this.partitions.get(`${topic}-${i}`)!);
  }

  createTopic(name: string, partitions: number, configs: Record<string, string>): TopicMetadata {
    const t = this.metadata.createTopic(name, partitions, configs);
    this.attach(t, 0);
    return t;
  }

  deleteTopic(name: string): void {
    const t = this.metadata.topic(name);
    if (!t) return;
    this.metadata.deleteTopic(name);
    for (let i = 0; i < t.partitions; i++) {
      this.partitions.delete(`${name}-${i}`);
      this.logs.delete(name, i);
    }
  }

  addPartitions(name: string, total: number): void {
    const t = this.metadata.topic(name)!;
    const from = t.partitions;
    this.metadata.setPartitionCount(name, total);
    this.attach(t, from);
  }

  setTopicConfigs(name: string, configs: Record<string, string>): void {
    this.metadata.setTopicConfigs(name, configs);
    this.logs.reconfigure(name);
  }
}
