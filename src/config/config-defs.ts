/**
 * Every config Sluice understands, by its Kafka name: type, default, range and documentation.
 * This table drives parsing (load-config.ts, topic-config.ts) and DescribeConfigs
 * (describe-configs.ts); nothing else lists config names.
 */
import type { TopicConfigName, TopicConfigValues } from './broker-config.js';
import { formatJaasConfig, parseJaasConfig, type JaasConfig } from '../security/sasl/jaas.js';
import { DEFAULT_SECURITY_PROTOCOL_MAP, listenerList, optionalHostPort, securityProtocolMap } from './listeners.js';
import { parsePerIpOverrides } from '../security/quotas/per-ip-overrides.js';
import {
  atLeast,
  bad,
  between,
  boolean,
  ConfigType,
  double,
  int,
  long,
  notEmpty,
  ok,
  oneOf,
  password,
  string,
  stringList,
  subsetOf,
  type Parsed,
  type Validator,
  type ValueType,
} from './value-types.js';

/** The SASL mechanisms Sluice serves. */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** sasl.jaas.config: one JAAS login module entry, parsed (never evaluated), secret in DescribeConfigs. */
const jaasConfig: ValueType<JaasConfig> = {
  configType: ConfigType.PASSWORD,
  parse(raw) {
    try {
      return ok(parseJaasConfig(raw));
    } catch (e) {
      return bad((e as Error).message);
    }
  },
  format: formatJaasConfig,
};

