import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { BrokerConfig, ListenerAddress, TopicConfigValues } from '../config/broker-config.js';
import { listenFailure } from '../config/listeners.js';
import { effectiveTopicConfig, toLogConfig, validateTopicConfigs } from '../config/topic-config.js';
import { consoleRoutes } from '../console/console-routes.js';
import { startHttpServer } from '../console/http-server.js';
import { GroupCoordinator } from '../coordinator/group-coordinator.js';
import { GroupLog } from '../coordinator/group-log.js';
import { OFFSETS_TOPIC } from '../coordinator/offsets-topic-records.js';
import { log } from '../log.js';
import { Controller } from '../metadata/controller.js';
import { EmbeddedMetadataStore } from '../metadata/embedded-store.js';
import { EtcdMetadataStore, parseEtcdUrl } from '../metadata/etcd-store.js';
import type { EndpointImage, MetadataImage } from '../metadata/image.js';
import type { ImageChanges, MetadataStore } from '../metadata/store.js';
import { BrokerMetrics, type PartitionState } from '../metrics/broker-metrics.js';
import { nativeAddon, nativeAddonError } from '../native/addon.js';
import { descriptorLimit } from '../native/descriptor-limit.js';
import { createFileSender } from '../native/file-transfer.js';
import { SocketServer, type BoundListener } from '../network/socket-server.js';
import { brokerQuotas } from '../security/quotas/broker-quotas.js';
import type { QuotaStats } from '../security/quotas/quota-stats.js';
import { openTlsListeners, type TlsListener } from '../security/tls/tls-listener.js';
import { SaslAuthenticators } from '../security/sasl/authenticators.js';
import { AclEnforcer } from '../security/acl/acl-enforcer.js';
import { Authorizer } from '../security/acl/authorizer.js';
import { FollowerFetchers } from '../replication/follower-fetcher.js';
import { ReplicaManager } from '../replication/replica-manager.js';
import { logDescriptors } from '../storage/descriptor-cache.js';
import type { LogConfig } from '../storage/log-config.js';
import { LockedLogDirs, LogManager } from '../storage/log-manager.js';
import type { BrokerContext } from './broker-context.js';
import { processDescriptors } from './descriptor-shares.js';
import { apiVersionsHandler } from './handlers/api-versions.js';
import { withStoredBrokerConfigs } from './handlers/config-resources.js';
import { alterConfigsHandler, describeConfigsHandler, incrementalAlterConfigsHandler } from './handlers/configs.js';
import { createPartitionsHandler } from './handlers/create-partitions.js';
import { createTopicsHandler } from './handlers/create-topics.js';
import { deleteRecordsHandler } from './handlers/delete-records.js';
import { deleteTopicsHandler } from './handlers/delete-topics.js';
import { describeClusterHandler } from './handlers/describe-cluster.js';
import { describeLogDirsHandler } from './handlers/describe-log-dirs.js';
import { describeProducersHandler } from './handlers/describe-producers.js';
import { electLeadersHandler } from './handlers/elect-leaders.js';
import { alterReplicaLogDirsHandler } from './handlers/alter-replica-log-dirs.js';
import { alterClientQuotasHandler, describeClientQuotasHandler } from './handlers/client-quotas.js';
import { saslAuthenticateHandler, saslHandshakeHandler } from './handlers/sasl.js';
import { createAclsHandler, deleteAclsHandler, describeAclsHandler } from './handlers/acls.js';
import { alterUserScramCredentialsHandler, describeUserScramCredentialsHandler } from './handlers/scram-credentials.js';
import { fetchHandler, type FetchAuthorizer } from './handlers/fetch.js';
import {
  deleteGroupsHandler,
  describeGroupsHandler,
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  listGroupsHandler,
  syncGroupHandler,
} from './handlers/groups.js';
import { findCoordinatorHandler } from './handlers/find-coordinator.js';
import { consumerGroupDescribeHandler, consumerGroupHeartbeatHandler } from './handlers/consumer-groups.js';
import { ConsumerGroupCoordinator } from '../coordinator/consumer-group.js';
import { initProducerIdHandler } from './handlers/init-producer-id.js';
import { listOffsetsHandler } from './handlers/list-offsets.js';
import { metadataHandler } from './handlers/metadata.js';
import { offsetCommitHandler, offsetDeleteHandler, offsetFetchHandler } from './handlers/offsets.js';
import { offsetForLeaderEpochHandler } from './handlers/offset-for-leader-epoch.js';
import { alterPartitionReassignmentsHandler, listPartitionReassignmentsHandler } from './handlers/partition-reassignments.js';
import { produceHandler } from './handlers/produce.js';
import { ProducerIdManager } from '../coordinator/transactions/producer-id-manager.js';
import { DelayedDelivery } from '../delay/delayed-delivery.js';
import { TransactionCoordinator } from '../coordinator/transactions/transaction-coordinator.js';
import { TRANSACTION_STATE_TOPIC, TXN_STATE_NAMES } from '../coordinator/transactions/transaction-metadata.js';
import { CoordinatorLog } from '../coordinator/coordinator-log.js';
import { SHARE_STATE_TOPIC } from '../coordinator/share/share-state-log.js';
import { ensureInternalTopic } from './handlers/internal-topics.js';
import { ShareStateStore } from '../coordinator/share/share-state-store.js';
import { ShareDelivery } from './share-delivery.js';
import { ShareDeadLetters } from './share-dead-letters.js';
import { ShareSessions } from './share-sessions.js';
import { FetchSessionCache } from './fetch-sessions.js';
import { shareAcknowledgeHandler, shareFetchHandler } from './handlers/share-fetch.js';
import { readShareGroupStateHandler, remoteShareState, writeShareGroupStateHandler } from './handlers/share-state.js';
import { ShareGroupConfigs } from '../coordinator/share/share-group-configs.js';
import { ShareGroupCoordinator } from '../coordinator/share/share-group.js';
import { isOtherGroup, shareGroupHandlers } from './handlers/share-groups.js';
import type { Partition } from '../replication/partition.js';
import {
  addOffsetsToTxnHandler,
  addPartitionsToTxnHandler,
  describeTransactionsHandler,
  endTxnHandler,
  listTransactionsHandler,
  txnOffsetCommitHandler,
  writeTxnMarkersHandler,
} from './handlers/transactions.js';
import { PeerConnections } from './peer-connections.js';
import { transactionMarkerWriter } from './transaction-markers.js';
import { TransactionVerifier } from './transaction-verification.js';
import { Router } from './router.js';

