/**
 * Builds the BrokerConfig from Kafka-named settings: server.properties, --override, and the
 * dynamic configs AlterConfigs stores. Everything found wrong is reported at once.
 */
import { log } from '../log.js';
import type { BrokerConfig, ListenerAddress, TopicConfigName, TopicConfigValues } from './broker-config.js';
import {
  ALL_BROKER_DEFS,
  BROKER_DEFS,
  brokerConfigKey,
  IGNORED_BROKER_KEYS,
  listenerScopedName,
  parseConfigValue,
  TOPIC_DEFS,
  topicDefOf,
  type BrokerConfigDef,
  type TopicConfigDef,
} from './config-defs.js';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { listenerSasl } from '../security/sasl/listener-sasl.js';
import { formatHostPort, formatListener, isLoopback, isWildcardHost, listenerList, usesSasl, usesTls, type ListenerTls, type SecurityProtocol } from './listeners.js';
import { closestName } from './suggest.js';

export { ConfigError, type ConfigProblem } from './config-error.js';
export { parseOverride, parseProperties, readPropertiesFile } from './properties-file.js';

/** Where clients are sent when a listener binds every interface and nothing else is advertised. */
export const LOOPBACK_ADVERTISED_HOST = '127.0.0.1';

/** Parsed values by config name, dynamic over static, falling back to the table's defaults. */
class Layers {
  constructor(
    readonly statics: ReadonlyMap<string, unknown>,
    readonly dynamics: ReadonlyMap<string, unknown>,
  ) {}

  isSet(def: BrokerConfigDef<unknown>): boolean {
    return this.dynamics.has(def.name) || this.statics.has(def.name);
  }

  get<T>(def: BrokerConfigDef<T>): T | null {
    const layer = this.dynamics.has(def.name) ? this.dynamics : this.statics.has(def.name) ? this.statics : undefined;
    return layer ? (layer.get(def.name) as T) : def.default;
  }

  /** A config that can be set per listener: listener.name.<listener>.<name> wins over <name>. */
  forListener<T>(def: BrokerConfigDef<T>, listener: string, mechanism?: string): T | null {
    const scoped = listenerScopedName(listener, mechanism ? `${mechanism.toLowerCase()}.${def.name}` : def.name);
    for (const layer of [this.dynamics, this.statics]) if (layer.has(scoped)) return layer.get(scoped) as T;
    return this.get(def);
  }

  /** For configs with a default: null would be a bug in the table, not in the user's file. */
  need<T>(def: BrokerConfigDef<T>): T {
    const v = this.get(def);
    if (v === null) throw new Error(`${def.name} has no value and no default`);
    return v;
  }
}

function unknownKeyProblem(key: string): string {
  const topicDef = topicDefOf(key);
  if (topicDef) return `unknown broker config ${key}: it is a topic config; ${topicDef.synonyms[0] ? `its broker-wide default is ${topicDef.synonyms[0].def.name}` : 'set it on the topic'}`;
  const near = closestName(key, [...ALL_BROKER_DEFS.keys(), ...IGNORED_BROKER_KEYS.keys()]);
  return near ? `unknown config ${key} (did you mean ${near}?)` : `unknown config ${key}`;
}

/** The first value along the synonym chain gives the default; see TopicConfigDef. */
function topicDefault<T>(def: TopicConfigDef<T>, layers: Layers): T {
  for (const s of def.synonyms) {
    const v = layers.get(s.def);
    if (v !== null) return s.toTopic ? s.toTopic(v) : v;
  }
  if (def.default !== undefined) return def.default;
  throw new Error(`no broker default for topic config ${def.name}`);
}

function resolveTopicDefaults(layers: Layers): TopicConfigValues {
  const defaults: Partial<Record<TopicConfigName, unknown>> = {};
  for (const def of Object.values(TOPIC_DEFS) as TopicConfigDef<unknown>[]) defaults[def.name] = topicDefault(def, layers);
  return defaults as TopicConfigValues;
}

