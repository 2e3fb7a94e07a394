import type { BrokerConfig, ListenerAddress, TopicConfigValues } from '../config/broker-config.js';
import type { MetadataImage } from '../metadata/image.js';
import type { MetadataStore } from '../metadata/store.js';
import type { DelayedDelivery } from '../delay/delayed-delivery.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { LogManager } from '../storage/log-manager.js';
import type { Router } from './router.js';

/** What request handlers share: configuration, metadata, replicas and logs. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  /** What this broker knows of the cluster, always current. */
  readonly metadata: MetadataImage;
  /** Where metadata changes are written (and then show up in `metadata`). */
  readonly store: MetadataStore;
  readonly partitions: ReplicaManager;
  readonly logs: LogManager;
  readonly router: Router;
  readonly metrics: BrokerMetrics;
  /** Holds records produced for later delivery; absent where nothing may be delayed. */
  readonly delayed?: DelayedDelivery;
  /** The address clients are told to use for this broker. */
  readonly advertised: ListenerAddress;
  /** A topic's effective configuration: its overrides over the broker's defaults. */
  topicConfig(topic: string): TopicConfigValues;
}