/** How long a stopping broker lets requests in flight finish. */
const SHUTDOWN_GRACE_MS = 5000;
/** How long a stopping broker waits for its leaderships to move (controlled shutdown). */
const CONTROLLED_SHUTDOWN_MS = 15_000;
/** offsets.retention.check.interval.ms. */
const OFFSETS_RETENTION_CHECK_MS = 600_000;
/** Kafka's offsets.commit.timeout.ms. */
const OFFSETS_COMMIT_TIMEOUT_MS = 5000;
/** How long a transaction state write may wait for the in-sync replicas of __transaction_state. */
const TRANSACTION_WRITE_TIMEOUT_MS = 5000;

/** A topic's effective config: its overrides over the broker's defaults. */
function topicConfigOf(config: BrokerConfig, overrides: Readonly<Record<string, string>>): TopicConfigValues {
  return effectiveTopicConfig(config.topicDefaults, validateTopicConfigs(new Map(Object.entries(overrides))).values);
}

/** advertised.listeners with the ports the system gave listeners bound to port 0. */
function advertisedEndpoints(config: BrokerConfig, bound: readonly BoundListener[]): ListenerAddress[] {
  return config.advertisedListeners.map((a) => (a.port === 0 ? { ...a, port: (bound.find((b) => b.name === a.name) ?? bound[0]).port } : a));
}

