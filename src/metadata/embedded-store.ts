import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../protocol/generated/errors.js';
import { readCheckpointFile, writeCheckpointFile, writeFileAtomically } from '../storage/checkpoint-file.js';
import { aclKey, MetadataImage, type AclImage, type BrokerImage, type PartitionImage, type ScramCredentialImage, type TopicImage } from './image.js';
import { claimDirectory } from './meta-properties.js';
import { newClusterId } from './names.js';
import { MetadataWriteError, noChanges, type ImageChanges, type MetadataStore, type SessionState } from './store.js';

interface StoredTopic {
  name: string;
  id: string;
  partitions: number;
  configs: Record<string, string>;
}

interface StoredImage {
  version: 1;
  topics: StoredTopic[];
  brokerConfigs: Record<string, string>;
  /** Absent in images written before group configs existed. */
  groupConfigs?: Record<string, Record<string, string>>;
  /** Absent in images written before client quotas existed. */
  clientQuotas?: Record<string, Record<string, number>>;
  /** Absent in images written before ACLs existed. */
  acls?: AclImage[];
  /** Absent in images written before SCRAM credentials existed. */
  scramCredentials?: Record<string, Record<string, ScramCredentialImage>>;
}

const IMAGE_FILE = 'sluice-metadata.json';
/** The first producer id no block has claimed yet. */
const PRODUCER_IDS_FILE = 'producer-id-block-checkpoint';

/** A partition of the single node: its one replica leads, alone in sync. */
function soleReplica(node: number): PartitionImage {
  return { replicas: [node], isr: [node], leader: node, leaderEpoch: 0, partitionEpoch: 0, adding: [], removing: [] };
}

/**
 * The single node's metadata: the cluster id in Kafka's meta.properties, topics with their ids,
 * partition counts and config overrides, and dynamic broker configs, in the first log directory,
 * rewritten atomically on every change so that any crash leaves the old or the new image. This
 * broker is the only one and the controller; every partition is its own.
 */
export class EmbeddedMetadataStore implements MetadataStore {
  readonly kind = 'embedded' as const;
  readonly image: MetadataImage;
  readonly brokerEpoch = 0;
  private readonly listeners = new Set<(changes: ImageChanges) => void>();

  private constructor(
    private readonly dir: string,
    private readonly nodeId: number,
    clusterId: string,
  ) {
    this.image = new MetadataImage(clusterId);
  }

  static open(dir: string, self: Omit<BrokerImage, 'epoch' | 'shuttingDown'>): EmbeddedMetadataStore {
    const clusterId = claimDirectory(dir, self.id, null, newClusterId);
    const store = new EmbeddedMetadataStore(dir, self.id, clusterId);
    store.image.brokers.set(self.id, { ...self, epoch: 0, shuttingDown: false });
    store.image.controllerId = self.id;
    const path = join(dir, IMAGE_FILE);
    if (existsSync(path)) {
      const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredImage;
      for (const t of stored.topics) store.image.putTopic(store.topicOf(t));
      store.image.brokerConfigs = stored.brokerConfigs ?? {};
      for (const [groupId, configs] of Object.entries(stored.groupConfigs ?? {})) store.image.groupConfigs.set(groupId, configs);
      for (const [entity, quotas] of Object.entries(stored.clientQuotas ?? {})) store.image.clientQuotas.set(entity, quotas);
      for (const acl of stored.acls ?? []) store.image.acls.set(aclKey(acl), acl);
      for (const [user, credentials] of Object.entries(stored.scramCredentials ?? {})) store.image.scramCredentials.set(user, credentials);
    }
    return store;
  }

  private topicOf(t: StoredTopic): TopicImage {
    return { name: t.name, id: t.id, configs: t.configs, partitions: Array.from({ length: t.partitions }, () => soleReplica(this.nodeId)) };
  }

  session(): SessionState {
    return { valid: true, connected: true, reason: null };
  }

