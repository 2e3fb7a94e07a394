/**
 * The config resources DescribeConfigs, AlterConfigs and IncrementalAlterConfigs work on: a
 * topic's overrides, and the broker's dynamic configs. On a single node the per-broker resource
 * ("1") and the cluster-wide default ("") are one and the same set.
 */
import type { BrokerConfig, TopicConfigValues } from '../../config/broker-config.js';
import { ALL_BROKER_DEFS, topicDefOf, topicDefSuppliedBy } from '../../config/config-defs.js';
import { ConfigSource, describeBrokerConfigs, describeTopicConfigs, type DescribedConfig, type DescribeOptions } from '../../config/describe-configs.js';
import { withDynamicBrokerConfigs } from '../../config/load-config.js';
import { validateTopicConfigs } from '../../config/topic-config.js';
import { ConfigType } from '../../config/value-types.js';
import { log } from '../../log.js';
import type { TopicImage } from '../../metadata/image.js';
import { topicNameProblem } from '../../metadata/names.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { BrokerContext } from '../broker-context.js';
import { failed, rolledBack, succeeded, type Outcome } from './admin-outcome.js';
import { describeGroupConfigs, groupConfigProblems, isGroupListConfig } from '../../coordinator/share/share-group-configs.js';
import { isInternalTopic } from './internal-topics.js';

/** Kafka's ConfigResource.Type ids. */
const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, CLIENT_METRICS: 16, GROUP: 32 } as const;
const TYPE_NAMES = new Map<number, string>(Object.entries(ResourceType).map(([name, id]) => [id, name]));

const unsupportedType = (type: number): Outcome => failed(ErrorCode.INVALID_REQUEST, `Unsupported resource type: ${TYPE_NAMES.get(type) ?? type}`);

/** A topic's stored overrides, parsed; they were validated when they were set. */
export function parsedOverrides(configs: Readonly<Record<string, string>>): Partial<TopicConfigValues> {
  return validateTopicConfigs(new Map(Object.entries(configs))).values;
}

