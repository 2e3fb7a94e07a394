import type { BrokerConfig, ListenerAddress, TopicConfigValues } from '../config/broker-config.js';
import { listenFailure } from '../config/listeners.js';
import { effectiveTopicConfig, toLogConfig, validateTopicConfigs } from '../config/topic-config.js';
import { log } from '../log.js';
import { MetadataStore } from '../metadata/metadata-store.js';
import { nativeAddon, nativeAddonError } from '../native/addon.js';
import { createFileSender } from '../native/file-transfer.js';
import { SocketServer, type BoundListener } from '../network/socket-server.js';
import type { LogConfig } from '../storage/log-config.js';
import { LogManager } from '../storage/log-manager.js';
import { descriptorBudget, logDescriptors } from '../storage/descriptor-cache.js';
import { descriptorLimit } from '../native/descriptor-limit.js';
import type { BrokerContext } from './broker-context.js';
import { apiVersionsHandler } from './handlers/api-versions.js';
import { withStoredBrokerConfigs } from './handlers/config-resources.js';
import { alterConfigsHandler, describeConfigsHandler, incrementalAlterConfigsHandler } from './handlers/configs.js';
import { createPartitionsHandler } from './handlers/create-partitions.js';
import { createTopicsHandler } from './handlers/create-topics.js';
import { deleteRecordsHandler } from './handlers/delete-records.js';
import { deleteTopicsHandler } from './handlers/delete-topics.js';
import { describeClusterHandler } from './handlers/describe-cluster.js';
import { describeLogDirsHandler } from './handlers/describe-log-dirs.js';
import { fetchHandler } from './handlers/fetch.js';
import { listOffsetsHandler } from './handlers/list-offsets.js';
import { metadataHandler } from './handlers/metadata.js';
import { produceHandler } from './handlers/produce.js';
import { describeProducersHandler } from './handlers/describe-producers.js';
import { initProducerIdHandler } from './handlers/init-producer-id.js';
import { ProducerIdManager } from './producers/producer-id-manager.js';
import { PartitionManager } from './partition-manager.js';
import { GroupCoordinator } from '../coordinator/group-coordinator.js';
import { GroupLog } from '../coordinator/group-log.js';
import {
  deleteGroupsHandler,
  describeGroupsHandler,
  findCoordinatorHandler,
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  listGroupsHandler,
  syncGroupHandler,
} from './handlers/groups.js';
import { offsetCommitHandler, offsetDeleteHandler, offsetFetchHandler } from './handlers/offsets.js';
import { Router } from './router.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { startHttpServer } from '../console/http-server.js';
import { consoleRoutes } from '../console/console-routes.js';
import type { FastifyInstance } from 'fastify';

/** How long a stopping broker lets requests in flight finish. */
const SHUTDOWN_GRACE_MS = 5000;
/** Kafka's offsets.topic.segment.bytes default. */
const OFFSETS_TOPIC_SEGMENT_BYTES = 100 * 1024 * 1024;
/** offsets.retention.check.interval.ms. */
const OFFSETS_RETENTION_CHECK_MS = 600_000;

/** A topic's effective config: its stored overrides over the broker's defaults. */
function topicConfigOf(config: BrokerConfig, metadata: MetadataStore, topic: string): TopicConfigValues {
  const overrides = metadata.topic(topic)?.configs ?? {};
  return effectiveTopicConfig(config.topicDefaults, validateTopicConfigs(new Map(Object.entries(overrides))).values);
}

/**
 * A single-node Kafka-compatible broker: logs on disk, metadata beside them, the network
 * layer in front, and a handler per API in between.
 */
export class Broker implements BrokerContext {
  readonly router = new Router();
  private readonly topicConfigs = new Map<string, TopicConfigValues>();
  private server: SocketServer | null = null;
  listeners: BoundListener[] = [];
  advertised: ListenerAddress;
  readonly partitions: PartitionManager;
  readonly groups: GroupCoordinator;
  readonly metrics: BrokerMetrics;
  private http: FastifyInstance | null = null;
  /** The web console's port, once it listens (null when sluice.console.listener is empty). */
  consolePort: number | null = null;
  private started = false;