/** authorizer.class.name values that turn ACL enforcement on: Kafka's two authorizers and Sluice's own name. */
export const AUTHORIZER_CLASS_NAMES = ['org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'kafka.security.authorizer.AclAuthorizer', 'sluice.acl'];

interface ConfigKey<T> {
  readonly name: string;
  readonly type: ValueType<T>;
  // Methods, not function-typed fields, so a def of any T can sit in one table of unknown.
  validate?(value: T): string | undefined;
  readonly doc: string;
}

export interface BrokerConfigDef<T> extends ConfigKey<T> {
  /** null when unset by default: a synonym or derived value applies instead. */
  readonly default: T | null;
  /** Kafka can change it at runtime (AlterConfigs); DescribeConfigs reports the rest read-only. */
  readonly dynamic: boolean;
  /** Accepted, stored and described for Kafka's tooling, without effect here: why. */
  readonly noEffect?: string;
  /** Also settable for one listener as listener.name.<listener>.<name>, which wins there. */
  readonly perListener?: boolean;
  /** Also settable for one listener and SASL mechanism: listener.name.<listener>.<mechanism>.<name>. */
  readonly perMechanism?: boolean;
}

/** A broker config that supplies a topic config's default, most specific first. */
export interface BrokerSynonym<T> {
  readonly def: BrokerConfigDef<T>;
  /** Converts the broker value to the topic config's unit (hours to ms). */
  toTopic?(value: T): T;
}

export interface TopicConfigDef<T> extends ConfigKey<T> {
  readonly name: TopicConfigName;
  /** The first synonym with a value (set, or a non-null default) gives the topic default. */
  readonly synonyms: readonly BrokerSynonym<T>[];
  /** The default of a topic config no broker config supplies (Kafka has no synonym for it). */
  readonly default?: T;
  /** Accepted, stored and described as Kafka does, but without effect here: why. */
  readonly noEffect?: string;
}

/** Parses and checks one value; the message reads "name=raw: problem". */
export function parseConfigValue<T>(def: ConfigKey<T>, raw: string): { ok: true; value: T } | { ok: false; message: string } {
  const trimmed = raw.trim();
  const parsed: Parsed<T> = def.type.parse(trimmed);
  const problem = parsed.ok ? def.validate?.(parsed.value) : parsed.error;
  return problem === undefined && parsed.ok ? parsed : { ok: false, message: `${def.name}=${trimmed}: ${problem}` };
}

interface BrokerSpec<T> {
  name: string;
  type: ValueType<T>;
  // T comes from the type alone: a default or validator must not widen or narrow it.
  default: NoInfer<T> | null;
  validate?: Validator<NoInfer<T>>;
  dynamic?: boolean;
  /** Accepted, stored and described for Kafka's tooling, without effect here: why. */
  noEffect?: string;
  perListener?: boolean;
  perMechanism?: boolean;
  doc: string;
}

const broker = <T>(spec: BrokerSpec<T>): BrokerConfigDef<T> => ({ dynamic: false, ...spec });

interface SynonymSpec<T> {
  name: string;
  default: T | null;
  /** Only when the broker config's unit differs from the topic config's. */
  type?: ValueType<T>;
  validate?: Validator<T>;
  toTopic?: (value: T) => T;
  doc?: string;
  /** Kafka lets it change at runtime; true unless told (log.message.format.version is not). */
  dynamic?: boolean;
}

/** A topic config and the broker configs that default it, which share its type unless told. */
function topic<T>(spec: ConfigKey<T> & { name: TopicConfigName; synonyms: SynonymSpec<T>[]; default?: T; noEffect?: string }): TopicConfigDef<T> {
  const synonyms = spec.synonyms.map(
    (s): BrokerSynonym<T> => ({
      def: broker({
        name: s.name,
        type: s.type ?? spec.type,
        validate: s.validate ?? spec.validate,
        default: s.default,
        // Kafka lets (almost) every topic-config default change at runtime, cluster-wide.
        dynamic: s.dynamic ?? true,
        noEffect: spec.noEffect,
        doc: s.doc ?? `The default of the topic config ${spec.name}: ${lowerFirst(spec.doc)}`,
      }),
      toTopic: s.toTopic,
    }),
  );
  const doc = spec.noEffect ? `${spec.doc} Accepted as Kafka does; no effect in Sluice: ${spec.noEffect}.` : spec.doc;
  return { name: spec.name, type: spec.type, validate: spec.validate, doc, synonyms, default: spec.default, noEffect: spec.noEffect };
}

/** Kafka's ThrottledReplicaListValidator: "*", or partition:broker pairs. */
const throttledReplicas = (v: string[]): string | undefined =>
  (v.length === 1 && v[0] === '*') || v.every((e) => /^\d+:\d+$/.test(e)) ? undefined : 'must be the literal "*" or a list of replicas in the form [PartitionId]:[BrokerId],[PartitionId]:[BrokerId],...';

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** The delay store's timing wheel spans a little more than this (see src/delay/timer-wheel.ts). */
const MAX_DELIVERY_DELAY_MS = 7 * DAY_MS;

/** Scales a time to ms, keeping Kafka's "any negative retention means unlimited" as -1. */
const toMsOrUnlimited = (unitMs: number) => (v: number) => (v < 0 ? -1 : v * unitMs);

export const TOPIC_DEFS: { readonly [K in TopicConfigName]: TopicConfigDef<TopicConfigValues[K]> } = {
  'cleanup.policy': topic({
    name: 'cleanup.policy',
    type: subsetOf(['delete', 'compact']),
    doc: 'How old segments are cleaned: "delete" drops them by time or size, "compact" keeps the newest record per key; both, or neither.',
    synonyms: [{ name: 'log.cleanup.policy', default: ['delete'] }],
  }),
  'compression.type': topic({
    name: 'compression.type',
    type: oneOf(['uncompressed', 'producer', 'gzip', 'snappy', 'lz4', 'zstd']),
    doc: 'The codec batches are stored with; "producer" keeps whatever the producer sent.',
    synonyms: [{ name: 'compression.type', default: 'producer' }],
  }),
  'delete.retention.ms': topic({
    name: 'delete.retention.ms',
    type: long,
    validate: atLeast(0),
    doc: 'How long tombstones survive in a compacted log, so slow consumers still see deletions.',
    synonyms: [{ name: 'log.cleaner.delete.retention.ms', default: DAY_MS }],
  }),
  'file.delete.delay.ms': topic({
    name: 'file.delete.delay.ms',
    type: long,
    validate: atLeast(0),
    doc: 'How long a deleted segment stays on disk, so reads already under way can finish.',
    synonyms: [{ name: 'log.segment.delete.delay.ms', default: 60_000 }],
  }),
  'flush.messages': topic({
    name: 'flush.messages',
    type: long,
    validate: atLeast(1),
    doc: 'Force an fsync after this many messages; by default the OS decides when to write back.',
    synonyms: [{ name: 'log.flush.interval.messages', default: Number.POSITIVE_INFINITY }],
  }),
  'flush.ms': topic({
    name: 'flush.ms',
    type: long,
    validate: atLeast(0),
    doc: 'Force an fsync when the oldest unflushed message is this old; by default the OS decides.',
    synonyms: [{ name: 'log.flush.interval.ms', default: Number.POSITIVE_INFINITY }],
  }),
  'index.interval.bytes': topic({
    name: 'index.interval.bytes',
    type: int,
    validate: atLeast(0),
    doc: 'Log bytes between two offset index entries: smaller means faster seeks and larger indexes.',
    synonyms: [{ name: 'log.index.interval.bytes', default: 4096 }],
  }),
  'max.message.bytes': topic({
    name: 'max.message.bytes',
    type: int,
    validate: atLeast(0),
    doc: 'The largest record batch the topic accepts, after compression.',
    synonyms: [{ name: 'message.max.bytes', default: 1_048_588 }],
  }),
  'message.timestamp.type': topic({
    name: 'message.timestamp.type',
    type: oneOf(['CreateTime', 'LogAppendTime']),
    doc: 'Whether record timestamps are the producer\'s (CreateTime) or the broker\'s append time (LogAppendTime).',
    synonyms: [{ name: 'log.message.timestamp.type', default: 'CreateTime' }],
  }),
  'min.cleanable.dirty.ratio': topic({
    name: 'min.cleanable.dirty.ratio',
    type: double,
    validate: between(0, 1),
    doc: 'Compact once this share of the log has not been compacted yet.',
    synonyms: [{ name: 'log.cleaner.min.cleanable.ratio', default: 0.5 }],
  }),
  'min.insync.replicas': topic({
    name: 'min.insync.replicas',
    type: int,
    validate: atLeast(1),
    doc: 'Replicas that must have a write before an acks=all produce succeeds.',
    synonyms: [{ name: 'min.insync.replicas', default: 1 }],
  }),
  'unclean.leader.election.enable': topic({
    name: 'unclean.leader.election.enable',
    type: boolean,
    doc: 'Let a replica out of sync lead when no in-sync replica is left, losing what only the others had.',
    synonyms: [{ name: 'unclean.leader.election.enable', default: false }],
  }),
  'retention.bytes': topic({
    name: 'retention.bytes',
    type: long,
    validate: atLeast(-1),
    doc: 'Delete old segments while a partition is larger than this; -1 means no size limit.',
    synonyms: [{ name: 'log.retention.bytes', default: -1 }],
  }),
  'retention.ms': topic({
    name: 'retention.ms',
    type: long,
    validate: atLeast(-1),
    doc: 'Delete a segment once its newest record is older than this; -1 keeps records forever.',
    synonyms: [
      { name: 'log.retention.ms', default: null },
      {
        name: 'log.retention.minutes',
        type: int,
        default: null,
        toTopic: toMsOrUnlimited(MINUTE_MS),
        doc: 'Minutes to keep a segment, used when log.retention.ms is unset; -1 keeps forever.',
      },
      {
        name: 'log.retention.hours',
        type: int,
        default: 168,
        toTopic: toMsOrUnlimited(HOUR_MS),
        doc: 'Hours to keep a segment, used when log.retention.ms and log.retention.minutes are unset.',
      },
    ],
  }),
  'segment.bytes': topic({
    name: 'segment.bytes',
    type: int,
    // Kafka's floor: the smallest possible record must fit.
    validate: atLeast(14),
    doc: 'Roll to a new segment file when the active one would grow past this size.',
    synonyms: [{ name: 'log.segment.bytes', default: 1024 * 1024 * 1024 }],
  }),
  'segment.index.bytes': topic({
    name: 'segment.index.bytes',
    type: int,
    validate: atLeast(4),
    doc: 'The room preallocated for each segment\'s offset index; a full index rolls the segment.',
    synonyms: [{ name: 'log.index.size.max.bytes', default: 10 * 1024 * 1024 }],
  }),
  'segment.ms': topic({
    name: 'segment.ms',
    type: long,
    validate: atLeast(1),
    doc: 'Roll to a new segment once the active one is this old, so retention can delete it.',
    synonyms: [
      { name: 'log.roll.ms', default: null },
      {
        name: 'log.roll.hours',
        type: int,
        default: 168,
        toTopic: (h) => h * HOUR_MS,
        doc: 'Hours before rolling a new segment, used when log.roll.ms is unset.',
      },
    ],
  }),
  // The rest of Kafka 3.9's topic configs, with Kafka's types, ranges, defaults and synonyms.
  'compression.gzip.level': topic({
    name: 'compression.gzip.level',
    type: int,
    validate: (v) => (v === -1 || (v >= 1 && v <= 9) ? undefined : 'expected -1 or between 1 and 9'),
    doc: 'The gzip level of batches the broker compresses (compression.type=gzip); -1 is the codec\'s default.',
    synonyms: [{ name: 'compression.gzip.level', default: -1 }],
  }),
  'compression.lz4.level': topic({
    name: 'compression.lz4.level',
    type: int,
    validate: between(1, 17),
    doc: 'The lz4 level of batches the broker compresses (compression.type=lz4).',
    noEffect: 'the lz4 codec here compresses at one speed, without levels',
    synonyms: [{ name: 'compression.lz4.level', default: 9 }],
  }),
  'compression.zstd.level': topic({
    name: 'compression.zstd.level',
    type: int,
    validate: between(-131_072, 22),
    doc: 'The zstd level of batches the broker compresses (compression.type=zstd).',
    synonyms: [{ name: 'compression.zstd.level', default: 3 }],
  }),
  'follower.replication.throttled.replicas': topic({
    name: 'follower.replication.throttled.replicas',
    type: stringList,
    validate: throttledReplicas,
    doc: 'Replicas (partition:broker, or * for all) whose follower fetches are throttled.',
    noEffect: 'Sluice has no replication quotas',
    default: [],
    synonyms: [],
  }),
  'leader.replication.throttled.replicas': topic({
    name: 'leader.replication.throttled.replicas',
    type: stringList,
    validate: throttledReplicas,
    doc: 'Replicas (partition:broker, or * for all) whose leader-side replication is throttled.',
    noEffect: 'Sluice has no replication quotas',
    default: [],
    synonyms: [],
  }),
  'local.retention.bytes': topic({
    name: 'local.retention.bytes',
    type: long,
    validate: atLeast(-2),
    doc: 'With tiered storage, the bytes kept on local disk; -2 means retention.bytes.',
    noEffect: 'Sluice has no tiered storage',
    synonyms: [{ name: 'log.local.retention.bytes', default: -2 }],
  }),
  'local.retention.ms': topic({
    name: 'local.retention.ms',
    type: long,
    validate: atLeast(-2),
    doc: 'With tiered storage, how long segments stay on local disk; -2 means retention.ms.',
    noEffect: 'Sluice has no tiered storage',
    synonyms: [{ name: 'log.local.retention.ms', default: -2 }],
  }),
  'max.compaction.lag.ms': topic({
    name: 'max.compaction.lag.ms',
    type: long,
    validate: atLeast(1),
    doc: 'The longest a record may stay uncompacted, whatever the dirty ratio; on a compacted topic the active segment rolls by then too.',
    synonyms: [{ name: 'log.cleaner.max.compaction.lag.ms', default: Number.POSITIVE_INFINITY }],
  }),
  'message.downconversion.enable': topic({
    name: 'message.downconversion.enable',
    type: boolean,
    doc: 'Whether fetches of old clients get batches down-converted to their message format.',
    noEffect: 'Sluice serves Fetch v4+ only, which never needs down-conversion',
    synonyms: [{ name: 'log.message.downconversion.enable', default: true }],
  }),
  'message.format.version': topic({
    name: 'message.format.version',
    type: string,
    validate: (v) => (/^\d+\.\d+(\.\d+)?(-IV\d+)?$/.test(v) ? undefined : 'expected a Kafka version such as 3.0-IV1'),
    doc: 'The message format version of the topic (deprecated; with inter.broker.protocol.version 3.0+ it is always the v2 format).',
    noEffect: 'Sluice always writes the v2 (magic 2) format',
    synonyms: [{ name: 'log.message.format.version', default: '3.0-IV1', dynamic: false }],
  }),
  'message.timestamp.after.max.ms': topic({
    name: 'message.timestamp.after.max.ms',
    type: long,
    validate: atLeast(0),
    doc: 'With CreateTime, the furthest a record timestamp may be ahead of the broker\'s clock; later ones are refused (INVALID_TIMESTAMP).',
    synonyms: [{ name: 'log.message.timestamp.after.max.ms', default: Number.POSITIVE_INFINITY }],
  }),
  'message.timestamp.before.max.ms': topic({
    name: 'message.timestamp.before.max.ms',
    type: long,
    validate: atLeast(0),
    doc: 'With CreateTime, the furthest a record timestamp may be behind the broker\'s clock; older ones are refused (INVALID_TIMESTAMP).',
    synonyms: [{ name: 'log.message.timestamp.before.max.ms', default: Number.POSITIVE_INFINITY }],
  }),
  'message.timestamp.difference.max.ms': topic({
    name: 'message.timestamp.difference.max.ms',
    type: long,
    validate: atLeast(0),
    doc: 'Deprecated: with CreateTime, the largest difference between a record timestamp and the broker\'s clock (either way) when message.timestamp.before/after.max.ms are unset.',
    synonyms: [{ name: 'log.message.timestamp.difference.max.ms', default: Number.POSITIVE_INFINITY }],
  }),
  'min.compaction.lag.ms': topic({
    name: 'min.compaction.lag.ms',
    type: long,
    validate: atLeast(0),
    doc: 'The least time a record stays uncompacted: the cleaner stops at the first segment holding a younger record.',
    synonyms: [{ name: 'log.cleaner.min.compaction.lag.ms', default: 0 }],
  }),
  preallocate: topic({
    name: 'preallocate',
    type: boolean,
    doc: 'Preallocate the file of a new segment.',
    noEffect: 'with sluice.log.append.mode=mmap the next segments prepared ahead are preallocated and others reserve their blocks as they fill; with write they grow as written, whatever this says',
    synonyms: [{ name: 'log.preallocate', default: false }],
  }),
  'remote.log.copy.disable': topic({
    name: 'remote.log.copy.disable',
    type: boolean,
    doc: 'With tiered storage, stop copying segments to remote storage.',
    noEffect: 'Sluice has no tiered storage',
    default: false,
    synonyms: [],
  }),
  'remote.log.delete.on.disable': topic({
    name: 'remote.log.delete.on.disable',
    type: boolean,
    doc: 'With tiered storage, delete the remote segments when remote storage is turned off.',
    noEffect: 'Sluice has no tiered storage',
    default: false,
    synonyms: [],
  }),
  'remote.storage.enable': topic({
    name: 'remote.storage.enable',
    type: boolean,
    // Kafka's answer on a cluster with remote.log.storage.system.enable=false, which Sluice always is.
    validate: (v) => (v ? 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.' : undefined),
    doc: 'Tiered storage for the topic; Sluice has none, so only false is accepted.',
    default: false,
    synonyms: [],
  }),
  'segment.jitter.ms': topic({
    name: 'segment.jitter.ms',
    type: long,
    validate: atLeast(0),
    doc: 'A random amount of time, up to this, taken off segment.ms for each segment, so partitions do not all roll at once.',
    synonyms: [
      { name: 'log.roll.jitter.ms', default: null },
      {
        name: 'log.roll.jitter.hours',
        type: int,
        default: 0,
        toTopic: (h) => h * HOUR_MS,
        doc: 'Hours of segment roll jitter, used when log.roll.jitter.ms is unset.',
      },
    ],
  }),
  'sluice.log.append.mode': topic({
    name: 'sluice.log.append.mode',
    type: oneOf(['write', 'mmap']),
    doc: 'How appends reach the segment file: positional writes (Kafka\'s way) or a preallocated memory mapping.',
    synonyms: [{ name: 'sluice.log.append.mode', default: 'write' }],
  }),
  'sluice.log.flush.mode': topic({
    name: 'sluice.log.flush.mode',
    type: oneOf(['async', 'sync']),
    doc: 'async leaves durability to the OS and flush.*; sync fdatasyncs (group-committed) before every acknowledgement.',
    synonyms: [{ name: 'sluice.log.flush.mode', default: 'async' }],
  }),
  'sluice.delivery.delay.ms': topic({
    name: 'sluice.delivery.delay.ms',
    type: long,
    validate: between(0, MAX_DELIVERY_DELAY_MS),
    doc: 'Delay before a produced record enters the topic when it carries no sluice-delay-ms or sluice-deliver-at header; 0 delivers at once.',
    synonyms: [{ name: 'sluice.delivery.delay.ms', default: 0 }],
  }),
};

/** Kafka's store types: the others are accepted so that a Kafka file loads, and refused on a TLS listener. */
const STORE_TYPE = oneOf(['JKS', 'PKCS12', 'PEM']);
const sslConfig = <T>(spec: BrokerSpec<T>): BrokerConfigDef<T> => broker({ ...spec, perListener: true });

/**
 * TLS listeners' settings (ssl.*), each also settable per listener. Kafka's defaults (JKS) are
 * kept so they describe as in Kafka; a TLS listener needs the PEM type set, as Kafka does for PEM.
 * Read-only here: certificates are reloaded from their files (sluice.ssl.reload.check.interval.ms).
 */
const SSL_DEFS = {
  sslKeystoreType: sslConfig({ name: 'ssl.keystore.type', type: STORE_TYPE, default: 'JKS', doc: 'The format of the key store; Sluice reads PEM only.' }),
  sslKeystoreLocation: sslConfig({ name: 'ssl.keystore.location', type: string, default: null, doc: 'A PEM file holding the private key and the certificate chain of TLS listeners.' }),
  sslKeystoreKey: sslConfig({ name: 'ssl.keystore.key', type: password, default: null, doc: 'The private key in PEM, inline (with ssl.keystore.certificate.chain), instead of ssl.keystore.location.' }),
  sslKeystoreCertificateChain: sslConfig({ name: 'ssl.keystore.certificate.chain', type: password, default: null, doc: 'The certificate chain in PEM, inline (with ssl.keystore.key).' }),
  sslKeyPassword: sslConfig({ name: 'ssl.key.password', type: password, default: null, doc: 'The password of an encrypted private key.' }),
  sslTruststoreType: sslConfig({ name: 'ssl.truststore.type', type: STORE_TYPE, default: 'JKS', doc: 'The format of the trust store; Sluice reads PEM only.' }),
  sslTruststoreLocation: sslConfig({ name: 'ssl.truststore.location', type: string, default: null, doc: 'A PEM file of the CA certificates client certificates must chain to.' }),
  sslTruststoreCertificates: sslConfig({ name: 'ssl.truststore.certificates', type: password, default: null, doc: 'The CA certificates in PEM, inline, instead of ssl.truststore.location.' }),
  sslClientAuth: sslConfig({
    name: 'ssl.client.auth',
    type: oneOf(['required', 'requested', 'none']),
    default: 'none',
    doc: 'Whether TLS clients must (required) or may (requested) present a certificate; its subject becomes their principal.',
  }),
  sslEnabledProtocols: sslConfig({
    name: 'ssl.enabled.protocols',
    type: subsetOf(['TLSv1.2', 'TLSv1.3']),
    default: ['TLSv1.2', 'TLSv1.3'],
    validate: notEmpty('protocol'),
    doc: 'The TLS versions TLS listeners accept.',
  }),
};

/** Broker configs that are not topic-config defaults, keyed by their BrokerConfig meaning. */
export const BROKER_DEFS = {
  nodeId: broker({ name: 'node.id', type: int, default: 1, validate: atLeast(0), doc: 'The id of this broker in metadata responses.' }),
  brokerId: broker({ name: 'broker.id', type: int, default: null, validate: atLeast(0), doc: 'The pre-KRaft name of node.id; if both are set they must agree.' }),
  listeners: broker({
    name: 'listeners',
    type: listenerList,
    default: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }],
    validate: notEmpty('listener'),
    // Kafka can change it per broker at runtime (so not read-only); Sluice only at start-up.
    dynamic: true,
    doc: 'Comma-separated NAME://host:port addresses to accept clients on; an empty host binds all interfaces.',
  }),
  advertisedListeners: broker({
    name: 'advertised.listeners',
    type: listenerList,
    default: null,
    validate: notEmpty('listener'),
    dynamic: true,
    doc: 'The addresses given to clients, when they differ from listeners; a wildcard listener host is advertised as 127.0.0.1.',
  }),
  controllerListenerNames: broker({
    name: 'controller.listener.names',
    type: stringList,
    default: [],
    doc: 'Names of Kafka controller listeners; Sluice has no controller, so listeners with these names are not bound.',
  }),
  logDirs: broker({ name: 'log.dirs', type: stringList, default: null, validate: notEmpty('directory'), doc: 'Comma-separated directories holding the partition logs; overrides log.dir.' }),
  logDir: broker({ name: 'log.dir', type: stringList, default: ['./data'], validate: notEmpty('directory'), doc: 'The directory holding the partition logs, used when log.dirs is unset.' }),
  numPartitions: broker({ name: 'num.partitions', type: int, default: 1, validate: atLeast(1), doc: 'Partitions of a topic created without a partition count.' }),
  defaultReplicationFactor: broker({ name: 'default.replication.factor', type: int, default: 1, validate: atLeast(1), doc: 'Replication factor of a topic created without one.' }),
  authorizerClassName: broker({
    name: 'authorizer.class.name',
    type: string,
    default: '',
    validate: (v: string) => (v === '' || AUTHORIZER_CLASS_NAMES.includes(v) ? undefined : `expected one of ${AUTHORIZER_CLASS_NAMES.join(', ')} (or empty)`),
    doc: 'The authorizer that enforces ACLs; empty: none, every principal may do everything.',
  }),
  superUsers: broker({ name: 'super.users', type: string, default: '', doc: 'Principals (User:name) separated by semicolons that every ACL check allows.' }),
  allowEveryoneIfNoAclFound: broker({ name: 'allow.everyone.if.no.acl.found', type: boolean, default: false, doc: 'Allow every principal on a resource no ACL matches.' }),
  autoCreateTopicsEnable: broker({ name: 'auto.create.topics.enable', type: boolean, default: true, doc: 'Create a topic when a client asks for metadata of one that does not exist.' }),
  socketRequestMaxBytes: broker({ name: 'socket.request.max.bytes', type: int, default: 104_857_600, validate: atLeast(1), doc: 'The largest request frame accepted; larger ones close the connection.' }),
  connectionsMaxIdleMs: broker({ name: 'connections.max.idle.ms', type: long, default: 600_000, validate: atLeast(-1), doc: 'Close connections idle for this long; -1 never closes them.' }),
  maxConnections: broker({ name: 'max.connections', type: int, default: 2_147_483_647, validate: atLeast(0), dynamic: true, doc: 'Connections accepted at once; further ones wait until others close.' }),
  maxConnectionsPerIp: broker({ name: 'max.connections.per.ip', type: int, default: 2_147_483_647, validate: atLeast(0), dynamic: true, doc: 'Connections one client address may hold open; further ones are closed at once.' }),
  maxConnectionsPerIpOverrides: broker({
    name: 'max.connections.per.ip.overrides',
    type: string,
    default: '',
    validate: (v) => {
      const parsed = parsePerIpOverrides(v);
      return typeof parsed === 'string' ? parsed : undefined;
    },
    dynamic: true,
    doc: 'host:count pairs, comma-separated: max.connections.per.ip for these addresses.',
  }),
  maxConnectionCreationRate: broker({
    name: 'max.connection.creation.rate',
    type: int,
    default: 2_147_483_647,
    validate: atLeast(0),
    dynamic: true,
    doc: 'New connections a second each listener accepts; past it, new connections are read from only once the rate is back under.',
  }),
  quotaWindowNum: broker({ name: 'quota.window.num', type: int, default: 11, validate: atLeast(1), doc: 'Samples kept in memory for client quotas.' }),
  quotaWindowSizeSeconds: broker({ name: 'quota.window.size.seconds', type: int, default: 1, validate: atLeast(1), doc: 'The time span of each sample for client quotas.' }),
  queuedMaxRequests: broker({ name: 'queued.max.requests', type: int, default: 500, validate: atLeast(1), doc: 'Requests in flight per connection before the broker stops reading from it.' }),
  maxIncrementalFetchSessionCacheSlots: broker({
    name: 'max.incremental.fetch.session.cache.slots',
    type: int,
    default: 1000,
    validate: atLeast(0),
    doc: 'Incremental fetch sessions (KIP-227) held at once; a fetcher without one sends and is sent all its partitions on every fetch. 0 turns sessions off.',
  }),
  logRetentionCheckIntervalMs: broker({ name: 'log.retention.check.interval.ms', type: long, default: 300_000, validate: atLeast(1), doc: 'How often segments are checked against retention.' }),
  logCleanerBackoffMs: broker({ name: 'log.cleaner.backoff.ms', type: long, default: 15_000, validate: atLeast(1), doc: 'How often compacted topics are checked for a cleaning pass.' }),
  logFlushOffsetCheckpointIntervalMs: broker({ name: 'log.flush.offset.checkpoint.interval.ms', type: int, default: 60_000, validate: atLeast(0), doc: 'How often the recovery point checkpoint is written.' }),
  offsetsTopicNumPartitions: broker({ name: 'offsets.topic.num.partitions', type: int, default: 50, validate: atLeast(1), doc: 'Partitions of the internal __consumer_offsets topic; fixed once it exists.' }),
  offsetsRetentionMinutes: broker({ name: 'offsets.retention.minutes', type: int, default: 10_080, validate: atLeast(1), doc: 'How long committed offsets of an empty group are kept.' }),
  groupInitialRebalanceDelayMs: broker({ name: 'group.initial.rebalance.delay.ms', type: int, default: 3000, validate: atLeast(0), doc: 'How long a new group waits for more members before its first rebalance.' }),
  groupMinSessionTimeoutMs: broker({ name: 'group.min.session.timeout.ms', type: int, default: 6000, validate: atLeast(0), doc: 'The shortest session timeout a consumer may ask for.' }),
  groupMaxSessionTimeoutMs: broker({ name: 'group.max.session.timeout.ms', type: int, default: 1_800_000, validate: atLeast(0), doc: 'The longest session timeout a consumer may ask for.' }),
  groupConsumerAssignors: broker({ name: 'group.consumer.assignors', type: stringList, default: ['uniform', 'range'], validate: notEmpty('assignor'), doc: 'Server-side assignors of consumer groups (KIP-848), the first the default: uniform, range (or their Kafka class names).' }),
  groupConsumerSessionTimeoutMs: broker({ name: 'group.consumer.session.timeout.ms', type: int, default: 45_000, validate: atLeast(1), doc: 'How long a consumer group (KIP-848) member may go without heartbeating before it is removed.' }),
  groupConsumerMigrationPolicy: broker({
    name: 'group.consumer.migration.policy',
    type: oneOf(['bidirectional', 'upgrade', 'downgrade', 'disabled']),
    default: 'bidirectional',
    doc: 'Whether a group with members switches protocols as they change (KIP-848): a classic group becomes a consumer group when a consumer-protocol member joins (upgrade), and back when the last one leaves (downgrade).',
  }),
  groupConsumerHeartbeatIntervalMs: broker({ name: 'group.consumer.heartbeat.interval.ms', type: int, default: 5000, validate: atLeast(1), doc: 'How often consumer group (KIP-848) members are told to heartbeat.' }),
  groupShareEnable: broker({ name: 'group.share.enable', type: boolean, default: true, doc: 'Serve share groups (KIP-932); when false their APIs are left out of ApiVersions, as Kafka does.' }),
  groupShareRecordLockDurationMs: broker({ name: 'group.share.record.lock.duration.ms', type: int, default: 30_000, validate: between(1000, 3_600_000), doc: 'How long a share consumer holds the records it acquired before they are offered again; share.record.lock.duration.ms overrides it per group.' }),
  groupShareMinRecordLockDurationMs: broker({ name: 'group.share.min.record.lock.duration.ms', type: int, default: 15_000, validate: between(1000, 30_000), doc: 'The shortest share.record.lock.duration.ms a group may set.' }),
  groupShareMaxRecordLockDurationMs: broker({ name: 'group.share.max.record.lock.duration.ms', type: int, default: 60_000, validate: between(30_000, 3_600_000), doc: 'The longest share.record.lock.duration.ms a group may set.' }),
  groupShareDeliveryCountLimit: broker({ name: 'group.share.delivery.count.limit', type: int, default: 5, validate: between(2, 10), doc: 'Deliveries of a record to a share group before it is archived (or dead-lettered); share.delivery.count.limit overrides it per group.' }),
  groupSharePartitionMaxRecordLocks: broker({ name: 'group.share.partition.max.record.locks', type: int, default: 2000, validate: between(100, 10_000), doc: 'Records of a share-partition acquired at once, across its consumers.' }),
  groupShareSessionTimeoutMs: broker({ name: 'group.share.session.timeout.ms', type: int, default: 45_000, validate: atLeast(1), doc: 'How long a share group member may go without heartbeating before it is removed; share.session.timeout.ms overrides it per group.' }),
  groupShareHeartbeatIntervalMs: broker({ name: 'group.share.heartbeat.interval.ms', type: int, default: 5000, validate: atLeast(1), doc: 'How often share group members are told to heartbeat; share.heartbeat.interval.ms overrides it per group.' }),
  groupShareMaxSize: broker({ name: 'group.share.max.size', type: int, default: 200, validate: between(1, 1000), doc: 'Members a share group takes; one more is refused with GROUP_MAX_SIZE_REACHED.' }),
  fetchSessionCacheMaxPartitions: broker({
    name: 'sluice.fetch.session.cache.max.partitions',
    type: int,
    default: 500_000,
    validate: atLeast(0),
    doc: 'Partitions fetch sessions (KIP-227) hold between them, about 300 bytes of heap each; a fetcher that would take more goes without a session.',
  }),
  fetchTransfer: broker({ name: 'sluice.fetch.transfer', type: oneOf(['sendfile', 'copy']), default: 'sendfile', doc: 'How fetch responses send log bytes: sendfile from the page cache, or read and copy.' }),
  consoleListener: broker({ name: 'sluice.console.listener', type: optionalHostPort, default: { host: '127.0.0.1', port: 8080 }, doc: 'host:port of the web console; empty turns it off.' }),
  logMmapMlock: broker({ name: 'sluice.log.mmap.mlock', type: boolean, default: false, doc: 'Pin the active mapped segment in memory (sluice.log.append.mode=mmap).' }),
  logIndexMode: broker({ name: 'sluice.log.index.mode', type: oneOf(['heap', 'mmap']), default: 'heap', doc: 'Keep offset indexes in heap buffers written to their files at flush, or in memory mappings.' }),
  metadataStore: broker({
    name: 'sluice.metadata.store',
    type: string,
    default: 'embedded',
    validate: (v) => (v === 'embedded' || /^etcd:\/\/[^/]+\/.+$/.test(v) ? undefined : 'expected embedded or etcd://HOST:PORT[,HOST:PORT]/PREFIX'),
    doc: 'Where the cluster metadata lives: embedded (this node alone, in its first log directory) or etcd://HOST:PORT[,HOST:PORT]/PREFIX (a cluster).',
  }),
  brokerRack: broker({ name: 'broker.rack', type: string, default: null, doc: 'The rack of this broker: replicas of a partition go to different racks, and consumers may read from their own.' }),
  brokerSessionTimeoutMs: broker({
    name: 'broker.session.timeout.ms',
    type: int,
    default: 9000,
    validate: atLeast(1000),
    doc: 'A broker whose registration is not renewed for this long is gone: its leaderships move.',
  }),
  interBrokerListenerName: broker({ name: 'inter.broker.listener.name', type: string, default: null, doc: 'The listener other brokers reach this one on; the first listener when unset.' }),
  replicaLagTimeMaxMs: broker({ name: 'replica.lag.time.max.ms', type: long, default: 30_000, validate: atLeast(1), doc: 'A follower not caught up for this long leaves the in-sync replicas.' }),
  replicaFetchWaitMaxMs: broker({ name: 'replica.fetch.wait.max.ms', type: int, default: 500, validate: atLeast(0), doc: 'How long a follower fetch waits at the leader for new data.' }),
  replicaFetchMinBytes: broker({ name: 'replica.fetch.min.bytes', type: int, default: 1, validate: atLeast(1), doc: 'Bytes a follower fetch waits for.' }),
  replicaFetchMaxBytes: broker({ name: 'replica.fetch.max.bytes', type: int, default: 1_048_576, validate: atLeast(0), doc: 'Bytes per partition a follower fetch asks for (a larger first batch still comes whole).' }),
  replicaFetchResponseMaxBytes: broker({ name: 'replica.fetch.response.max.bytes', type: int, default: 10_485_760, validate: atLeast(0), doc: 'Bytes a follower fetch asks for in all.' }),
  replicaFetchBackoffMs: broker({ name: 'replica.fetch.backoff.ms', type: int, default: 1000, validate: atLeast(0), doc: 'How long a follower waits after a fetch error.' }),
  offsetsTopicReplicationFactor: broker({
    name: 'offsets.topic.replication.factor',
    type: int,
    default: 3,
    validate: atLeast(1),
    doc: 'Replicas of each __consumer_offsets partition; fewer when fewer brokers are up at its creation.',
  }),
  offsetsTopicSegmentBytes: broker({ name: 'offsets.topic.segment.bytes', type: int, default: 104_857_600, validate: atLeast(1), doc: 'Segment size of __consumer_offsets, small so that compaction keeps it short.' }),
  transactionStateLogNumPartitions: broker({ name: 'transaction.state.log.num.partitions', type: int, default: 50, validate: atLeast(1), doc: 'Partitions of the internal __transaction_state topic; fixed once it exists.' }),
  transactionStateLogReplicationFactor: broker({
    name: 'transaction.state.log.replication.factor',
    type: int,
    default: 3,
    validate: atLeast(1),
    doc: 'Replicas of each __transaction_state partition; fewer when fewer brokers are up at its creation.',
  }),
  transactionStateLogMinIsr: broker({
    name: 'transaction.state.log.min.isr',
    type: int,
    default: 2,
    validate: atLeast(1),
    doc: 'min.insync.replicas of __transaction_state (at most its replication factor).',
  }),
  transactionStateLogSegmentBytes: broker({ name: 'transaction.state.log.segment.bytes', type: int, default: 104_857_600, validate: atLeast(1), doc: 'Segment size of __transaction_state.' }),
  shareStateTopicNumPartitions: broker({ name: 'share.coordinator.state.topic.num.partitions', type: int, default: 50, validate: atLeast(1), doc: 'Partitions of the internal __share_group_state topic; fixed once it exists.' }),
  shareStateTopicReplicationFactor: broker({
    name: 'share.coordinator.state.topic.replication.factor',
    type: int,
    default: 3,
    validate: atLeast(1),
    doc: 'Replicas of each __share_group_state partition; fewer when fewer brokers are up at its creation.',
  }),
  shareStateTopicMinIsr: broker({ name: 'share.coordinator.state.topic.min.isr', type: int, default: 2, validate: atLeast(1), doc: 'min.insync.replicas of __share_group_state (at most its replication factor).' }),
  shareStateTopicSegmentBytes: broker({ name: 'share.coordinator.state.topic.segment.bytes', type: int, default: 104_857_600, validate: atLeast(1), doc: 'Segment size of __share_group_state.' }),
  deliveryDelayMaxMs: broker({
    name: 'sluice.delivery.delay.max.ms',
    type: long,
    default: 3 * DAY_MS,
    validate: between(0, MAX_DELIVERY_DELAY_MS),
    doc: 'The longest delay a record may ask for (sluice-delay-ms, sluice-deliver-at, sluice.delivery.delay.ms); 0 turns delayed delivery off and the headers are then ignored.',
  }),
  producerIdExpirationMs: broker({ name: 'producer.id.expiration.ms', type: int, default: 86_400_000, validate: atLeast(1), doc: 'A producer id with no write to a partition for this long is forgotten there (a transaction still open keeps it).' }),
  transactionMaxTimeoutMs: broker({ name: 'transaction.max.timeout.ms', type: int, default: 900_000, validate: atLeast(1), doc: 'The longest transaction.timeout.ms a producer may ask for.' }),
  transactionalIdExpirationMs: broker({
    name: 'transactional.id.expiration.ms',
    type: int,
    default: 604_800_000,
    validate: atLeast(1),
    doc: 'A transactional id with no transaction open and no request this long is forgotten.',
  }),
  transactionAbortTimedOutTransactionCleanupIntervalMs: broker({
    name: 'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    type: int,
    default: 10_000,
    validate: atLeast(1),
    doc: 'How often the transaction coordinator aborts transactions open past their timeout.',
  }),
  transactionPartitionVerificationEnable: broker({
    name: 'transaction.partition.verification.enable',
    type: boolean,
    default: true,
    doc: "A partition leader asks the transaction coordinator before it takes a transaction's first batch (KIP-890), so a late batch cannot open a hanging transaction.",
  }),
  autoLeaderRebalanceEnable: broker({ name: 'auto.leader.rebalance.enable', type: boolean, default: true, doc: 'Give leadership back to preferred replicas every leader.imbalance.check.interval.seconds.' }),
  leaderImbalanceCheckIntervalSeconds: broker({ name: 'leader.imbalance.check.interval.seconds', type: long, default: 300, validate: atLeast(1), doc: 'How often the controller gives leadership back to preferred replicas.' }),
  controlledShutdownEnable: broker({ name: 'controlled.shutdown.enable', type: boolean, default: true, doc: 'A stopping broker hands its leaderships over first, so clients see no error beyond retriable ones.' }),
  listenerSecurityProtocolMap: broker({
    name: 'listener.security.protocol.map',
    type: securityProtocolMap,
    default: DEFAULT_SECURITY_PROTOCOL_MAP,
    doc: 'NAME:PROTOCOL pairs giving the security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) of each listener name; by default each protocol is a listener name of itself.',
  }),
  ...SSL_DEFS,
  saslEnabledMechanisms: broker({
    name: 'sasl.enabled.mechanisms',
    type: subsetOf(SASL_MECHANISMS),
    // Kafka's default, GSSAPI, needs Kerberos, which Sluice does not offer: every mechanism it has instead.
    default: [...SASL_MECHANISMS],
    validate: notEmpty('mechanism'),
    dynamic: true,
    perListener: true,
    doc: 'The SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners offer (Kafka defaults to GSSAPI, which Sluice lacks).',
  }),
  saslJaasConfig: broker({
    name: 'sasl.jaas.config',
    type: jaasConfig,
    default: null,
    perMechanism: true,
    doc: 'A JAAS login module entry; PlainLoginModule options user_<name>="<password>" are the PLAIN users. Parsed, never evaluated.',
  }),
  connectionsMaxReauthMs: broker({
    name: 'connections.max.reauth.ms',
    type: long,
    default: 0,
    validate: atLeast(0),
    perListener: true,
    doc: 'SASL sessions last this long (KIP-368): a client must re-authenticate before, or its next request closes the connection. 0: forever.',
  }),
  saslServerMaxReceiveSize: broker({
    name: 'sasl.server.max.receive.size',
    type: int,
    default: 524_288,
    validate: atLeast(1),
    doc: 'The largest frame accepted before a SASL client has authenticated.',
  }),
  sslHandshakeTimeoutMs: broker({
    name: 'sluice.ssl.handshake.timeout.ms',
    type: int,
    default: 10_000,
    validate: atLeast(1),
    doc: 'A TLS handshake not complete this long after the connection opened closes the connection.',
  }),
  sslReloadCheckIntervalMs: broker({
    name: 'sluice.ssl.reload.check.interval.ms',
    type: long,
    default: 30_000,
    validate: atLeast(0),
    doc: 'How often the PEM files of TLS listeners are checked for change; a changed set is loaded for new connections, existing ones go on. 0: never.',
  }),
  requestFrameTimeoutMs: broker({
    name: 'sluice.request.frame.timeout.ms',
    type: long,
    default: 60_000,
    validate: atLeast(1),
    doc: 'A request frame begun must arrive whole within this long, however steadily its bytes trickle in; else the connection is closed.',
  }),
  logMaxOpenFiles: broker({
    name: 'sluice.log.max.open.files',
    type: int,
    default: -1,
    validate: atLeast(-1),
    doc: 'Descriptors the logs may keep open at once; idle files close and reopen on demand. -1: three quarters of the process descriptor limit, the rest left to connections.',
  }),
};