/** Each replica's state as a metrics scrape reads it, one at a time as it is taken. */
function* partitionStates(partitions: readonly Partition[]): Generator<PartitionState> {
  for (const p of partitions) {
    yield {
      topic: p.topic,
      partition: p.index,
      size: p.log.size,
      logStartOffset: p.log.logStartOffset,
      logEndOffset: p.log.logEndOffset,
      highWatermark: p.highWatermark,
      leader: p.isLeader,
      underReplicated: p.underReplicated,
      lag: p.lag,
      lastStableOffset: p.lastStableOffset(false),
    };
  }
}

async function openStore(config: BrokerConfig, endpoints: EndpointImage[], dataDir: string): Promise<MetadataStore> {
  const self = { id: config.nodeId, endpoints, rack: config.brokerRack };
  if (config.metadataStore === 'embedded') return EmbeddedMetadataStore.open(dataDir, { ...self, incarnation: randomUUID() });
  const { endpoints: etcd, prefix } = parseEtcdUrl(config.metadataStore);
  return EtcdMetadataStore.open({ endpoints: etcd, prefix, self, sessionTimeoutMs: config.brokerSessionTimeoutMs, dataDir });
}

/**
 * A Kafka-compatible broker: the single node (metadata in its first log directory) or one of a
 * cluster (metadata in etcd). Logs on disk, the replicas this broker holds above them (leading
 * or following), the network layer in front, and a handler per API in between.
 */
export class Broker implements BrokerContext {
  private readonly topicConfigs = new Map<string, TopicConfigValues>();
  readonly partitions: ReplicaManager;
  readonly fetchers: FollowerFetchers;
  readonly controller: Controller | null;
  readonly groups: GroupCoordinator;
  /** KIP-848 consumer groups, beside the classic ones in `groups` (sharing their offsets). */
  readonly consumerGroups: ConsumerGroupCoordinator;
  readonly transactions: TransactionCoordinator;
  /** Share groups' share-partitions (KIP-932) and their state on __share_group_state. */
  readonly shareStates: ShareStateStore;
  readonly shareDelivery: ShareDelivery;
  readonly shareSessions = new ShareSessions();
  /** Consumers' and followers' incremental fetch sessions (KIP-227). */
  readonly fetchSessions: FetchSessionCache;
  private readonly shareDeadLetters: ShareDeadLetters;
  /** Share groups' membership and assignment (KIP-932), on __consumer_offsets beside the other groups. */
  readonly shareGroups: ShareGroupCoordinator;
  /** Share groups' configs: their own (GROUP resources) over the broker's group.share.*. */
  readonly shareGroupConfigs: ShareGroupConfigs;
  private readonly peers: PeerConnections;
  readonly metrics: BrokerMetrics;
  /** Records produced for later delivery, held until due (docs/queues.md). */
  readonly delayed: DelayedDelivery;
  private http: FastifyInstance | null = null;
  /** The web console's port, once it listens (null when sluice.console.listener is empty). */
  consolePort: number | null = null;
  private started = false;
  config: BrokerConfig;

