/** No leader: Kafka's -1. */
export const NO_LEADER = -1;

/** A broker's listener as it registers it: where clients reach it, by listener name. */
export interface EndpointImage {
  name: string;
  host: string;
  port: number;
}

/** A live broker, as registered in the cluster metadata (under a lease, in a cluster). */
export interface BrokerImage {
  id: number;
  /** A new random id at every start: a restarted broker is told from a stale registration. */
  incarnation: string;
  /** Grows with every registration (etcd's revision of it): fences requests of an older session. */
  epoch: number;
  endpoints: EndpointImage[];
  rack: string | null;
  /** The broker is stopping: its leaderships move away first (controlled shutdown). */
  shuttingDown: boolean;
}

/**
 * One partition's replica set and leadership, Kafka's PartitionRecord: changed only as a whole,
 * by compare-and-set on `partitionEpoch`, so no two writers can both win.
 */
export interface PartitionImage {
  /** The assigned replicas, preferred leader first. */
  replicas: number[];
  isr: number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
  /** A reassignment under way: replicas joining, and replicas leaving once they have. */
  adding: number[];
  removing: number[];
}

export interface TopicImage {
  name: string;
  /** Kafka topic id, as a dashed UUID string. */
  id: string;
  /** Topic config overrides, by Kafka name, as strings (what AlterConfigs sets). */
  configs: Record<string, string>;
  partitions: PartitionImage[];
}

/** A reassignment target of one partition: ListPartitionReassignments reports it. */
export interface ReassignmentImage {
  topic: string;
  partition: number;
  target: number[];
}

/**
 * One ACL binding (Kafka's AclBinding) with Kafka's wire codes for the resource type, pattern
 * type, operation and permission; stored with the cluster metadata.
 */
export interface AclImage {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permission: number;
}

/** The identity of a binding: two equal bindings are one. */
export function aclKey(a: AclImage): string {
  return JSON.stringify([a.resourceType, a.resourceName, a.patternType, a.principal, a.host, a.operation, a.permission]);
}

/**
 * A user's SCRAM credential for one mechanism, base64: what checks a login, never the password
 * (RFC 5802's StoredKey and ServerKey, with the salt and iterations they were made with).
 */
export interface ScramCredentialImage {
  salt: string;
  storedKey: string;
  serverKey: string;
  iterations: number;
}

/** ACL bindings by aclKey, counting their changes: the authorizer indexes them again after each. */
export class AclTable extends Map<string, AclImage> {
  changes = 0;

  override set(key: string, value: AclImage): this {
    this.changes++;
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.changes++;
    return super.delete(key);
  }

  override clear(): void {
    this.changes++;
    super.clear();
  }
}

/**
 * What a broker knows of the cluster, kept current by its metadata store: every broker reads
 * this and nothing else, the single node and the cluster alike.
 */
export class MetadataImage {
  readonly brokers = new Map<number, BrokerImage>();
  readonly topics = new Map<string, TopicImage>();
  private readonly byId = new Map<string, TopicImage>();
  controllerId = NO_LEADER;
  /** Dynamic broker configs in force for this broker: the cluster-wide ones under its own. */
  brokerConfigs: Record<string, string> = {};
  /** Group configs (ConfigResource GROUP) by group id: only groups that set some. */
  readonly groupConfigs = new Map<string, Record<string, string>>();
  /** Client quotas (user, client-id and ip entities) by entity key (security/quotas/quota-entity.ts), then by quota key. */
  readonly clientQuotas = new Map<string, Record<string, number>>();
  /** ACL bindings, by aclKey. */
  readonly acls = new AclTable();
  /** SCRAM credentials by user, then by mechanism name (SCRAM-SHA-256, SCRAM-SHA-512). */
  readonly scramCredentials = new Map<string, Record<string, ScramCredentialImage>>();

  constructor(readonly clusterId: string) {}

  topic(name: string): TopicImage | undefined {
    return this.topics.get(name);
  }

  topicById(id: string): TopicImage | undefined {
    return this.byId.get(id);
  }

  allTopics(): TopicImage[] {
    return [...this.topics.values()];
  }

  partition(topic: string, index: number): PartitionImage | undefined {
    return this.topics.get(topic)?.partitions[index];
  }

  putTopic(t: TopicImage): void {
    const old = this.topics.get(t.name);
    if (old && old.id !== t.id) this.byId.delete(old.id);
    this.topics.set(t.name, t);
    this.byId.set(t.id, t);
  }

  removeTopic(name: string): TopicImage | undefined {
    const t = this.topics.get(name);
    if (!t) return undefined;
    this.topics.delete(name);
    this.byId.delete(t.id);
    return t;
  }

  /** Brokers that are registered and not stopping: where new replicas and leaders may go. */
  availableBrokers(): BrokerImage[] {
    return [...this.brokers.values()].filter((b) => !b.shuttingDown).sort((a, b) => a.id - b.id);
  }

  isAlive(id: number): boolean {
    return this.brokers.has(id);
  }

  /** Registered and not shutting down: may lead or join an ISR. */
  isAvailable(id: number): boolean {
    const b = this.brokers.get(id);
    return b !== undefined && !b.shuttingDown;
  }
}
