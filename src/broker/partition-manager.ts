import { log } from '../log.js';
import type { LogManager } from '../storage/log-manager.js';
import type { MetadataStore, TopicMetadata } from '../metadata/metadata-store.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { Partition } from './partition.js';

const keyOf = (topic: string, index: number): string => `${topic}-${index}`;

/**
 * The partitions this broker serves, kept in step with the metadata image and the logs on disk.
 * A topic's logs are created before the image names it and deleted after the image stops
 * naming it, so that a crash at any point leaves at worst logs the image does not know, which
 * the next start deletes. The image and the partitions can still disagree (a partition's log
 * that could not be opened at start): such a partition is offline, answered with an error.
 */
export class PartitionManager {
  private readonly partitions = new Map<string, Partition>();
  /** Offline partitions already in the log, so that each is reported once, not on every request. */
  private readonly reportedOffline = new Set<string>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly logs: LogManager,
  ) {
    for (const t of metadata.allTopics()) this.attachAtStart(t);
    for (const l of logs.all()) {
      const t = metadata.topic(l.topic);
      if (t && l.partition < t.partitions) continue;
      try {
        logs.delete(l.topic, l.partition);
      } catch (e) {
        log.warn({ err: e, partition: keyOf(l.topic, l.partition) }, 'a log the metadata does not list could not be deleted: the next start tries again');
      }
    }
  }

  /**
   * A partition whose log the image lists but the disk lacks gets a new empty log, as Kafka
   * does: its records are gone either way, and the partition stays usable. One whose log
   * cannot be opened or created stays offline rather than keep the broker from starting.
   */
  private attachAtStart(t: TopicMetadata): void {
    const recreated: number[] = [];
    const offline: number[] = [];
    let cause: unknown;
    for (let i = 0; i < t.partitions; i++) {
      const missing = !this.logs.get(t.name, i);
      try {
        this.attach(t, i);
        if (missing) recreated.push(i);
      } catch (e) {
        offline.push(i);
        cause = e;
        this.reportedOffline.add(keyOf(t.name, i));
      }
    }
    if (recreated.length > 0) log.warn({ topic: t.name, partitions: recreated }, 'partition logs listed in the metadata were missing on disk: created empty');
    if (offline.length > 0) log.warn({ topic: t.name, partitions: offline, err: cause }, 'partition logs could not be opened: those partitions are offline');
  }

  private attach(t: TopicMetadata, index: number): void {
    this.partitions.set(keyOf(t.name, index), new Partition(t.name, index, t.id, this.logs.getOrCreate(t.name, index)));
  }

  get(topic: string, index: number): Partition | undefined {
    return this.partitions.get(keyOf(topic, index));
  }

  /**
   * The partition to serve, or the Kafka error for why there is none: UNKNOWN_TOPIC_OR_PARTITION
   * when the image does not list it; KAFKA_STORAGE_ERROR, Kafka's answer for a partition on an
   * offline log directory, when the image lists it but its log is in a failed directory or the
   * broker has no log for it at all.
   */
  lookup(topic: string, index: number): Partition | number {
    if (index < 0 || index >= this.partitionCount(topic)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const key = keyOf(topic, index);
    const p = this.partitions.get(key);
    // The directory's failure is logged where it happens, once.
    if (p) return p.log.offline ? ErrorCode.KAFKA_STORAGE_ERROR : p;
    if (!this.reportedOffline.has(key)) {
      this.reportedOffline.add(key);
      log.warn({ partition: key }, 'the metadata lists this partition but the broker has no log for it: it is offline');
    }
    return ErrorCode.KAFKA_STORAGE_ERROR;
  }

  /** Partitions the image lists that cannot be served: no log, or a log in a failed directory. */
  offlineCount(): number {
    let n = 0;
    for (const t of this.metadata.allTopics()) {
      for (let i = 0; i < t.partitions; i++) {
        const p = this.partitions.get(keyOf(t.name, i));
        if (!p || p.log.offline) n++;
      }
    }
    return n;
  }

  /** How many partitions the image gives a topic, served here or not (0: no such topic). */
  partitionCount(topic: string): number {
    return this.metadata.topic(topic)?.partitions ?? 0;
  }

  all(): Partition[] {
    return [...this.partitions.values()];
  }

  /** The topic's partitions that are served here, by index; offline ones are left out. */
  ofTopic(topic: string): Partition[] {
    const out: Partition[] = [];
    for (let i = 0; i < this.partitionCount(topic); i++) {
      const p = this.partitions.get(keyOf(topic, i));
      if (p && !p.log.offline) out.push(p);
    }
    return out;
  }

  /** Throws (and keeps nothing) when a log cannot be created or the image cannot be written. */
  createTopic(name: string, partitions: number, configs: Record<string, string>): TopicMetadata {
    // Inside the image's change: the new logs take their configs from the topic's.
    const t = this.withNewLogs(name, 0, partitions, (create) => this.metadata.createTopic(name, partitions, configs, create));
    for (let i = 0; i < partitions; i++) this.attach(t, i);
    return t;
  }

  deleteTopic(name: string): void {
    const t = this.metadata.topic(name);
    if (!t) return;
    this.metadata.deleteTopic(name);
    for (let i = 0; i < t.partitions; i++) {
      this.partitions.delete(keyOf(name, i));
      this.reportedOffline.delete(keyOf(name, i));
    }
    this.deleteLogs(name, 0, t.partitions);
  }

  /** Logs the image no longer names: what cannot be deleted now, the next start deletes. */
  private deleteLogs(name: string, from: number, to: number): void {
    let left = 0;
    for (let i = from; i < to; i++) {
      try {
        this.logs.delete(name, i);
      } catch {
        left++;
      }
    }
    if (left > 0) log.error({ topic: name, logs: left }, 'partition logs could not be deleted: the next start deletes them');
  }

  /** Throws (and keeps nothing) when a log cannot be created or the image cannot be written. */
  addPartitions(name: string, total: number): void {
    const t = this.metadata.topic(name)!;
    const from = t.partitions;
    this.withNewLogs(name, from, total, (create) => {
      create();
      this.metadata.setPartitionCount(name, total);
    });
    for (let i = from; i < total; i++) this.attach(t, i);
  }

  /**
   * Runs `write`, which creates the logs of partitions [from, to) of a topic by calling `create`
   * and then writes the image. If anything in it throws, the logs made are deleted again before
   * the error goes on: the topic is as it was, in memory and on disk.
   */
  private withNewLogs<T>(name: string, from: number, to: number, write: (create: () => void) => T): T {
    let made = false;
    try {
      return write(() => {
        this.logs.createLogs(name, from, to);
        made = true;
      });
    } catch (e) {
      if (made) this.deleteLogs(name, from, to);
      throw e;
    }
  }

  setTopicConfigs(name: string, configs: Record<string, string>): void {
    this.metadata.setTopicConfigs(name, configs);
    this.logs.reconfigure(name);
  }
}