  private constructor(
    /** The configuration from the properties file and overrides: dynamic configs go over it. */
    private readonly staticConfig: BrokerConfig,
    readonly logs: LogManager,
    readonly store: MetadataStore,
    readonly router: Router,
    private readonly server: SocketServer,
    readonly listeners: BoundListener[],
    readonly advertisedListeners: ListenerAddress[],
    private readonly quotaStats: QuotaStats,
  ) {
    this.config = withStoredBrokerConfigs(staticConfig, store.image.brokerConfigs);
    this.fetchSessions = new FetchSessionCache(staticConfig.maxIncrementalFetchSessionCacheSlots, staticConfig.fetchSessionCacheMaxPartitions);
    // First, so that what reads configs after a change finds the new ones.
    store.onChange((c) => this.onImageChange(c));
    this.partitions = new ReplicaManager({
      nodeId: staticConfig.nodeId,
      store,
      logs,
      logConfigFor: (_topic, overrides) => toLogConfig(topicConfigOf(this.config, overrides), this.config),
      replicaLagTimeMaxMs: staticConfig.replicaLagTimeMaxMs,
    });
    this.fetchers = new FollowerFetchers({
      nodeId: staticConfig.nodeId,
      store,
      listenerName: staticConfig.interBrokerListenerName ?? advertisedListeners[0].name,
      waitMaxMs: staticConfig.replicaFetchWaitMaxMs,
      minBytes: staticConfig.replicaFetchMinBytes,
      partitionMaxBytes: staticConfig.replicaFetchMaxBytes,
      responseMaxBytes: staticConfig.replicaFetchResponseMaxBytes,
      backoffMs: staticConfig.replicaFetchBackoffMs,
    });
    this.controller =
      store.kind === 'etcd'
        ? new Controller(store, {
            nodeId: staticConfig.nodeId,
            uncleanElection: (topic) => this.topicConfig(topic)['unclean.leader.election.enable'],
            autoLeaderRebalance: staticConfig.autoLeaderRebalanceEnable,
            rebalanceIntervalMs: staticConfig.leaderImbalanceCheckIntervalSeconds * 1000,
          })
        : null;
    this.groups = new GroupCoordinator(
      {
        initialRebalanceDelayMs: staticConfig.groupInitialRebalanceDelayMs,
        minSessionTimeoutMs: staticConfig.groupMinSessionTimeoutMs,
        maxSessionTimeoutMs: staticConfig.groupMaxSessionTimeoutMs,
        offsetsRetentionMs: staticConfig.offsetsRetentionMs,
      },
      new GroupLog(this.partitions, OFFSETS_COMMIT_TIMEOUT_MS),
    );
    this.consumerGroups = new ConsumerGroupCoordinator(
      {
        assignors: staticConfig.groupConsumerAssignors,
        sessionTimeoutMs: staticConfig.groupConsumerSessionTimeoutMs,
        heartbeatIntervalMs: staticConfig.groupConsumerHeartbeatIntervalMs,
        migrationPolicy: staticConfig.groupConsumerMigrationPolicy,
      },
      this.groups.store,
      { allTopics: () => this.metadata.allTopics(), topic: (n) => this.metadata.topic(n), topicById: (id) => this.metadata.topicById(id) },
      (groupId) => this.groups.coordinatorError(groupId),
      this.groups,
    );
    this.groups.consumerGroups = this.consumerGroups;
    this.peers = new PeerConnections(this, `sluice-broker-${staticConfig.nodeId}`);
    const producerIds = new ProducerIdManager(store);
    const txnLog = new CoordinatorLog(this.partitions, TRANSACTION_STATE_TOPIC, TRANSACTION_WRITE_TIMEOUT_MS);
    this.transactions = new TransactionCoordinator(txnLog, producerIds, transactionMarkerWriter(this, this.groups, txnLog, this.peers), {
      maxTimeoutMs: staticConfig.transactionMaxTimeoutMs,
      idExpirationMs: staticConfig.transactionalIdExpirationMs,
      abortCheckIntervalMs: staticConfig.transactionAbortTimedOutTransactionCleanupIntervalMs,
    });
    this.shareGroupConfigs = new ShareGroupConfigs(() => this.config, (groupId) => this.metadata.groupConfigs.get(groupId) ?? {});
    const shareConfig = this.shareGroupConfigs.source;
    this.shareStates = new ShareStateStore(new CoordinatorLog(this.partitions, SHARE_STATE_TOPIC, OFFSETS_COMMIT_TIMEOUT_MS), shareConfig);
    this.shareStates.remote = remoteShareState(this, this.peers);
    this.shareStates.createTopic = () => ensureInternalTopic(this, SHARE_STATE_TOPIC);
    this.shareDelivery = new ShareDelivery(this, this.shareStates, shareConfig, () => this.config.groupSharePartitionMaxRecordLocks);
    this.shareDeadLetters = new ShareDeadLetters(this, shareConfig);
    this.shareStates.deadLetters = (key, letters, recovering) => this.shareDeadLetters.write(key, letters, recovering);
    this.shareGroups = new ShareGroupCoordinator(
      { maxSize: () => this.config.groupShareMaxSize, timeouts: (groupId) => this.shareGroupConfigs.timeouts(groupId) },
      this.groups.store,
      { allTopics: () => this.metadata.allTopics(), topic: (n) => this.metadata.topic(n), topicById: (id) => this.metadata.topicById(id) },
      { coordinatorError: (groupId) => this.groups.coordinatorError(groupId), exists: (groupId) => isOtherGroup(this.groups, groupId) },
      this.shareStates,
    );
    this.groups.shareGroups = this.shareGroups;
    this.shareGroups.onMemberRemoved = (groupId, memberId) => {
      const session = this.shareSessions.drop(groupId, memberId);
      if (session) this.shareDelivery.release(groupId, memberId, session.partitions.values());
    };
    // A coordinator goes with the leadership of its internal topic's partition.
    const coordinators = new Map<string, { loadPartition(p: Partition): void; unloadPartition(index: number): void }>([
      [OFFSETS_TOPIC, this.groups],
      [TRANSACTION_STATE_TOPIC, this.transactions],
      [SHARE_STATE_TOPIC, this.shareStates],
    ]);
    this.partitions.onRoleChange((p, before) => {
      if (before === 'leader' && p.role !== 'leader') {
        const topicId = this.metadata.topic(p.topic)?.id;
        if (topicId !== undefined) this.shareStates.dropTopicPartition(topicId, p.index);
      }
      const coordinator = coordinators.get(p.topic);
      if (!coordinator) return;
      if (p.role === 'leader') coordinator.loadPartition(p);
      else if (before === 'leader') coordinator.unloadPartition(p.index);
    });
    this.metrics = new BrokerMetrics({
      partitions: () => partitionStates(this.partitions.all()),
      transactionStates: () => this.transactions.all().map((md) => TXN_STATE_NAMES[md.state]),
      sharePartitions: () =>
        this.shareStates.livePartitions().map(({ key, sp }) => ({
          group: key.groupId,
          topic: this.metadata.topicById(key.topicId)?.name ?? key.topicId,
          partition: key.partition,
          startOffset: sp.startOffset,
          ...sp.counts(),
        })),
      deadLetters: () => this.shareDeadLetters.written,
      fetchSessions: () => ({ sessions: this.fetchSessions.size, partitions: this.fetchSessions.partitionCount, evictions: this.fetchSessions.evictions, requests: this.fetchSessions.requests }),
      offline: () => ({ partitions: this.partitions.offlineCount(), logDirs: this.logs.offlineDirs().size }),
      committedOffsets: () =>
        this.groups.allGroups().flatMap((g) => [...g.offsets.values()].map((o) => ({ group: g.groupId, topic: o.topic, partition: o.partition, offset: o.offset }))),
      controller: () => ({
        active: this.controller?.stats.active ?? true,
        offlinePartitions: this.offlinePartitionsInCluster(),
        uncleanElections: this.controller?.stats.uncleanElections ?? 0,
        elections: this.controller?.stats.elections ?? 0,
      }),
      isrChanges: () => this.partitions.isrChanges,
      quotas: () => this.quotaStats,
    });
    this.router.observe = (api) => this.metrics.startRequest(api);
    const sasl = new SaslAuthenticators(
      () => this.config,
      () => this.metadata,
      (listener, mechanism, succeeded) => this.metrics.authentication(listener, mechanism, succeeded),
    );
    this.router.authenticatorFor = (connection) => sasl.sessionFor(connection);
    const authorizer = new Authorizer(
      () => this.metadata.acls,
      () => ({ enabled: this.config.authorizerClassName !== '', superUsers: this.config.superUsers, allowEveryoneIfNoAclFound: this.config.allowEveryoneIfNoAclFound }),
    );
    authorizer.onDenied = (resourceType, operation) => this.metrics.authorizationDenied(resourceType, operation);
    const enforcer = new AclEnforcer(authorizer, {
      metadata: () => this.metadata,
      autoCreateTopics: () => this.config.autoCreateTopicsEnable,
    });
    this.router.authorize = (api, request, ctx, serve) => enforcer.enforce(api, request, ctx, serve);
    const fetchAllowed: FetchAuthorizer = (connection, topic, follower) => enforcer.fetchAllowed(connection, topic, follower);
    this.delayed = DelayedDelivery.open(this, () => producerIds.nextProducerId());
    this.router.register(
      apiVersionsHandler(this),
      metadataHandler(this),
      produceHandler(this, new TransactionVerifier(this, this.transactions, this.peers)),
      fetchHandler(this, this.fetchSessions, fetchAllowed),
      listOffsetsHandler(this),
      offsetForLeaderEpochHandler(this),
      initProducerIdHandler(producerIds, this.transactions),
      addPartitionsToTxnHandler(this, this.transactions),
      addOffsetsToTxnHandler(this, this.transactions),
      endTxnHandler(this.transactions),
      writeTxnMarkersHandler(this, this.groups, txnLog),
      txnOffsetCommitHandler(this, this.groups),
      describeTransactionsHandler(this.transactions),
      listTransactionsHandler(this.transactions),
      describeProducersHandler(this),
      findCoordinatorHandler(this),
      joinGroupHandler(this.groups),
      syncGroupHandler(this.groups),
      heartbeatHandler(this.groups),
      leaveGroupHandler(this.groups),
      describeGroupsHandler(this.groups),
      listGroupsHandler(this.groups),
      deleteGroupsHandler(this.groups),
      consumerGroupHeartbeatHandler(this.consumerGroups, (groupId) => this.shareGroups.has(groupId)),
      consumerGroupDescribeHandler(this.consumerGroups, this.groups),
      // Kafka leaves the share group APIs out of ApiVersions while they are off.
      ...(staticConfig.groupShareEnable
        ? [
            ...shareGroupHandlers(this.shareGroups, this.groups, () => this.metadata),
            shareFetchHandler(this, this.shareDelivery, this.shareSessions, fetchAllowed),
            shareAcknowledgeHandler(this, this.shareDelivery, this.shareSessions),
      readShareGroupStateHandler(this.shareStates),
      writeShareGroupStateHandler(this.shareStates),
          ]
        : []),
      offsetCommitHandler(this, this.groups),
      offsetFetchHandler(this.groups),
      offsetDeleteHandler(this.groups),
      createTopicsHandler(this),
      deleteTopicsHandler(this),
      createPartitionsHandler(this),
      deleteRecordsHandler(this),
      describeConfigsHandler(this),
      alterConfigsHandler(this),
      incrementalAlterConfigsHandler(this),
      describeClusterHandler(this),
      describeLogDirsHandler(this),
      alterReplicaLogDirsHandler(this),
      electLeadersHandler(this),
      alterPartitionReassignmentsHandler(this),
      listPartitionReassignmentsHandler(this),
      saslHandshakeHandler(),
      saslAuthenticateHandler(),
      describeUserScramCredentialsHandler(this),
      alterUserScramCredentialsHandler(this),
      describeClientQuotasHandler(this),
      alterClientQuotasHandler(this),
      createAclsHandler(this, authorizer),
      describeAclsHandler(this, authorizer),
      deleteAclsHandler(this, authorizer),
    );
  }

