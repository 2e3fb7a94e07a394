import type { ListenerSasl } from '../security/sasl/listener-sasl.js';
import type { AppendMode, FlushMode } from '../storage/log-config.js';
import type { IndexMode } from '../storage/index-storage.js';
import type { TransferMode } from '../native/file-transfer.js';
import type { MigrationPolicy } from '../coordinator/consumer-group.js';
import type { ListenerTls, SecurityProtocol } from './listeners.js';

/** One entry of `listeners` / `advertised.listeners`: NAME://host:port. */
export interface ListenerAddress {
  name: string;
  host: string;
  port: number;
}

/**
 * The broker's configuration, from Kafka's broker config names plus Sluice's own (`sluice.*`).
 * Topic-level defaults (`log.retention.ms` and friends) live in `topicDefaults` under the
 * topic-level names, so a topic's effective config is `{ ...topicDefaults, ...overrides }`.
 */
export interface BrokerConfig {
  /** node.id (also accepted: broker.id). */
  nodeId: number;
  /** listeners. */
  listeners: ListenerAddress[];
  /** advertised.listeners; defaults to listeners. */
  advertisedListeners: ListenerAddress[];
  /** The security protocol of each listener, by name (listener.security.protocol.map); see securityProtocolOf. */
  listenerSecurityProtocols: ReadonlyMap<string, SecurityProtocol>;
  /** The TLS settings of each SSL and SASL_SSL listener, by name. */
  tlsListeners: ReadonlyMap<string, ListenerTls>;
  /** The SASL settings of each SASL_PLAINTEXT and SASL_SSL listener, by name. */
  saslListeners: ReadonlyMap<string, ListenerSasl>;
  /** sluice.ssl.handshake.timeout.ms. */
  sslHandshakeTimeoutMs: number;
  /** sluice.ssl.reload.check.interval.ms; 0: never. */
  sslReloadCheckIntervalMs: number;
  /** sluice.request.frame.timeout.ms. */
  requestFrameTimeoutMs: number;
  /** log.dirs (or log.dir). */
  logDirs: string[];
  /** num.partitions. */
  numPartitions: number;
  /** default.replication.factor. */
  defaultReplicationFactor: number;
  /** auto.create.topics.enable. */
  autoCreateTopicsEnable: boolean;
  /** authorizer.class.name: empty when no authorizer runs. */
  authorizerClassName: string;
  /** super.users, one principal each. */
  superUsers: string[];
  /** allow.everyone.if.no.acl.found. */
  allowEveryoneIfNoAclFound: boolean;
  /** message.max.bytes: the largest record batch accepted (topic default of max.message.bytes). */
  messageMaxBytes: number;
  /** socket.request.max.bytes: the largest request frame accepted. */
  socketRequestMaxBytes: number;
  /** connections.max.idle.ms. */
  connectionsMaxIdleMs: number;
  /** max.connections. */
  maxConnections: number;
  /** max.connections.per.ip, max.connections.per.ip.overrides (host:count pairs), max.connection.creation.rate. */
  maxConnectionsPerIp: number;
  maxConnectionsPerIpOverrides: string;
  maxConnectionCreationRate: number;
  /** quota.window.num and quota.window.size.seconds: the samples client quotas are measured over. */
  quotaWindowNum: number;
  quotaWindowSizeSeconds: number;
  /** queued.max.requests: requests in flight per connection before it stops reading. */
  queuedMaxRequests: number;
  /** max.incremental.fetch.session.cache.slots: fetch sessions (KIP-227) held at once. */
  maxIncrementalFetchSessionCacheSlots: number;
  /** log.retention.check.interval.ms. */
  logRetentionCheckIntervalMs: number;
  /** log.cleaner.backoff.ms. */
  logCleanerBackoffMs: number;
  /** log.flush.offset.checkpoint.interval.ms. */
  logFlushOffsetCheckpointIntervalMs: number;
  /** offsets.topic.num.partitions. */
  offsetsTopicNumPartitions: number;
  /** offsets.retention.minutes, in ms. */
  offsetsRetentionMs: number;
  /** group.initial.rebalance.delay.ms. */
  groupInitialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms. */
  groupMinSessionTimeoutMs: number;
  /** group.max.session.timeout.ms. */
  groupMaxSessionTimeoutMs: number;
  /** group.consumer.assignors: KIP-848 server-side assignors, the first the default. */
  groupConsumerAssignors: string[];
  /** group.consumer.session.timeout.ms. */
  groupConsumerSessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms. */
  /** group.consumer.migration.policy (KIP-848 online migration). */
  groupConsumerMigrationPolicy: MigrationPolicy;
  groupConsumerHeartbeatIntervalMs: number;
  /** group.share.*: share groups (KIP-932); a group's share.* configs override some (see coordinator/share/share-group-configs.ts). */
  groupShareEnable: boolean;
  groupShareRecordLockDurationMs: number;
  groupShareMinRecordLockDurationMs: number;
  groupShareMaxRecordLockDurationMs: number;
  groupShareDeliveryCountLimit: number;
  groupSharePartitionMaxRecordLocks: number;
  groupShareSessionTimeoutMs: number;
  groupShareHeartbeatIntervalMs: number;
  groupShareMaxSize: number;
  /** sluice.fetch.session.cache.max.partitions. */
  fetchSessionCacheMaxPartitions: number;
  /** sluice.fetch.transfer: how fetch responses send segment bytes. */
  fetchTransfer: TransferMode;
  /** sluice.console.listener: HOST:PORT of the web console, null when off. */
  consoleListener: { host: string; port: number } | null;
  /** sluice.log.mmap.mlock: pin the active mapped segment in memory (every topic). */
  logMmapMlock: boolean;
  /** sluice.log.index.mode: offset indexes in heap buffers or in mappings (every topic). */
  logIndexMode: IndexMode;
  /** sluice.log.max.open.files; -1 derives it from the process descriptor limit. */
  logMaxOpenFiles: number;
  /** sluice.metadata.store: 'embedded' or etcd://HOST:PORT[,HOST:PORT]/PREFIX. */
  metadataStore: string;
  /** broker.rack. */
  brokerRack: string | null;
  /** broker.session.timeout.ms. */
  brokerSessionTimeoutMs: number;
  /** inter.broker.listener.name; null: the first listener. */
  interBrokerListenerName: string | null;
  replicaLagTimeMaxMs: number;
  replicaFetchWaitMaxMs: number;
  replicaFetchMinBytes: number;
  replicaFetchMaxBytes: number;
  replicaFetchResponseMaxBytes: number;
  replicaFetchBackoffMs: number;
  offsetsTopicReplicationFactor: number;
  offsetsTopicSegmentBytes: number;
  transactionStateLogNumPartitions: number;
  transactionStateLogReplicationFactor: number;
  transactionStateLogMinIsr: number;
  transactionStateLogSegmentBytes: number;
  /** share.coordinator.state.topic.*: the internal topic of share-group state (KIP-932). */
  shareStateTopicNumPartitions: number;
  shareStateTopicReplicationFactor: number;
  shareStateTopicMinIsr: number;
  shareStateTopicSegmentBytes: number;
  /** sluice.delivery.delay.max.ms: the longest delay a record may ask for; 0 turns delayed delivery off. */
  deliveryDelayMaxMs: number;
  producerIdExpirationMs: number;
  transactionMaxTimeoutMs: number;
  transactionalIdExpirationMs: number;
  transactionAbortTimedOutTransactionCleanupIntervalMs: number;
  transactionPartitionVerificationEnable: boolean;
  autoLeaderRebalanceEnable: boolean;
  leaderImbalanceCheckIntervalSeconds: number;
  controlledShutdownEnable: boolean;
  /**
   * What the properties file and --override set, by Kafka name, in canonical string form.
   * DescribeConfigs reports these as STATIC_BROKER_CONFIG and everything else as a default.
   */
  staticConfigs: ReadonlyMap<string, string>;
  /** What AlterConfigs set at runtime (see withDynamicBrokerConfigs); wins over staticConfigs. */
  dynamicConfigs: ReadonlyMap<string, string>;
  /** Topic-config defaults under topic-level names (retention.ms, segment.bytes, ...). */
  topicDefaults: TopicConfigValues;
}

