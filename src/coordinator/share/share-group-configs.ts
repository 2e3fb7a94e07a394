/**
 * Group configs (ConfigResource type GROUP) of share groups: Kafka's `share.*` names, Sluice's
 * retry ladder and KIP-1191's dead-letter topic name. They are kept with the cluster metadata
 * (MetadataImage.groupConfigs), so every broker reads the same, and fall back to the broker's
 * group.share.* settings where Kafka has a broker-wide value.
 */
import type { BrokerConfig } from '../../config/broker-config.js';
import { ConfigSource, type DescribedConfig, type DescribeOptions } from '../../config/describe-configs.js';
import { between, int, listOf, oneOf, ok, bad, string, type ValueType } from '../../config/value-types.js';
import type { ShareGroupConfig, ShareGroupConfigSource } from './share-group-config.js';

interface GroupConfigDef<T> {
  readonly name: string;
  readonly type: ValueType<T>;
  /** The value while the group does not set it: the broker's, or Kafka's default. */
  fallback(broker: BrokerConfig): T;
  /** Checks a value against the broker's bounds; `isTopic` tells whether a topic name is usable. */
  validate?(value: T, broker: BrokerConfig, isTopic: TopicCheck): string | undefined;
  readonly doc: string;
}

/** Why a topic cannot take dead letters, or undefined. */
export type TopicCheck = (name: string) => string | undefined;

const def = <T>(d: GroupConfigDef<T>): GroupConfigDef<unknown> => d as GroupConfigDef<unknown>;

const nonNegativeMs = (raw: string) => {
  const n = Number(raw);
  return /^\d+$/.test(raw) && Number.isSafeInteger(n) ? ok(n) : bad<number>('expected a non-negative number of milliseconds');
};

/** The ladder's entries, the last one repeated for later deliveries. */
const msLadder = listOf(nonNegativeMs, String);

const GROUP_CONFIG_DEFS: ReadonlyMap<string, GroupConfigDef<unknown>> = new Map(
  [
    def({
      name: 'share.auto.offset.reset',
      // Kafka's by_duration:<ISO duration> is not served: refused as any unknown value is.
      type: oneOf(['latest', 'earliest']),
      fallback: () => 'latest',
      doc: 'Where a share-partition with no state starts: latest or earliest.',
    }),
    def({
      name: 'share.record.lock.duration.ms',
      type: int,
      fallback: (b) => b.groupShareRecordLockDurationMs,
      validate: (v, b) => between(b.groupShareMinRecordLockDurationMs, b.groupShareMaxRecordLockDurationMs)(v),
      doc: 'How long a consumer holds acquired records before they are offered again (within group.share.min/max.record.lock.duration.ms).',
    }),
    def({
      name: 'share.isolation.level',
      type: oneOf(['read_uncommitted', 'read_committed']),
      fallback: () => 'read_uncommitted',
      doc: 'read_committed delivers records of committed transactions only, up to the last stable offset.',
    }),
    def({
      name: 'share.session.timeout.ms',
      type: int,
      fallback: (b) => b.groupShareSessionTimeoutMs,
      validate: (v) => (v >= 1 ? undefined : 'expected at least 1'),
      doc: 'How long a member may go without heartbeating before it is removed.',
    }),
    def({
      name: 'share.heartbeat.interval.ms',
      type: int,
      fallback: (b) => b.groupShareHeartbeatIntervalMs,
      validate: (v) => (v >= 1 ? undefined : 'expected at least 1'),
      doc: 'How often members are told to heartbeat.',
    }),
    def({
      name: 'share.delivery.count.limit',
      type: int,
      fallback: (b) => b.groupShareDeliveryCountLimit,
      validate: between(2, 10),
      doc: 'Deliveries of a record before it is archived, or dead-lettered when errors.deadletterqueue.topic.name is set.',
    }),
    def({
      name: 'sluice.share.retry.backoff.ms',
      type: msLadder,
      fallback: () => [],
      doc: 'How long a released or lock-expired record waits before its next delivery, by delivery count, the last entry repeating (e.g. 1000,5000,30000); empty: at once, as Kafka.',
    }),
    def({
      name: 'errors.deadletterqueue.topic.name',
      type: string,
      fallback: () => '',
      validate: (v, _b, isTopic) => (v === '' ? undefined : isTopic(v)),
      doc: 'The topic rejected records and those past share.delivery.count.limit are written to (KIP-1191); empty: they are archived only.',
    }),
  ].map((d) => [d.name, d]),
);