const NO_SASL = 'Sluice offers no Kerberos (GSSAPI), and brokers talk to each other without SASL';
const NO_IBP = 'Sluice speaks the latest inter-broker protocol and writes the v2 record format only';

/**
 * Kafka 3.9 broker configs that deployment tooling sets (Kerberos and SASL settings, legacy
 * protocol versions) and that mean nothing here: accepted from the properties file and
 * AlterConfigs, stored, and described with Kafka's defaults, types and dynamic flags.
 */
export const NO_EFFECT_BROKER_DEFS: readonly BrokerConfigDef<unknown>[] = [
  broker({ name: 'sasl.kerberos.service.name', type: string, default: null, dynamic: true, noEffect: NO_SASL, doc: 'The Kerberos principal name that Kafka runs as.' }),
  broker({ name: 'sasl.kerberos.kinit.cmd', type: string, default: '/usr/bin/kinit', dynamic: true, noEffect: NO_SASL, doc: 'The Kerberos kinit command path.' }),
  broker({ name: 'sasl.kerberos.ticket.renew.window.factor', type: double, default: 0.8, dynamic: true, noEffect: NO_SASL, doc: 'The share of the ticket lifetime after which the login thread renews it.' }),
  broker({ name: 'sasl.kerberos.ticket.renew.jitter', type: double, default: 0.05, dynamic: true, noEffect: NO_SASL, doc: 'The share of random jitter added to the renewal time.' }),
  broker({ name: 'sasl.kerberos.min.time.before.relogin', type: long, default: 60_000, dynamic: true, noEffect: NO_SASL, doc: 'The login thread sleep time between refresh attempts, in ms.' }),
  broker({ name: 'sasl.kerberos.principal.to.local.rules', type: stringList, default: ['DEFAULT'], dynamic: true, noEffect: NO_SASL, doc: 'Rules mapping principal names to short names.' }),
  broker({ name: 'sasl.mechanism.inter.broker.protocol', type: string, default: 'GSSAPI', noEffect: NO_SASL, doc: 'The SASL mechanism used for inter-broker communication.' }),
  broker({
    name: 'security.inter.broker.protocol',
    type: oneOf(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL']),
    default: 'PLAINTEXT',
    noEffect: 'brokers talk over inter.broker.listener.name, which is PLAINTEXT',
    doc: 'The security protocol used to communicate between brokers.',
  }),
  broker({
    name: 'inter.broker.protocol.version',
    type: string,
    default: '3.9-IV0',
    validate: (v) => (/^\d+\.\d+(\.\d+)?(-IV\d+)?$/.test(v) ? undefined : 'expected a Kafka version such as 3.9-IV0'),
    noEffect: NO_IBP,
    doc: 'The version of the inter-broker protocol.',
  }),
].map((d) => ({ ...d, doc: `${d.doc} Accepted as Kafka does; no effect in Sluice: ${d.noEffect}.` }));

/** Every broker config by name: BROKER_DEFS, the topic-default synonyms and the no-effect ones. */
export const ALL_BROKER_DEFS: ReadonlyMap<string, BrokerConfigDef<unknown>> = new Map(
  [...Object.values(BROKER_DEFS), ...Object.values(TOPIC_DEFS).flatMap((t) => t.synonyms.map((s) => s.def)), ...NO_EFFECT_BROKER_DEFS].map((d) => [d.name, d]),
);

const LISTENER_SCOPED = /^listener\.name\.([A-Za-z0-9_-]+)\.(.+)$/;

/**
 * The def of a broker config name, plain or scoped to one listener
 * (listener.name.<listener in lower case>.<name>, for configs that allow it); listener is upper case.
 */
export function brokerConfigKey(key: string): { def: BrokerConfigDef<unknown>; listener: string | null } | undefined {
  const plain = ALL_BROKER_DEFS.get(key);
  if (plain) return { def: plain, listener: null };
  const m = LISTENER_SCOPED.exec(key);
  if (!m) return undefined;
  const def = ALL_BROKER_DEFS.get(m[2]);
  if (def?.perListener) return { def, listener: m[1].toUpperCase() };
  // SASL login settings go one level deeper, as in Kafka: listener.name.<listener>.<mechanism>.<name>.
  const mechanism = /^([a-z0-9-]+)\.(.+)$/.exec(m[2]);
  const mechanismDef = mechanism ? ALL_BROKER_DEFS.get(mechanism[2]) : undefined;
  return mechanismDef?.perMechanism ? { def: mechanismDef, listener: m[1].toUpperCase() } : undefined;
}

export const listenerScopedName = (listener: string, name: string): string => `listener.name.${listener.toLowerCase()}.${name}`;

export const topicDefOf = (name: string): TopicConfigDef<unknown> | undefined =>
  Object.hasOwn(TOPIC_DEFS, name) ? TOPIC_DEFS[name as TopicConfigName] : undefined;

/** The topic config a broker config supplies the default for, with its place in the chain. */
export function topicDefSuppliedBy(brokerKey: string): { def: TopicConfigDef<unknown>; index: number } | undefined {
  for (const def of Object.values(TOPIC_DEFS) as TopicConfigDef<unknown>[]) {
    const index = def.synonyms.findIndex((s) => s.def.name === brokerKey);
    if (index >= 0) return { def, index };
  }
  return undefined;
}

const SINGLE_NODE = 'Sluice keeps cluster metadata in etcd (sluice.metadata.store), with no controller quorum of its own';
const NO_THREAD_POOLS = 'Sluice serves requests on one event loop, without Kafka\'s thread pools';
const OS_BUFFERS = 'Sluice leaves socket buffer sizes to the OS';

/**
 * Kafka broker configs that common server.properties files set and that mean nothing here:
 * accepted and ignored (with a debug note), so a Kafka config file loads, while any other
 * unknown key is still an error.
 */
export const IGNORED_BROKER_KEYS: ReadonlyMap<string, string> = new Map([
  ['process.roles', SINGLE_NODE],
  ['controller.quorum.voters', SINGLE_NODE],
  ['controller.quorum.bootstrap.servers', SINGLE_NODE],
  ['num.replica.fetchers', 'Sluice runs one fetcher per leader broker, on the event loop'],
  ['zookeeper.connect', SINGLE_NODE],
  ['zookeeper.connection.timeout.ms', SINGLE_NODE],
  ['group.coordinator.rebalance.protocols', 'Sluice always serves the classic and consumer (KIP-848) group protocols; share groups follow group.share.enable'],
  ['group.coordinator.threads', NO_THREAD_POOLS],
  ['num.network.threads', NO_THREAD_POOLS],
  ['num.io.threads', NO_THREAD_POOLS],
  ['num.recovery.threads.per.data.dir', NO_THREAD_POOLS],
  ['background.threads', NO_THREAD_POOLS],
  ['log.cleaner.threads', NO_THREAD_POOLS],
  ['socket.send.buffer.bytes', OS_BUFFERS],
  ['socket.receive.buffer.bytes', OS_BUFFERS],
]);