  /** What this broker knows of the cluster. */
  get metadata(): MetadataImage {
    return this.store.image;
  }

  /** The address clients are told to use for this broker: its first advertised listener. */
  get advertised(): ListenerAddress {
    return this.advertisedListeners[0];
  }

  /**
   * Starts the broker: binds its listeners (so it can register their ports), joins the
   * metadata (embedded, or the cluster in etcd), opens the log directories (recovering after an
   * unclean stop), takes its replicas, and then serves.
   */
  static async start(config: BrokerConfig): Promise<Broker> {
    const descriptors = descriptorLimit();
    processDescriptors.configure(descriptors.soft, config.logMaxOpenFiles);
    log.info(
      { limit: descriptors.soft, hardLimit: descriptors.hard, logFiles: logDescriptors.budget, sockets: Number.isFinite(processDescriptors.maxSockets) ? processDescriptors.maxSockets : 'unlimited' },
      'file descriptors: the logs keep at most logFiles open, closing idle ones and reopening them on demand, and fewer as sockets need the room; sockets past that many are refused',
    );
    const locked = LockedLogDirs.lock(config.logDirs);
    const router = new Router();
    // Read through `broker` and `store`, which exist once started: the settings in force then (dynamic ones included).
    const quotas = brokerQuotas(() => broker?.config ?? config, () => store?.image ?? null);
    const sender = createFileSender(config.fetchTransfer);
    let tls: Map<string, TlsListener>;
    try {
      tls = openTlsListeners(config);
    } catch (e) {
      locked.release();
      throw e;
    }
    if (tls.size > 0 && sender.mode === 'sendfile') {
      log.info({ listeners: [...tls.keys()] }, 'fetch responses on TLS listeners are copied through the process, which encrypts them; other listeners keep sendfile');
    }
    const server = new SocketServer(
      router,
      sender,
      {
        maxFrameBytes: config.socketRequestMaxBytes,
        maxInFlight: config.queuedMaxRequests,
        idleTimeoutMs: config.connectionsMaxIdleMs,
        frameTimeoutMs: config.requestFrameTimeoutMs,
      },
      config.maxConnections,
      quotas.limiter,
      processDescriptors,
    );
    let store: MetadataStore | null = null;
    let logs: LogManager | null = null;
    let broker: Broker | null = null;
    router.quotas = quotas.enforcement;
    try {
      const listeners = await server.listen(config.listeners.map((l) => ({ ...l, tls: tls.get(l.name) })));
      const advertised = advertisedEndpoints(config, listeners);
      const opened = await openStore(config, advertised, locked.dirs[0]);
      store = opened;
      const startConfig = withStoredBrokerConfigs(config, opened.image.brokerConfigs);
      logs = LogManager.open(
        {
          logDirs: config.logDirs,
          // Every log opens with its topic's config: a mapped active segment is sized by it.
          configFor: (topic) => (broker ? broker.logConfig(topic) : toLogConfig(topicConfigOf(startConfig, opened.image.topic(topic)?.configs ?? {}), startConfig)),
          retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
          checkpointIntervalMs: config.logFlushOffsetCheckpointIntervalMs,
          cleanerBackoffMs: config.logCleanerBackoffMs,
          highWatermarkOf: (topic, partition) => broker?.partitions.get(topic, partition)?.highWatermark,
          cleanableEndOf: (topic, partition) => broker?.partitions.get(topic, partition)?.lastStableOffset(true),
        },
        locked,
      );
      broker = new Broker(config, logs, opened, router, server, listeners, advertised, quotas.stats);
      broker.groups.start(OFFSETS_RETENTION_CHECK_MS);
      broker.transactions.start();
      broker.partitions.start(broker.fetchers);
      broker.delayed.start();
      broker.controller?.start();
      server.serve();
      log.info(
        {
          nodeId: config.nodeId,
          clusterId: opened.image.clusterId,
          metadataStore: opened.kind === 'embedded' ? 'embedded' : config.metadataStore,
          listeners: listeners.map((l) => `${l.name}://${l.host}:${l.port}`),
          logDirs: config.logDirs,
          topics: opened.image.allTopics().length,
          fetchTransfer: sender.mode,
          nativeAddon: nativeAddon ? 'loaded' : `not in use: ${nativeAddonError}`,
        },
        'broker started',
      );
      await broker.startConsole();
      broker.started = true;
      return broker;
    } catch (e) {
      if (broker) await broker.stop();
      else {
        await server.close(0);
        if (logs) await logs.close();
        else locked.release();
        await store?.close();
      }
      throw e;
    }
  }