/**
 * The listeners to bind, each with a security protocol from listener.security.protocol.map.
 * Controller listeners (from a KRaft server.properties) are dropped rather than refused, so
 * Kafka's sample configs load unchanged.
 */
function servedListeners(
  def: BrokerConfigDef<ListenerAddress[]>,
  all: ListenerAddress[],
  controllerNames: ReadonlySet<string>,
  protocols: ReadonlyMap<string, SecurityProtocol>,
  problems: string[],
): ListenerAddress[] {
  const listeners = all.filter((l) => !controllerNames.has(l.name));
  const where = `${def.name}=${listenerList.format(all)}`;
  for (const l of listeners) {
    if (!protocols.has(l.name)) problems.push(`${where}: listener name ${l.name} has no security protocol: add ${l.name}:PLAINTEXT (or SSL, SASL_PLAINTEXT, SASL_SSL) to listener.security.protocol.map`);
  }
  if (listeners.length === 0 && all.length > 0) problems.push(`${where}: no listener left once the controller listeners are set aside`);
  const seen = new Set<string>();
  for (const l of listeners) {
    const address = formatListener(l);
    if (l.port !== 0 && seen.has(address)) problems.push(`${where}: ${address} is listed twice`);
    seen.add(address);
  }
  return listeners;
}

/** The ssl.* settings of a TLS listener, checked for a usable key and certificate source. */
function listenerTls(layers: Layers, listener: string, problems: string[]): ListenerTls {
  const d = BROKER_DEFS;
  const get = <T>(def: BrokerConfigDef<T>): T | null => layers.forListener(def, listener);
  const tls: ListenerTls = {
    keystoreLocation: get(d.sslKeystoreLocation),
    keystoreKey: get(d.sslKeystoreKey),
    keystoreCertificateChain: get(d.sslKeystoreCertificateChain),
    keyPassword: get(d.sslKeyPassword),
    truststoreLocation: get(d.sslTruststoreLocation),
    truststoreCertificates: get(d.sslTruststoreCertificates),
    clientAuth: get(d.sslClientAuth) ?? 'none',
    enabledProtocols: get(d.sslEnabledProtocols) ?? [],
  };
  const where = `listener ${listener} (TLS)`;
  const pemOnly = (def: BrokerConfigDef<string>, what: string): void => {
    const type = get(def);
    if (type !== 'PEM') problems.push(`${where}: ${def.name} is ${type}: set ${def.name}=PEM (Sluice reads PEM ${what} only)`);
  };
  pemOnly(d.sslKeystoreType, 'key stores');
  const inline = tls.keystoreKey !== null || tls.keystoreCertificateChain !== null;
  if (tls.keystoreLocation !== null && inline) problems.push(`${where}: set either ssl.keystore.location or ssl.keystore.key with ssl.keystore.certificate.chain, not both`);
  else if (inline && (tls.keystoreKey === null || tls.keystoreCertificateChain === null)) problems.push(`${where}: ssl.keystore.key and ssl.keystore.certificate.chain go together`);
  else if (tls.keystoreLocation === null && !inline) problems.push(`${where}: no private key and certificate: set ssl.keystore.location (a PEM file) or ssl.keystore.key and ssl.keystore.certificate.chain`);
  const trusted = tls.truststoreLocation !== null || tls.truststoreCertificates !== null;
  if (tls.truststoreLocation !== null && tls.truststoreCertificates !== null) problems.push(`${where}: set either ssl.truststore.location or ssl.truststore.certificates, not both`);
  if (trusted) pemOnly(d.sslTruststoreType, 'trust stores');
  if (tls.clientAuth !== 'none' && !trusted) problems.push(`${where}: ssl.client.auth=${tls.clientAuth} needs the CAs client certificates chain to: set ssl.truststore.location or ssl.truststore.certificates`);
  return tls;
}