/** Topic-level configs by their Kafka names, parsed to typed values. */
export interface TopicConfigValues {
  'cleanup.policy': string[];
  'compression.type': string;
  'delete.retention.ms': number;
  'file.delete.delay.ms': number;
  'flush.messages': number;
  'flush.ms': number;
  'index.interval.bytes': number;
  'max.message.bytes': number;
  'message.timestamp.type': 'CreateTime' | 'LogAppendTime';
  'min.cleanable.dirty.ratio': number;
  'min.insync.replicas': number;
  'unclean.leader.election.enable': boolean;
  'retention.bytes': number;
  'retention.ms': number;
  'segment.bytes': number;
  'segment.index.bytes': number;
  'segment.ms': number;
  'sluice.log.append.mode': AppendMode;
  'sluice.log.flush.mode': FlushMode;
  /** Delay of records produced without a delay header; 0 for none. */
  'sluice.delivery.delay.ms': number;
  'compression.gzip.level': number;
  'compression.lz4.level': number;
  'compression.zstd.level': number;
  'follower.replication.throttled.replicas': string[];
  'leader.replication.throttled.replicas': string[];
  'local.retention.bytes': number;
  'local.retention.ms': number;
  'max.compaction.lag.ms': number;
  'message.downconversion.enable': boolean;
  'message.format.version': string;
  'message.timestamp.after.max.ms': number;
  'message.timestamp.before.max.ms': number;
  'message.timestamp.difference.max.ms': number;
  'min.compaction.lag.ms': number;
  preallocate: boolean;
  'remote.log.copy.disable': boolean;
  'remote.log.delete.on.disable': boolean;
  'remote.storage.enable': boolean;
  'segment.jitter.ms': number;
}

export type TopicConfigName = keyof TopicConfigValues;