  /** The console is optional: an address it cannot take is said in the log, and Kafka is served anyway. */
  private async startConsole(): Promise<void> {
    const where = this.config.consoleListener;
    if (!where) return;
    try {
      const { app, port } = await startHttpServer(where.host, where.port, {
        metrics: this.metrics,
        ready: () => this.started,
        health: () => this.health(),
        routes: consoleRoutes(this, where.host),
      });
      this.http = app;
      this.consolePort = port;
    } catch (e) {
      const why = listenFailure(e);
      if (!why) throw e;
      log.warn(`the web console and /metrics are off: sluice.console.listener ${why}`);
    }
  }

  /** What /health says beside "ok": the metadata store's reach and this broker's registration. */
  private health(): Record<string, unknown> {
    const session = this.store.session();
    return { metadataStore: this.store.kind, connected: session.connected, writable: session.valid, reason: session.reason };
  }

  private onImageChange(c: ImageChanges): void {
    for (const t of c.topics) this.topicConfigs.delete(t);
    for (const t of c.deleted) this.topicConfigs.delete(t.name);
    if (c.brokerConfigs) {
      // New dynamic broker configs: every topic's defaults, and so its logs, follow.
      this.config = withStoredBrokerConfigs(this.staticConfig, this.store.image.brokerConfigs);
      this.topicConfigs.clear();
      for (const t of this.store.image.allTopics()) this.logs.reconfigure(t.name);
    }
  }