  private constructor(
    public config: BrokerConfig,
    readonly logs: LogManager,
    readonly metadata: MetadataStore,
  ) {
    this.advertised = config.advertisedListeners[0];
    this.partitions = new PartitionManager(metadata, logs);
    const groupLog = new GroupLog(
      this.partitions,
      { partitions: config.offsetsTopicNumPartitions, configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(OFFSETS_TOPIC_SEGMENT_BYTES) } },
      (name, partitions, configs) => this.partitions.createTopic(name, partitions, configs),
    );
    this.groups = new GroupCoordinator(
      {
        initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
        minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
        maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
        offsetsRetentionMs: config.offsetsRetentionMs,
      },
      groupLog,
    );
    this.metrics = new BrokerMetrics({
      partitions: () =>
        this.partitions.all().map((p) => ({
          topic: p.topic,
          partition: p.index,
          size: p.log.size,
          logStartOffset: p.log.logStartOffset,
          logEndOffset: p.log.logEndOffset,
          highWatermark: p.highWatermark,
        })),
      offline: () => ({ partitions: this.partitions.offlineCount(), logDirs: this.logs.offlineDirs().size }),
      committedOffsets: () =>
        this.groups.allGroups().flatMap((g) => [...g.offsets.values()].map((o) => ({ group: g.groupId, topic: o.topic, partition: o.partition, offset: o.offset }))),
    });
    this.router.observe = (api) => this.metrics.startRequest(api);
    this.router.register(
      apiVersionsHandler(this),
      metadataHandler(this),
      produceHandler(this),
      fetchHandler(this),
      listOffsetsHandler(this),
      initProducerIdHandler(new ProducerIdManager(config.logDirs[0])),
      describeProducersHandler(this),
      findCoordinatorHandler(this),
      joinGroupHandler(this.groups),
      syncGroupHandler(this.groups),
      heartbeatHandler(this.groups),
      leaveGroupHandler(this.groups),
      describeGroupsHandler(this.groups),
      listGroupsHandler(this.groups),
      deleteGroupsHandler(this.groups),
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
    );
  }

  /** Opens the data directories (recovering after an unclean stop) and starts listening. */
  static async start(config: BrokerConfig): Promise<Broker> {
    const descriptors = descriptorLimit();
    logDescriptors.limit = descriptorBudget(descriptors.soft, config.logMaxOpenFiles);
    log.info(
      { limit: descriptors.soft, hardLimit: descriptors.hard, logFiles: logDescriptors.limit },
      'file descriptors: the logs keep at most logFiles open, closing idle ones and reopening them on demand',
    );
    let broker: Broker | null = null;
    // The metadata is read once the log directories are locked (on the first log loaded), and
    // every log opens with its topic's config: a mapped active segment is sized by it.
    let stored: { metadata: MetadataStore; config: BrokerConfig } | null = null;
    const image = (): { metadata: MetadataStore; config: BrokerConfig } => {
      if (!stored) {
        const metadata = MetadataStore.open(config.logDirs[0], config.nodeId);
        stored = { metadata, config: withStoredBrokerConfigs(config, metadata.brokerConfigs) };
      }
      return stored;
    };
    const logs = LogManager.open({
      logDirs: config.logDirs,
      configFor: (topic) => {
        if (broker) return broker.logConfig(topic);
        const { metadata, config: effective } = image();
        return toLogConfig(topicConfigOf(effective, metadata, topic), effective);
      },
      retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
      checkpointIntervalMs: config.logFlushOffsetCheckpointIntervalMs,
      cleanerBackoffMs: config.logCleanerBackoffMs,
      // Records above the high watermark may still be truncated away: never clean past it.
      cleanableEnd: (topic, partition, log) => broker?.partitions.get(topic, partition)?.highWatermark ?? log.recoveryPoint,
    });
    try {
      const { metadata, config: effective } = image();
      broker = new Broker(effective, logs, metadata);
      broker.groups.load(OFFSETS_RETENTION_CHECK_MS);
      await broker.listen();
      await broker.startConsole();
      broker.started = true;
      return broker;
    } catch (e) {
      await broker?.stop();
      if (!broker) await logs.close();
      throw e;
    }
  }

  private async listen(): Promise<void> {
    const sender = createFileSender(this.config.fetchTransfer);
    this.server = new SocketServer(
      this.router,
      sender,
      {
        maxFrameBytes: this.config.socketRequestMaxBytes,
        maxInFlight: this.config.queuedMaxRequests,
        idleTimeoutMs: this.config.connectionsMaxIdleMs,
      },
      this.config.maxConnections,
    );
    this.listeners = await this.server.listen(this.config.listeners);
    // A listener on port 0 got a port from the system: advertise that one.
    const first = this.listeners[0];
    if (this.advertised.port === 0) this.advertised = { ...this.advertised, port: first.port };
    log.info(
      {
        nodeId: this.config.nodeId,
        clusterId: this.metadata.clusterId,
        listeners: this.listeners.map((l) => `${l.name}://${l.host}:${l.port}`),
        logDirs: this.config.logDirs,
        topics: this.metadata.allTopics().length,
        fetchTransfer: sender.mode,
        nativeAddon: nativeAddon ? 'loaded' : `not in use: ${nativeAddonError}`,
      },
      'broker started',
    );
  }

  /** The console is optional: an address it cannot take is said in the log, and Kafka is served anyway. */
  private async startConsole(): Promise<void> {
    const where = this.config.consoleListener;
    if (!where) return;
    try {
      const { app, port } = await startHttpServer(where.host, where.port, { metrics: this.metrics, ready: () => this.started, routes: consoleRoutes(this, where.host) });
      this.http = app;
      this.consolePort = port;
    } catch (e) {
      const why = listenFailure(e);
      if (!why) throw e;
      log.warn(`the web console and /metrics are off: sluice.console.listener ${why}`);
    }
  }

  topicConfig(topic: string): TopicConfigValues {
    let c = this.topicConfigs.get(topic);
    if (!c) {
      c = topicConfigOf(this.config, this.metadata, topic);
      this.topicConfigs.set(topic, c);
    }
    return c;
  }

  /** Forgets a topic's cached config after its overrides change or it is deleted. */
  topicConfigChanged(topic: string): void {
    this.topicConfigs.delete(topic);
  }

  /** Puts new dynamic broker configs in force: every topic's defaults, and so its logs, follow. */
  brokerConfigChanged(config: BrokerConfig): void {
    this.config = config;
    this.topicConfigs.clear();
    for (const t of this.metadata.allTopics()) this.logs.reconfigure(t.name);
  }

  private logConfig(topic: string): LogConfig {
    return toLogConfig(this.topicConfig(topic), this.config);
  }

  /** Finishes requests in flight, flushes every log, writes checkpoints and the clean-shutdown marker. */
  async stop(): Promise<void> {
    this.started = false;
    await this.http?.close();
    await this.server?.close(SHUTDOWN_GRACE_MS);
    this.groups.close();
    await this.logs.close();
    log.info({ nodeId: this.config.nodeId }, 'broker stopped');
  }
}