  onChange(listener: (changes: ImageChanges) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private persist(): void {
    const stored: StoredImage = {
      version: 1,
      topics: this.image.allTopics().map((t) => ({ name: t.name, id: t.id, partitions: t.partitions.length, configs: t.configs })),
      brokerConfigs: this.image.brokerConfigs,
      groupConfigs: Object.fromEntries(this.image.groupConfigs),
      clientQuotas: Object.fromEntries(this.image.clientQuotas),
      acls: [...this.image.acls.values()],
      scramCredentials: Object.fromEntries(this.image.scramCredentials),
    };
    writeFileAtomically(join(this.dir, IMAGE_FILE), `${JSON.stringify(stored, null, 1)}\n`);
  }

  /**
   * Applies a change and writes the image. If the write fails (a full disk, too many open
   * files), `undo` takes the change back, so that what this process serves is never what the
   * next start would not find; otherwise the listeners hear of it.
   */
  private commit(apply: () => void, undo: () => void, changes: ImageChanges): void {
    apply();
    try {
      this.persist();
    } catch (e) {
      undo();
      throw e;
    }
    for (const l of this.listeners) l(changes);
  }

  private changed(fill: (c: ImageChanges) => void): ImageChanges {
    const c = noChanges();
    fill(c);
    return c;
  }

  async createTopic(topic: TopicImage): Promise<void> {
    if (this.image.topic(topic.name)) throw new MetadataWriteError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${topic.name}' already exists.`);
    const t = { ...topic, partitions: topic.partitions.map(() => soleReplica(this.nodeId)) };
    this.commit(
      () => this.image.putTopic(t),
      () => this.image.removeTopic(t.name),
      this.changed((c) => c.topics.add(t.name)),
    );
  }

  async deleteTopic(name: string): Promise<void> {
    const t = this.image.topic(name);
    if (!t) return;
    this.commit(
      () => this.image.removeTopic(name),
      () => this.image.putTopic(t),
      this.changed((c) => c.deleted.push(t)),
    );
  }

  async addPartitions(name: string, added: PartitionImage[]): Promise<void> {
    const t = this.existing(name);
    const grown = { ...t, partitions: [...t.partitions, ...added.map(() => soleReplica(this.nodeId))] };
    this.commit(
      () => this.image.putTopic(grown),
      () => this.image.putTopic(t),
      this.changed((c) => c.topics.add(name)),
    );
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const t = this.existing(name);
    this.commit(
      () => this.image.putTopic({ ...t, configs }),
      () => this.image.putTopic(t),
      this.changed((c) => c.topics.add(name)),
    );
  }

  private existing(name: string): TopicImage {
    const t = this.image.topic(name);
    if (!t) throw new MetadataWriteError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
    return t;
  }

  /** One node: its own configs and the cluster-wide ones are the same set. */
  async setBrokerConfigs(_broker: number | null, configs: Record<string, string>): Promise<void> {
    const before = this.image.brokerConfigs;
    this.commit(
      () => (this.image.brokerConfigs = configs),
      () => (this.image.brokerConfigs = before),
      this.changed((c) => (c.brokerConfigs = true)),
    );
  }

  brokerConfigsOf(): Record<string, string> {
    return this.image.brokerConfigs;
  }

  async setGroupConfigs(groupId: string, configs: Record<string, string>): Promise<void> {
    this.replaceEntry(this.image.groupConfigs, groupId, configs);
  }

  async setClientQuotas(entity: string, quotas: Record<string, number>): Promise<void> {
    this.replaceEntry(this.image.clientQuotas, entity, quotas);
  }

  async changeAcls(added: AclImage[], removed: AclImage[]): Promise<void> {
    const before = new Map(this.image.acls);
    const restore = () => {
      this.image.acls.clear();
      for (const [k, v] of before) this.image.acls.set(k, v);
    };
    this.commit(
      () => {
        for (const a of removed) this.image.acls.delete(aclKey(a));
        for (const a of added) this.image.acls.set(aclKey(a), a);
      },
      restore,
      noChanges(),
    );
  }

  async setScramCredentials(user: string, credentials: Record<string, ScramCredentialImage>): Promise<void> {
    this.replaceEntry(this.image.scramCredentials, user, credentials);
  }

  /** Sets `key`'s entry of one of the image's keyed records, an empty record removing it, undone if the write fails. */
  private replaceEntry<V extends object>(map: Map<string, V>, key: string, value: V): void {
    const before = map.get(key);
    const put = (v: V | undefined) => (v === undefined || Object.keys(v).length === 0 ? map.delete(key) : map.set(key, v));
    this.commit(
      () => put(value),
      () => put(before),
      noChanges(),
    );
  }

  /** Never raced on one node; kept in memory only, as nothing but this node's own replica is there to change. */
  async alterPartition(topic: string, index: number, expectedEpoch: number, next: PartitionImage): Promise<boolean> {
    const t = this.image.topic(topic);
    const current = t?.partitions[index];
    if (!t || !current || current.partitionEpoch !== expectedEpoch) return false;
    t.partitions[index] = { ...next, partitionEpoch: expectedEpoch + 1 };
    for (const l of this.listeners) l(this.changed((c) => c.topics.add(topic)));
    return true;
  }

  /**
   * Ids that are never handed out twice, across restarts and crashes alike: a block is claimed
   * by durably moving the recorded start of the next one past it before any of its ids is used.
   * A crash wastes the rest of the block, never repeats one.
   */
  async allocateProducerIds(count: number): Promise<bigint> {
    const path = join(this.dir, PRODUCER_IDS_FILE);
    const entries = readCheckpointFile(path, 0);
    const start = entries.length === 0 ? 0 : Number(entries[0]);
    if (entries.length > 1 || !Number.isSafeInteger(start) || start < 0) {
      throw new Error(`${path}: expected one non-negative id, found ${JSON.stringify(entries)}`);
    }
    writeCheckpointFile(path, 0, [String(start + count)]);
    return BigInt(start);
  }

  async announceShutdown(): Promise<void> {}

  async close(): Promise<void> {}
}