  topicConfig(topic: string): TopicConfigValues {
    let c = this.topicConfigs.get(topic);
    if (!c) {
      c = topicConfigOf(this.config, this.store.image.topic(topic)?.configs ?? {});
      this.topicConfigs.set(topic, c);
    }
    return c;
  }

  private logConfig(topic: string): LogConfig {
    return toLogConfig(this.topicConfig(topic), this.config);
  }

  /** Partitions of the cluster with no leader (the controller's count in Kafka). */
  private offlinePartitionsInCluster(): number {
    let n = 0;
    for (const t of this.store.image.allTopics()) for (const p of t.partitions) if (p.leader < 0) n++;
    return n;
  }

  /**
   * Kafka's controlled shutdown: the broker says it is stopping, the controller moves its
   * leaderships to other in-sync replicas and takes it out of the ISRs, and only then does it
   * stop serving, so producers see at most retriable errors.
   */
  private async controlledShutdown(): Promise<void> {
    try {
      await this.store.announceShutdown();
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'could not announce the shutdown: stopping without handing leaderships over');
      return;
    }
    const deadline = Date.now() + CONTROLLED_SHUTDOWN_MS;
    // Leadership can only go to an in-sync replica that serves: when the others stop too, there is nothing to wait for.
    const handedOver = (): boolean => {
      const serving = new Set(this.store.image.availableBrokers().map((b) => b.id));
      return !this.partitions.all().some((p) => p.isLeader && p.isr.some((id) => id !== this.config.nodeId && serving.has(id)));
    };
    while (!handedOver() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (!handedOver()) log.warn('leaderships were not all handed over in time: stopping anyway');
    else log.info('leaderships handed over');
  }

  /** Finishes requests in flight, hands leaderships over, flushes every log, writes checkpoints and the clean-shutdown marker. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.store.kind === 'etcd' && this.staticConfig.controlledShutdownEnable) await this.controlledShutdown();
    await this.http?.close();
    await this.server.close(SHUTDOWN_GRACE_MS);
    await this.delayed.stop();
    this.controller?.stop();
    await this.fetchers.close();
    this.partitions.stop();
    this.groups.close();
    this.shareStates.close();
    this.transactions.close();
    this.peers.close();
    await this.logs.close();
    await this.store.close();
    log.info({ nodeId: this.staticConfig.nodeId }, 'broker stopped');
  }
}