/**
 * Without advertised.listeners clients are given the listeners themselves. A wildcard host
 * cannot be connected to, and Kafka's answer (the machine's canonical host name) often does not
 * resolve on a developer machine, so Sluice advertises the loopback address: local clients work,
 * and remote ones need advertised.listeners set.
 */
function defaultAdvertised(listeners: ListenerAddress[], notes: string[]): ListenerAddress[] {
  return listeners.map((l) => {
    if (!isWildcardHost(l.host)) return l;
    notes.push(`advertised.listeners is unset: advertising ${LOOPBACK_ADVERTISED_HOST} for ${formatListener(l)}, which only local clients can reach`);
    return { ...l, host: LOOPBACK_ADVERTISED_HOST };
  });
}

function formatLayer(values: ReadonlyMap<string, unknown>): Map<string, string> {
  return new Map([...values].map(([name, v]) => [name, brokerConfigKey(name)!.def.type.format(v)]));
}

/** Problems go to `problems`; `notes` collects what is worth telling an operator. */
function assemble(layers: Layers, problems: string[], notes: string[]): BrokerConfig {
  const d = BROKER_DEFS;
  const brokerId = layers.get(d.brokerId);
  const nodeId = layers.isSet(d.nodeId) || brokerId === null ? layers.need(d.nodeId) : brokerId;
  if (brokerId !== null && brokerId !== nodeId) problems.push(`broker.id=${brokerId} and node.id=${nodeId} differ; set only node.id`);

  const controllerNames = new Set(layers.need(d.controllerListenerNames).map((n) => n.toUpperCase()));
  const protocolMap = layers.need(d.listenerSecurityProtocolMap);
  const listeners = servedListeners(d.listeners, layers.need(d.listeners), controllerNames, protocolMap, problems);
  const listenerSecurityProtocols = new Map(listeners.map((l) => [l.name, protocolMap.get(l.name) ?? 'PLAINTEXT']));
  const tlsListeners = new Map([...listenerSecurityProtocols].filter(([, p]) => usesTls(p)).map(([name]) => [name, listenerTls(layers, name, problems)]));
  const saslListeners = new Map(
    [...listenerSecurityProtocols].filter(([, p]) => usesSasl(p)).map(([name]) => [name, listenerSasl(name, (def, mechanism) => layers.forListener(def, name, mechanism), notes)]),
  );
  for (const key of [...layers.statics.keys(), ...layers.dynamics.keys()]) {
    const scopedTo = brokerConfigKey(key)?.listener;
    if (scopedTo && !listenerSecurityProtocols.has(scopedTo) && !controllerNames.has(scopedTo)) problems.push(`${key}: there is no listener named ${scopedTo}`);
  }
  const interBroker = layers.get(d.interBrokerListenerName)?.toUpperCase() ?? listeners[0]?.name;
  const interBrokerProtocol = interBroker === undefined ? undefined : listenerSecurityProtocols.get(interBroker);
  if (layers.isSet(d.interBrokerListenerName) && interBrokerProtocol === undefined) {
    problems.push(`inter.broker.listener.name=${interBroker}: there is no listener of that name`);
  } else if (interBrokerProtocol !== undefined && interBrokerProtocol !== 'PLAINTEXT' && (layers.isSet(d.interBrokerListenerName) || layers.need(d.metadataStore) !== 'embedded')) {
    problems.push(
      `inter.broker.listener.name=${interBroker}: its security protocol is ${interBrokerProtocol}, and brokers talk to each other over PLAINTEXT only: name a PLAINTEXT listener (e.g. one on a private address)`,
    );
  }
  const console = layers.get(d.consoleListener);
  // Clients that must prove who they are would otherwise have a way around it.
  const authenticates = [...listenerSecurityProtocols.values()].some(usesSasl) || [...tlsListeners.values()].some((t) => t.clientAuth !== 'none') || layers.need(d.authorizerClassName) !== '';
  if (console !== null && authenticates && !isLoopback(console.host)) {
    problems.push(`sluice.console.listener=${formatHostPort(console)}: the web console has no login, so with SASL, TLS client authentication or an authorizer configured it may listen on a loopback address only (e.g. 127.0.0.1:8080)`);
  }
  const advertisedSet = layers.get(d.advertisedListeners);
  let advertisedListeners: ListenerAddress[];
  if (advertisedSet === null) {
    advertisedListeners = defaultAdvertised(listeners, notes);
  } else {
    advertisedListeners = servedListeners(d.advertisedListeners, advertisedSet, controllerNames, protocolMap, problems);
    for (const l of advertisedListeners.filter((a) => isWildcardHost(a.host))) {
      problems.push(`advertised.listeners=${listenerList.format(advertisedSet)}: ${formatListener(l)} is the wildcard address, which clients cannot connect to`);
    }
  }

  const minSession = layers.need(d.groupMinSessionTimeoutMs);
  const maxSession = layers.need(d.groupMaxSessionTimeoutMs);
  if (minSession > maxSession) {
    problems.push(`group.min.session.timeout.ms=${minSession} is above group.max.session.timeout.ms=${maxSession}`);
  }
  const lock = [d.groupShareMinRecordLockDurationMs, d.groupShareRecordLockDurationMs, d.groupShareMaxRecordLockDurationMs].map((def) => ({ name: def.name, value: layers.need(def) }));
  if (lock[0].value > lock[1].value || lock[1].value > lock[2].value) {
    problems.push(`${lock.map((l) => `${l.name}=${l.value}`).join(', ')}: expected min <= default <= max`);
  }

  const topicDefaults = resolveTopicDefaults(layers);
  return {
    nodeId,
    listeners,
    advertisedListeners,
    listenerSecurityProtocols,
    tlsListeners,
    saslListeners,
    sslHandshakeTimeoutMs: layers.need(d.sslHandshakeTimeoutMs),
    sslReloadCheckIntervalMs: layers.need(d.sslReloadCheckIntervalMs),
    requestFrameTimeoutMs: layers.need(d.requestFrameTimeoutMs),
    logDirs: layers.get(d.logDirs) ?? layers.need(d.logDir),
    numPartitions: layers.need(d.numPartitions),
    defaultReplicationFactor: layers.need(d.defaultReplicationFactor),
    autoCreateTopicsEnable: layers.need(d.autoCreateTopicsEnable),
    authorizerClassName: layers.need(d.authorizerClassName),
    superUsers: layers.need(d.superUsers).split(';').map((p) => p.trim()).filter((p) => p !== ''),
    allowEveryoneIfNoAclFound: layers.need(d.allowEveryoneIfNoAclFound),
    messageMaxBytes: topicDefaults['max.message.bytes'],
    socketRequestMaxBytes: layers.need(d.socketRequestMaxBytes),
    connectionsMaxIdleMs: layers.need(d.connectionsMaxIdleMs),
    maxConnections: layers.need(d.maxConnections),
    maxConnectionsPerIp: layers.need(d.maxConnectionsPerIp),
    maxConnectionsPerIpOverrides: layers.need(d.maxConnectionsPerIpOverrides),
    maxConnectionCreationRate: layers.need(d.maxConnectionCreationRate),
    quotaWindowNum: layers.need(d.quotaWindowNum),
    quotaWindowSizeSeconds: layers.need(d.quotaWindowSizeSeconds),
    queuedMaxRequests: layers.need(d.queuedMaxRequests),
    maxIncrementalFetchSessionCacheSlots: layers.need(d.maxIncrementalFetchSessionCacheSlots),
    logRetentionCheckIntervalMs: layers.need(d.logRetentionCheckIntervalMs),
    logCleanerBackoffMs: layers.need(d.logCleanerBackoffMs),
    logFlushOffsetCheckpointIntervalMs: layers.need(d.logFlushOffsetCheckpointIntervalMs),
    offsetsTopicNumPartitions: layers.need(d.offsetsTopicNumPartitions),
    offsetsRetentionMs: layers.need(d.offsetsRetentionMinutes) * 60_000,
    groupInitialRebalanceDelayMs: layers.need(d.groupInitialRebalanceDelayMs),
    groupMinSessionTimeoutMs: minSession,
    groupMaxSessionTimeoutMs: maxSession,
    groupConsumerAssignors: layers.need(d.groupConsumerAssignors),
    groupConsumerSessionTimeoutMs: layers.need(d.groupConsumerSessionTimeoutMs),
    groupConsumerHeartbeatIntervalMs: layers.need(d.groupConsumerHeartbeatIntervalMs),
    groupConsumerMigrationPolicy: layers.need(d.groupConsumerMigrationPolicy),
    groupShareEnable: layers.need(d.groupShareEnable),
    groupShareRecordLockDurationMs: layers.need(d.groupShareRecordLockDurationMs),
    groupShareMinRecordLockDurationMs: layers.need(d.groupShareMinRecordLockDurationMs),
    groupShareMaxRecordLockDurationMs: layers.need(d.groupShareMaxRecordLockDurationMs),
    groupShareDeliveryCountLimit: layers.need(d.groupShareDeliveryCountLimit),
    groupSharePartitionMaxRecordLocks: layers.need(d.groupSharePartitionMaxRecordLocks),
    groupShareSessionTimeoutMs: layers.need(d.groupShareSessionTimeoutMs),
    groupShareHeartbeatIntervalMs: layers.need(d.groupShareHeartbeatIntervalMs),
    groupShareMaxSize: layers.need(d.groupShareMaxSize),
    fetchSessionCacheMaxPartitions: layers.need(d.fetchSessionCacheMaxPartitions),
    fetchTransfer: layers.need(d.fetchTransfer),
    consoleListener: console,
    logMmapMlock: layers.need(d.logMmapMlock),
    logIndexMode: layers.need(d.logIndexMode),
    logMaxOpenFiles: layers.need(d.logMaxOpenFiles),
    metadataStore: layers.need(d.metadataStore),
    brokerRack: layers.get(d.brokerRack),
    brokerSessionTimeoutMs: layers.need(d.brokerSessionTimeoutMs),
    interBrokerListenerName: layers.get(d.interBrokerListenerName),
    replicaLagTimeMaxMs: layers.need(d.replicaLagTimeMaxMs),
    replicaFetchWaitMaxMs: layers.need(d.replicaFetchWaitMaxMs),
    replicaFetchMinBytes: layers.need(d.replicaFetchMinBytes),
    replicaFetchMaxBytes: layers.need(d.replicaFetchMaxBytes),
    replicaFetchResponseMaxBytes: layers.need(d.replicaFetchResponseMaxBytes),
    replicaFetchBackoffMs: layers.need(d.replicaFetchBackoffMs),
    offsetsTopicReplicationFactor: layers.need(d.offsetsTopicReplicationFactor),
    offsetsTopicSegmentBytes: layers.need(d.offsetsTopicSegmentBytes),
    transactionStateLogNumPartitions: layers.need(d.transactionStateLogNumPartitions),
    transactionStateLogReplicationFactor: layers.need(d.transactionStateLogReplicationFactor),
    transactionStateLogMinIsr: layers.need(d.transactionStateLogMinIsr),
    transactionStateLogSegmentBytes: layers.need(d.transactionStateLogSegmentBytes),
    shareStateTopicNumPartitions: layers.need(d.shareStateTopicNumPartitions),
    shareStateTopicReplicationFactor: layers.need(d.shareStateTopicReplicationFactor),
    shareStateTopicMinIsr: layers.need(d.shareStateTopicMinIsr),
    shareStateTopicSegmentBytes: layers.need(d.shareStateTopicSegmentBytes),
    deliveryDelayMaxMs: layers.need(d.deliveryDelayMaxMs),
    producerIdExpirationMs: layers.need(d.producerIdExpirationMs),
    transactionMaxTimeoutMs: layers.need(d.transactionMaxTimeoutMs),
    transactionalIdExpirationMs: layers.need(d.transactionalIdExpirationMs),
    transactionAbortTimedOutTransactionCleanupIntervalMs: layers.need(d.transactionAbortTimedOutTransactionCleanupIntervalMs),
    transactionPartitionVerificationEnable: layers.need(d.transactionPartitionVerificationEnable),
    autoLeaderRebalanceEnable: layers.need(d.autoLeaderRebalanceEnable),
    leaderImbalanceCheckIntervalSeconds: layers.need(d.leaderImbalanceCheckIntervalSeconds),
    controlledShutdownEnable: layers.need(d.controlledShutdownEnable),
    staticConfigs: formatLayer(layers.statics),
    dynamicConfigs: formatLayer(layers.dynamics),
    topicDefaults,
  };
}

