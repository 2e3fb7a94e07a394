/**
 * DescribeConfigs answers for TOPIC and BROKER resources, from the config table: values in
 * Kafka's string forms, where each value came from, and the synonyms behind it.
 */
import type {
  DescribeConfigsResponseDescribeConfigsResourceResult,
  DescribeConfigsResponseDescribeConfigsSynonym,
} from '../protocol/generated/messages/describe-configs-response.js';
import type { BrokerConfig, TopicConfigName, TopicConfigValues } from './broker-config.js';
import { ALL_BROKER_DEFS, TOPIC_DEFS, topicDefSuppliedBy, type BrokerConfigDef, type TopicConfigDef } from './config-defs.js';
import { effectiveTopicConfig } from './topic-config.js';
import { ConfigType, type ConfigTypeId } from './value-types.js';

/** Kafka's DescribeConfigsResponse.ConfigSource ids. */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
  CLIENT_METRICS_CONFIG: 7,
  GROUP_CONFIG: 8,
} as const;
export type ConfigSourceId = (typeof ConfigSource)[keyof typeof ConfigSource];

/** On a single node the dynamic broker configs are the cluster-wide ones. */
export const DYNAMIC_CONFIG_SOURCE: ConfigSourceId = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG;

export type DescribedConfig = Omit<DescribeConfigsResponseDescribeConfigsResourceResult, 'unknownTaggedFields'>;
type Synonym = Omit<DescribeConfigsResponseDescribeConfigsSynonym, 'unknownTaggedFields'>;

export interface DescribeOptions {
  /** Only these names (unknown ones are skipped, as Kafka does); null, empty or absent for all. */
  keys?: readonly string[] | null;
  /**
   * The dynamic broker configs set for this broker alone (DYNAMIC_BROKER_CONFIG), apart from
   * the cluster-wide ones (DYNAMIC_DEFAULT_BROKER_CONFIG); both are in BrokerConfig.dynamicConfigs.
   * Absent on a single node, where the two are one set, reported cluster-wide.
   */
  dynamicLayers?: { perBroker: ReadonlyMap<string, string>; clusterDefault: ReadonlyMap<string, string> };
  /** Describing the cluster-wide resource (""): only its own synonyms, as Kafka lists them. */
  clusterDefault?: boolean;
  /** Fill `synonyms` (DescribeConfigs v1+ IncludeSynonyms); default true. */
  includeSynonyms?: boolean;
  /** Fill `documentation` (v3+ IncludeDocumentation); default true. */
  includeDocumentation?: boolean;
}

/**
 * The broker-level values behind a config, in Kafka's order: dynamic (this broker's, then the
 * cluster's), static, then defaults. As Kafka's ConfigHelper.configSynonyms does, the list
 * starts at the first entry for the chain's head: for a retention.ms at its default, the head
 * log.retention.ms has no value anywhere, so nothing is listed (not log.retention.hours=168).
 */
function brokerSynonyms(config: BrokerConfig, defs: readonly BrokerConfigDef<unknown>[], options: DescribeOptions): Synonym[] {
  const layer = (values: ReadonlyMap<string, string>, source: ConfigSourceId): Synonym[] =>
    defs.flatMap((d) => (values.has(d.name) ? [{ name: d.name, value: values.get(d.name)!, source }] : []));
  const layers = options.dynamicLayers;
  const dynamic = layers
    ? [...layer(layers.perBroker, ConfigSource.DYNAMIC_BROKER_CONFIG), ...layer(layers.clusterDefault, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)]
    : layer(config.dynamicConfigs, DYNAMIC_CONFIG_SOURCE);
  const all = [
    ...dynamic,
    ...layer(config.staticConfigs, ConfigSource.STATIC_BROKER_CONFIG),
    ...defs.flatMap((d) => (d.default === null ? [] : [{ name: d.name, value: d.type.format(d.default), source: ConfigSource.DEFAULT_CONFIG }])),
  ];
  const head = all.findIndex((s) => s.name === defs[0]?.name);
  return head < 0 ? [] : all.slice(head);
}

function entry(
  options: DescribeOptions,
  e: { name: string; value: string | null; source: ConfigSourceId; readOnly: boolean; configType: ConfigTypeId; doc: string; synonyms: Synonym[] },
): DescribedConfig {
  // Secrets are described as set or not, never with their value, as Kafka does.
  const sensitive = e.configType === ConfigType.PASSWORD;
  return {
    name: e.name,
    value: sensitive ? null : e.value,
    readOnly: e.readOnly,
    isDefault: e.source === ConfigSource.DEFAULT_CONFIG,
    configSource: e.source,
    isSensitive: sensitive,
    synonyms: options.includeSynonyms === false ? [] : sensitive ? e.synonyms.map((s) => ({ ...s, value: null })) : e.synonyms,
    configType: e.configType,
    documentation: options.includeDocumentation === false ? null : e.doc,
  };
}

function selected(names: string[], options: DescribeOptions): string[] {
  // Kafka reads an empty list of names like null: every config.
  const wanted = options.keys && options.keys.length > 0 ? new Set(options.keys) : undefined;
  return names.filter((n) => !wanted || wanted.has(n)).sort();
}

/** Every topic config of a topic with the given overrides, in name order. */
export function describeTopicConfigs(broker: BrokerConfig, overrides: Partial<TopicConfigValues>, options: DescribeOptions = {}): DescribedConfig[] {
  const values = effectiveTopicConfig(broker.topicDefaults, overrides);
  return selected(Object.keys(TOPIC_DEFS), options).map((name) => {
    const key = name as TopicConfigName;
    const def: TopicConfigDef<unknown> = TOPIC_DEFS[key];
    const value = def.type.format(values[key]);
    const overridden = overrides[key] !== undefined;
    const synonyms = [
      ...(overridden ? [{ name, value, source: ConfigSource.TOPIC_CONFIG }] : []),
      ...brokerSynonyms(broker, def.synonyms.map((s) => s.def), options),
    ];
    // The chain ends in a default, so its head is where the value came from; a config no
    // broker config defaults (leader.replication.throttled.replicas) has none: DEFAULT_CONFIG.
    const source = (synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG) as ConfigSourceId;
    return entry(options, { name, value, source, readOnly: false, configType: def.type.configType, doc: def.doc, synonyms });
  });
}

/** Every broker config, in name order; read-only unless Kafka can change it at runtime. */
export function describeBrokerConfigs(broker: BrokerConfig, options: DescribeOptions = {}): DescribedConfig[] {
  return selected([...ALL_BROKER_DEFS.keys()], options).map((name) => {
    const def = ALL_BROKER_DEFS.get(name)!;
    const supplied = topicDefSuppliedBy(name);
    // A topic default's broker synonyms that rank below this one stand behind it (ms, minutes, hours).
    const chain = supplied ? supplied.def.synonyms.slice(supplied.index).map((s) => s.def) : [def];
    // The cluster-wide resource lists only its own layer (Kafka filters the rest out).
    const synonyms = brokerSynonyms(broker, chain, options).filter((s) => !options.clusterDefault || s.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
    const mine = synonyms.find((s) => s.name === name);
    const value = mine ? mine.value : def.default === null ? null : def.type.format(def.default);
    // Kafka's source is the head of the synonym list, whichever name it is.
    const source = (synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG) as ConfigSourceId;
    return entry(options, { name, value, source, readOnly: !def.dynamic, configType: def.type.configType, doc: def.doc, synonyms });
  });
}