/** Whether a group config holds a list, the only kind APPEND and SUBTRACT work on: the retry ladder. */
export function isGroupListConfig(name: string): boolean {
  return name === 'sluice.share.retry.backoff.ms';
}

/** Problems of a complete new set of a group's configs: unknown names, values that do not parse or are out of bounds. */
export function groupConfigProblems(configs: Readonly<Record<string, string>>, broker: BrokerConfig, isTopic: TopicCheck): string[] {
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(configs)) {
    const d = GROUP_CONFIG_DEFS.get(name);
    if (!d) {
      problems.push(`Unknown group config name: ${name}`);
      continue;
    }
    const parsed = d.type.parse(raw.trim());
    const problem = parsed.ok ? d.validate?.(parsed.value, broker, isTopic) : parsed.error;
    if (problem !== undefined) problems.push(`${name}=${raw.trim()}: ${problem}`);
  }
  const heartbeat = valueOf<number>('share.heartbeat.interval.ms', configs, broker);
  const session = valueOf<number>('share.session.timeout.ms', configs, broker);
  if (problems.length === 0 && heartbeat >= session) problems.push(`share.heartbeat.interval.ms=${heartbeat} must be less than share.session.timeout.ms=${session}`);
  return problems;
}

/** A config's value for a group: its own (validated when set), else the fallback. */
function valueOf<T>(name: string, configs: Readonly<Record<string, string>>, broker: BrokerConfig): T {
  const d = GROUP_CONFIG_DEFS.get(name)!;
  const raw = configs[name];
  if (raw !== undefined) {
    const parsed = d.type.parse(raw.trim());
    if (parsed.ok) return parsed.value as T;
  }
  return d.fallback(broker) as T;
}

/** A GROUP resource's configs, as Kafka describes them: GROUP_CONFIG where the group sets one, DEFAULT_CONFIG otherwise. */
export function describeGroupConfigs(configs: Readonly<Record<string, string>>, broker: BrokerConfig, options: DescribeOptions): DescribedConfig[] {
  const wanted = options.keys && options.keys.length > 0 ? new Set(options.keys) : null;
  return [...GROUP_CONFIG_DEFS.values()]
    .filter((d) => wanted === null || wanted.has(d.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((d) => {
      const set = configs[d.name] !== undefined;
      const value = d.type.format(valueOf(d.name, configs, broker));
      const source = set ? ConfigSource.GROUP_CONFIG : ConfigSource.DEFAULT_CONFIG;
      return {
        name: d.name,
        value,
        readOnly: false,
        isDefault: !set,
        configSource: source,
        isSensitive: false,
        synonyms: options.includeSynonyms === false ? [] : [{ name: d.name, value, source }],
        configType: d.type.configType,
        documentation: options.includeDocumentation === false ? null : d.doc,
      };
    });
}

/** What the share group coordinator needs of a group's configs beside ShareGroupConfig. */
export interface ShareGroupTimeouts {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

/**
 * The share group configs in force: a group's own over the broker's. Both are read on every
 * call, so a change through IncrementalAlterConfigs or a dynamic broker config applies at once.
 */
export class ShareGroupConfigs {
  constructor(
    private readonly broker: () => BrokerConfig,
    private readonly stored: (groupId: string) => Readonly<Record<string, string>>,
  ) {}

  /** The ShareGroupConfigSource the share-partitions read. */
  readonly source: ShareGroupConfigSource = (groupId) => {
    const configs = this.stored(groupId);
    const broker = this.broker();
    const dlq = valueOf<string>('errors.deadletterqueue.topic.name', configs, broker);
    return {
      autoOffsetReset: valueOf<ShareGroupConfig['autoOffsetReset']>('share.auto.offset.reset', configs, broker),
      lockDurationMs: valueOf<number>('share.record.lock.duration.ms', configs, broker),
      readCommitted: valueOf<string>('share.isolation.level', configs, broker) === 'read_committed',
      deliveryCountLimit: valueOf<number>('share.delivery.count.limit', configs, broker),
      retryBackoffMs: valueOf<number[]>('sluice.share.retry.backoff.ms', configs, broker),
      deadLetterTopic: dlq === '' ? null : dlq,
    };
  };

  timeouts(groupId: string): ShareGroupTimeouts {
    const configs = this.stored(groupId);
    const broker = this.broker();
    return { sessionTimeoutMs: valueOf('share.session.timeout.ms', configs, broker), heartbeatIntervalMs: valueOf('share.heartbeat.interval.ms', configs, broker) };
  }
}