/**
 * The broker's configuration from server.properties entries and --override entries (which
 * win). Unknown keys, malformed or out-of-range values and inconsistent combinations are all
 * collected into one ConfigError. Kafka keys that do not apply (IGNORED_BROKER_KEYS) are
 * skipped with a debug note.
 */
export function buildBrokerConfig(props: ReadonlyMap<string, string>, overrides: ReadonlyMap<string, string> = new Map()): BrokerConfig {
  const problems: string[] = [];
  const notes: string[] = [];
  const statics = new Map<string, unknown>();
  for (const [key, raw] of new Map([...props, ...overrides])) {
    const def = brokerConfigKey(key)?.def;
    if (!def) {
      const ignored = IGNORED_BROKER_KEYS.get(key);
      if (ignored) log.debug({ key, value: raw }, `ignoring ${key}: ${ignored}`);
      else problems.push(unknownKeyProblem(key));
      continue;
    }
    const parsed = parseConfigValue({ ...def, name: key }, raw);
    if (parsed.ok) statics.set(key, parsed.value);
    else problems.push(parsed.message);
  }
  // Assembling with bad entries left out still finds the problems that span several keys.
  const config = assemble(new Layers(statics, new Map()), problems, notes);
  if (problems.length > 0) throw new ConfigError(problems);
  for (const note of notes) log.info(note);
  return config;
}

