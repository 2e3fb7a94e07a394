import type { AclImage, MetadataImage, PartitionImage, ScramCredentialImage, TopicImage } from './image.js';

/** What one update of the image changed, for those who act on it. */
export interface ImageChanges {
  /** Topics created, or changed in any way (configs, partitions, leadership, replicas). */
  topics: Set<string>;
  /** Topics deleted, as they were. */
  deleted: TopicImage[];
  /** Brokers registered, gone or changed. */
  brokers: boolean;
  controller: boolean;
  brokerConfigs: boolean;
}

export function noChanges(): ImageChanges {
  return { topics: new Set(), deleted: [], brokers: false, controller: false, brokerConfigs: false };
}

export function anyChange(c: ImageChanges): boolean {
  return c.topics.size > 0 || c.deleted.length > 0 || c.brokers || c.controller || c.brokerConfigs;
}

/** Why a metadata write was refused, with the Kafka error code to answer it with. */
export class MetadataWriteError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'MetadataWriteError';
  }
}

/** Whether this broker may serve writes now, and why not when it may not. */
export interface SessionState {
  /** The broker's registration is provably alive: its leaderships cannot have moved without it knowing. */
  valid: boolean;
  /** The metadata store answers. */
  connected: boolean;
  reason: string | null;
}

/**
 * The cluster metadata behind one interface with two stores: embedded (a file in the first log
 * directory, a single node) and etcd (a cluster). Reads go to `image`, always current; writes
 * are compare-and-set where two writers could race, and land in the image through the same
 * path as everyone else's (a watch, for etcd) before they resolve.
 */
export interface MetadataStore {
  readonly kind: 'embedded' | 'etcd';
  readonly image: MetadataImage;
  /** This broker's registration epoch (KIP-380's broker epoch). */
  readonly brokerEpoch: number;
  session(): SessionState;
  /** Calls `listener` after each update of the image; returns the way to stop. */
  onChange(listener: (changes: ImageChanges) => void): () => void;
  /** Throws MetadataWriteError(TOPIC_ALREADY_EXISTS) when the name is taken. */
  createTopic(topic: TopicImage): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  /** Appends partitions to a topic; refused when the count changed meanwhile. */
  addPartitions(name: string, added: PartitionImage[]): Promise<void>;
  setTopicConfigs(name: string, configs: Record<string, string>): Promise<void>;
  /** Dynamic broker configs: this broker's own, or (null) the cluster-wide defaults. */
  setBrokerConfigs(broker: number | null, configs: Record<string, string>): Promise<void>;
  /** The stored dynamic configs of a scope, as set (not merged). */
  brokerConfigsOf(broker: number | null): Record<string, string>;
  /** A group's configs (share groups' share.* and the like); an empty set removes them. */
  setGroupConfigs(groupId: string, configs: Record<string, string>): Promise<void>;
  /** An entity's client quotas, by quota key; an empty set removes the entity. */
  setClientQuotas(entity: string, quotas: Record<string, number>): Promise<void>;
  /** Adds and removes ACL bindings (adding one already there, or removing one that is not, changes nothing). */
  changeAcls(added: AclImage[], removed: AclImage[]): Promise<void>;
  /** Replaces a user's SCRAM credentials, by mechanism name; an empty set removes the user. */
  setScramCredentials(user: string, credentials: Record<string, ScramCredentialImage>): Promise<void>;
  /**
   * Replaces a partition's state if its partition epoch is still `expectedEpoch`. Resolves
   * false when another writer got there first; the image then holds what won.
   */
  alterPartition(topic: string, index: number, expectedEpoch: number, next: PartitionImage): Promise<boolean>;
  /** The first of `count` producer ids no one else will ever be given. */
  allocateProducerIds(count: number): Promise<bigint>;
  /** Says this broker is stopping, so its leaderships move before it goes (cluster only). */
  announceShutdown(): Promise<void>;
  close(): Promise<void>;
}
