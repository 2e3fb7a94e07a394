import type { ReplicaManager } from '../replication/replica-manager.js';
import type { BrokerConfig, ListenerAddress } from '../config/broker-config.js';
import type { GroupCoordinator } from '../coordinator/group-coordinator.js';
import type { ShareGroupCoordinator } from '../coordinator/share/share-group.js';
import type { ShareGroupConfigs } from '../coordinator/share/share-group-configs.js';
import type { ShareStateStore } from '../coordinator/share/share-state-store.js';
import type { TransactionCoordinator } from '../coordinator/transactions/transaction-coordinator.js';
import type { DelayedDelivery } from '../delay/delayed-delivery.js';
import type { MetadataImage } from '../metadata/image.js';
import type { MetadataStore } from '../metadata/store.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import type { BoundListener } from '../network/socket-server.js';

/**
 * The part of the broker the console reads. Reads go straight to this in-process state, which
 * is always current and costs nothing on the wire; writes go through the Kafka protocol (see
 * broker-writer.ts), so they get every check a client's request gets.
 */
export interface ConsoleBroker {
  readonly config: BrokerConfig;
  readonly metadata: MetadataImage;
  /** Which store the metadata is in, and whether this broker may write now. */
  readonly store: Pick<MetadataStore, 'kind' | 'session'>;
  readonly partitions: ReplicaManager;
  readonly groups: GroupCoordinator;
  readonly transactions: TransactionCoordinator;
  readonly shareGroups: Pick<ShareGroupCoordinator, 'listed' | 'group'>;
  readonly shareStates: Pick<ShareStateStore, 'livePartitions'>;
  readonly shareGroupConfigs: Pick<ShareGroupConfigs, 'source'>;
  readonly delayed: Pick<DelayedDelivery, 'heldByMinute'>;
  readonly metrics: BrokerMetrics;
  /** Bound Kafka listeners, with the ports the system gave. */
  readonly listeners: readonly BoundListener[];
  /** The address clients are told to use, with the bound port when configured as 0. */
  readonly advertised: ListenerAddress;
}