/** Every config at its default. */
export function defaultBrokerConfig(): BrokerConfig {
  return buildBrokerConfig(new Map());
}

/**
 * `base` with the dynamic broker configs (AlterConfigs on a BROKER resource) applied; `dynamic`
 * is the complete set, replacing any earlier one. Entries that are unknown, read-only or invalid
 * are left out and reported, the rest applied.
 */
export function withDynamicBrokerConfigs(base: BrokerConfig, dynamic: ReadonlyMap<string, string>): { config: BrokerConfig; errors: ConfigProblem[] } {
  const errors: ConfigProblem[] = [];
  const dynamics = new Map<string, unknown>();
  for (const [name, raw] of dynamic) {
    const def = brokerConfigKey(name)?.def;
    if (!def) {
      errors.push({ name, message: `Unknown broker config name: ${name}` });
    } else if (!def.dynamic) {
      errors.push({ name, message: `Cannot update ${name} dynamically: it is read-only; set it in the properties file and restart` });
    } else {
      const parsed = parseConfigValue(def, raw);
      if (parsed.ok) dynamics.set(name, parsed.value);
      else errors.push({ name, message: parsed.message });
    }
  }
  const statics = new Map<string, unknown>();
  for (const [name, text] of base.staticConfigs) {
    const parsed = parseConfigValue(brokerConfigKey(name)!.def, text);
    if (!parsed.ok) throw new Error(`static config no longer parses: ${parsed.message}`);
    statics.set(name, parsed.value);
  }
  const problems: string[] = [];
  const config = assemble(new Layers(statics, dynamics), problems, []);
  // Only cross-key checks can fail here, and none of them involve a dynamic config.
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, errors };
}
