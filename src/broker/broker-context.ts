import type { BrokerConfig, ListenerAddress, TopicConfigValues } from '../config/broker-config.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionManager } from './partition-manager.js';
import type { Router } from './router.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';

/** What request handlers share: configuration, metadata, partitions and logs. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly metadata: MetadataStore;
  readonly partitions: PartitionManager;
  readonly logs: LogManager;
  readonly router: Router;
  readonly metrics: BrokerMetrics;
  /** The address clients are told to use for this broker. */
  readonly advertised: ListenerAddress;
  /** A topic's effective configuration: its overrides over the broker's defaults. */
  topicConfig(topic: string): TopicConfigValues;
  /** Must be called when a topic's overrides change or the topic goes. */
  topicConfigChanged(topic: string): void;
  /** Replaces `config` after AlterConfigs changed the dynamic broker configs. */
  brokerConfigChanged(config: BrokerConfig): void;
}