function topicNamed(ctx: BrokerContext, name: string): TopicImage | Outcome {
  const problem = topicNameProblem(name);
  if (problem) return failed(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
  return ctx.metadata.topic(name) ?? failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
}

function brokerNameProblem(ctx: BrokerContext, name: string): Outcome | null {
  const nodeId = ctx.config.nodeId;
  if (name === '' || name === String(nodeId)) return null;
  if (!/^-?\d+$/.test(name)) return failed(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`);
  return failed(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${nodeId} or empty string, but received ${name}`);
}

const isOutcome = (x: object): x is Outcome => 'errorCode' in x;

/**
 * In a cluster, this broker's own dynamic configs (DYNAMIC_BROKER_CONFIG) apart from the
 * cluster-wide ones; on a single node the store keeps one set, described as cluster-wide.
 */
function dynamicLayers(ctx: BrokerContext): DescribeOptions['dynamicLayers'] {
  const own = ctx.store.brokerConfigsOf(ctx.config.nodeId);
  const cluster = ctx.store.brokerConfigsOf(null);
  if (own === cluster) return undefined;
  const known = (m: Readonly<Record<string, string>>) => new Map(Object.entries(m).filter(([k]) => ctx.config.dynamicConfigs.has(k)));
  return { perBroker: known(own), clusterDefault: known(cluster) };
}

/** A DescribeConfigs answer for one resource: the configs, or why there are none. */
export function describeResource(ctx: BrokerContext, type: number, name: string, options: DescribeOptions): { outcome: Outcome; configs: DescribedConfig[] } {
  const refused = (outcome: Outcome) => ({ outcome, configs: [] });
  switch (type) {
    case ResourceType.TOPIC: {
      const topic = topicNamed(ctx, name);
      if (isOutcome(topic)) return refused(topic);
      return { outcome: succeeded(), configs: describeTopicConfigs(ctx.config, parsedOverrides(topic.configs), { ...options, dynamicLayers: dynamicLayers(ctx) }) };
    }
    case ResourceType.BROKER: {
      const problem = brokerNameProblem(ctx, name);
      if (problem) return refused(problem);
      const clusterDefault = name === '';
      const all = describeBrokerConfigs(ctx.config, { ...options, dynamicLayers: dynamicLayers(ctx), clusterDefault });
      // Kafka's cluster-wide resource lists only what was set cluster-wide at runtime.
      return { outcome: succeeded(), configs: clusterDefault ? all.filter((c) => c.configSource === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG) : all };
    }
    case ResourceType.BROKER_LOGGER:
      // Sluice has no named loggers whose levels could be listed.
      return { outcome: brokerNameProblem(ctx, name) ?? succeeded(), configs: [] };
    case ResourceType.GROUP:
      // A group's configs exist whether or not the group does, as in Kafka.
      return { outcome: succeeded(), configs: describeGroupConfigs(ctx.metadata.groupConfigs.get(name) ?? {}, ctx.config, options) };
    default:
      return refused(unsupportedType(type));
  }
}

/** A resource whose overrides AlterConfigs replaces and IncrementalAlterConfigs edits. */
export interface AlterableResource {
  /** The overrides in force, as strings by name. */
  readonly current: Readonly<Record<string, string>>;
  /** Whether a config holds a list, the only kind APPEND and SUBTRACT work on. */
  isList(key: string): boolean;
  /** The value a key has while it is not overridden, which APPEND and SUBTRACT start from. */
  inherited(key: string): string | null;
  /** Checks a complete new override set: its problems, or the way to put it in force. */
  prepare(next: Record<string, string>): { problems: string[] } | { commit(): Promise<void> };
}

const valueOf = (described: DescribedConfig[]): string | null => described[0]?.value ?? null;
const ONE_VALUE: DescribeOptions = { includeSynonyms: false, includeDocumentation: false };

function topicResource(ctx: BrokerContext, topic: TopicImage): AlterableResource {
  return {
    current: topic.configs,
    isList: (key) => topicDefOf(key)?.type.configType === ConfigType.LIST,
    inherited: (key) => valueOf(describeTopicConfigs(ctx.config, {}, { ...ONE_VALUE, keys: [key] })),
    prepare(next) {
      const { errors } = validateTopicConfigs(new Map(Object.entries(next)));
      if (errors.length > 0) return { problems: errors.map((e) => e.message) };
      // The broker and the logs follow the change as it comes back in the metadata.
      return { commit: () => ctx.partitions.setTopicConfigs(topic.name, next) };
    },
  };
}

/**
 * Dynamic broker configs that take effect without a restart: the topic defaults. The other
 * configs Kafka can change at runtime (max.connections) are read once, when Sluice starts.
 */
function notLive(key: string): string | null {
  const def = ALL_BROKER_DEFS.get(key);
  if (!def?.dynamic || topicDefSuppliedBy(key) || def.noEffect) return null;
  return `Cannot update ${key} dynamically: Sluice reads it at start-up only; set it in the properties file and restart`;
}

/**
 * The broker's configuration at start-up, with the dynamic configs AlterConfigs stored. One that
 * no longer applies (after an upgrade, say) is skipped with a warning rather than stopping the broker.
 */
export function withStoredBrokerConfigs(config: BrokerConfig, stored: Readonly<Record<string, string>>): BrokerConfig {
  const { config: applied, errors } = withDynamicBrokerConfigs(config, new Map(Object.entries(stored)));
  for (const e of errors) log.warn({ config: e.name }, `stored dynamic broker config ignored: ${e.message}`);
  return applied;
}

/** The dynamic configs of this broker ("1") or of every broker (""): in a cluster two sets, on one node the same. */
function brokerResource(ctx: BrokerContext, name: string): AlterableResource {
  const scope = name === '' ? null : ctx.config.nodeId;
  return {
    current: ctx.store.brokerConfigsOf(scope),
    isList: (key) => ALL_BROKER_DEFS.get(key)?.type.configType === ConfigType.LIST,
    inherited: (key) => valueOf(describeBrokerConfigs(ctx.config, { ...ONE_VALUE, keys: [key] })),
    prepare(next) {
      const { errors } = withDynamicBrokerConfigs(ctx.config, new Map(Object.entries(next)));
      const problems = [...errors.map((e) => e.message), ...Object.keys(next).flatMap((k) => notLive(k) ?? [])];
      if (problems.length > 0) return { problems };
      return { commit: () => ctx.store.setBrokerConfigs(scope, next) };
    },
  };
}

/** Why a topic cannot take a group's dead letters: only its name is checked, it need not exist yet. */
function deadLetterTopicProblem(name: string): string | undefined {
  if (isInternalTopic(name)) return `${name} is an internal topic`;
  return topicNameProblem(name) ?? undefined;
}

/** A group's configs (share groups' share.* and Sluice's), kept with the cluster metadata. */
function groupResource(ctx: BrokerContext, groupId: string): AlterableResource {
  return {
    current: ctx.metadata.groupConfigs.get(groupId) ?? {},
    isList: isGroupListConfig,
    inherited: (key) => valueOf(describeGroupConfigs({}, ctx.config, { ...ONE_VALUE, keys: [key] })),
    prepare(next) {
      const problems = groupConfigProblems(next, ctx.config, deadLetterTopicProblem);
      if (problems.length > 0) return { problems };
      return { commit: () => ctx.store.setGroupConfigs(groupId, next) };
    },
  };
}

function alterableResource(ctx: BrokerContext, type: number, name: string): AlterableResource | Outcome {
  switch (type) {
    case ResourceType.TOPIC: {
      const topic = topicNamed(ctx, name);
      return isOutcome(topic) ? topic : topicResource(ctx, topic);
    }
    case ResourceType.BROKER:
      return brokerNameProblem(ctx, name) ?? brokerResource(ctx, name);
    case ResourceType.GROUP:
      return name === '' ? failed(ErrorCode.INVALID_REQUEST, 'Group id must not be empty') : groupResource(ctx, name);
    default:
      return unsupportedType(type);
  }
}

/** A new override set for a resource, or why it cannot be computed. */
export type NextOverrides = { overrides: Record<string, string> } | Outcome;

/**
 * Alters one resource: `next` computes the new override set from the resource, which is checked
 * as a whole and, unless validateOnly, stored and applied.
 */
export async function alterResource(
  ctx: BrokerContext,
  type: number,
  name: string,
  next: (r: AlterableResource) => NextOverrides,
  validateOnly: boolean,
): Promise<Outcome> {
  const resource = alterableResource(ctx, type, name);
  if (isOutcome(resource)) return resource;
  const computed = next(resource);
  if (isOutcome(computed)) return computed;
  const prepared = resource.prepare(computed.overrides);
  if ('problems' in prepared) return failed(ErrorCode.INVALID_CONFIG, prepared.problems.join('; '));
  if (validateOnly) return succeeded();
  try {
    await prepared.commit();
  } catch (e) {
    return rolledBack(`The configs of ${name} were not changed`, e);
  }
  return succeeded();
}
