/**
 * Topic-level configs: checking what CreateTopics and AlterConfigs send, merging overrides over
 * the broker's defaults, and turning the result into what a partition log obeys.
 */
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../storage/log-config.js';
import type { BrokerConfig, TopicConfigName, TopicConfigValues } from './broker-config.js';
import { parseConfigValue, topicDefOf } from './config-defs.js';
import type { ConfigProblem } from './config-error.js';

export type { ConfigProblem } from './config-error.js';

/**
 * Parses topic config overrides. Problems come back one per entry with Kafka's INVALID_CONFIG
 * wording for unknown names; the valid entries are parsed regardless. A null value is refused as
 * Kafka refuses it in CreateTopics (to remove an override, leave the key out).
 */
export function validateTopicConfigs(entries: ReadonlyMap<string, string | null>): { values: Partial<TopicConfigValues>; errors: ConfigProblem[] } {
  const values: Partial<Record<TopicConfigName, unknown>> = {};
  const errors: ConfigProblem[] = [];
  for (const [name, raw] of entries) {
    const def = topicDefOf(name);
    if (!def) {
      errors.push({ name, message: `Unknown topic config name: ${name}` });
    } else if (raw === null) {
      errors.push({ name, message: `Null value not supported for topic configs: ${name}` });
    } else {
      const parsed = parseConfigValue(def, raw);
      if (parsed.ok) values[def.name] = parsed.value;
      else errors.push({ name, message: parsed.message });
    }
  }
  return { values: values as Partial<TopicConfigValues>, errors };
}

/** A topic's config: its overrides over the broker's topic defaults. */
export function effectiveTopicConfig(defaults: TopicConfigValues, overrides: Partial<TopicConfigValues>): TopicConfigValues {
  const merged: Record<string, unknown> = { ...defaults };
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) merged[name] = value;
  return merged as unknown as TopicConfigValues;
}

/** The broker-wide storage choices that are not topic configs. */
export type LogStorageOptions = Pick<BrokerConfig, 'logMmapMlock' | 'logIndexMode' | 'producerIdExpirationMs'>;

/** What a partition log obeys, from a topic's effective config and the broker's storage choices. */
export function toLogConfig(
  values: TopicConfigValues,
  storage: LogStorageOptions = { logMmapMlock: DEFAULT_LOG_CONFIG.mlock, logIndexMode: DEFAULT_LOG_CONFIG.indexMode, producerIdExpirationMs: DEFAULT_LOG_CONFIG.producerIdExpirationMs },
): LogConfig {
  const policy = values['cleanup.policy'];
  return {
    segmentBytes: values['segment.bytes'],
    segmentMs: values['segment.ms'],
    segmentIndexBytes: values['segment.index.bytes'],
    indexIntervalBytes: values['index.interval.bytes'],
    retentionMs: values['retention.ms'],
    retentionBytes: values['retention.bytes'],
    cleanupDelete: policy.includes('delete'),
    cleanupCompact: policy.includes('compact'),
    deleteRetentionMs: values['delete.retention.ms'],
    minCleanableDirtyRatio: values['min.cleanable.dirty.ratio'],
    minCompactionLagMs: values['min.compaction.lag.ms'],
    maxCompactionLagMs: values['max.compaction.lag.ms'],
    segmentJitterMs: values['segment.jitter.ms'],
    timestampType: values['message.timestamp.type'] === 'LogAppendTime' ? 'log-append' : 'create',
    flushMessages: values['flush.messages'],
    flushMs: values['flush.ms'],
    fileDeleteDelayMs: values['file.delete.delay.ms'],
    appendMode: values['sluice.log.append.mode'],
    flushMode: values['sluice.log.flush.mode'],
    mlock: storage.logMmapMlock,
    indexMode: storage.logIndexMode,
    producerIdExpirationMs: storage.producerIdExpirationMs,
  };
}
