import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBrokerConfig } from '../../src/config/load-config.js';
import { effectiveTopicConfig, toLogConfig, validateTopicConfigs } from '../../src/config/topic-config.js';
import type { TopicConfigValues } from '../../src/config/broker-config.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/log-config.js';

const validate = (entries: Record<string, string | null>) => validateTopicConfigs(new Map(Object.entries(entries)));

test('valid topic configs parse to typed values', () => {
  const { values, errors } = validate({
    'cleanup.policy': 'compact,delete',
    'compression.type': 'lz4',
    'retention.ms': '-1',
    'retention.bytes': '1048576',
    'segment.bytes': '14',
    'min.cleanable.dirty.ratio': '0.1',
    'message.timestamp.type': 'LogAppendTime',
    'flush.messages': '9223372036854775807',
    'sluice.log.flush.mode': 'sync',
    'max.message.bytes': ' 2000 ',
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(values, {
    'cleanup.policy': ['compact', 'delete'],
    'compression.type': 'lz4',
    'retention.ms': -1,
    'retention.bytes': 1_048_576,
    'segment.bytes': 14,
    'min.cleanable.dirty.ratio': 0.1,
    'message.timestamp.type': 'LogAppendTime',
    'flush.messages': Number.POSITIVE_INFINITY,
    'sluice.log.flush.mode': 'sync',
    'max.message.bytes': 2000,
  });
});

test('an empty cleanup.policy is allowed: neither delete nor compact', () => {
  const { values, errors } = validate({ 'cleanup.policy': '' });
  assert.deepEqual(errors, []);
  assert.deepEqual(values['cleanup.policy'], []);
});

test('each bad entry gets its own error, in Kafka\'s words for unknown names, and good ones still parse', () => {
  const { values, errors } = validate({
    'retention.ms': 'forever',
    'segment.bytes': '13',
    'log.retention.ms': '5',
    'cleanup.policy': 'delete,shred',
    'min.insync.replicas': '0',
    'compression.type': 'GZIP',
    'delete.retention.ms': null,
    'segment.ms': '1000',
  });
  assert.deepEqual(errors, [
    { name: 'retention.ms', message: 'retention.ms=forever: expected an integer' },
    { name: 'segment.bytes', message: 'segment.bytes=13: must be at least 14' },
    { name: 'log.retention.ms', message: 'Unknown topic config name: log.retention.ms' },
    { name: 'cleanup.policy', message: 'cleanup.policy=delete,shred: "shred": expected one of delete, compact' },
    { name: 'min.insync.replicas', message: 'min.insync.replicas=0: must be at least 1' },
    { name: 'compression.type', message: 'compression.type=GZIP: expected one of uncompressed, producer, gzip, snappy, lz4, zstd' },
    { name: 'delete.retention.ms', message: 'Null value not supported for topic configs: delete.retention.ms' },
  ]);
  assert.deepEqual(values, { 'segment.ms': 1000 });
});

test('names from Object.prototype are unknown, not crashes', () => {
  assert.deepEqual(validate({ toString: '1', constructor: '2' }).errors, [
    { name: 'toString', message: 'Unknown topic config name: toString' },
    { name: 'constructor', message: 'Unknown topic config name: constructor' },
  ]);
});

test('effectiveTopicConfig lays overrides over defaults and ignores undefined overrides', () => {
  const defaults = defaultBrokerConfig().topicDefaults;
  const overrides: Partial<TopicConfigValues> = { 'retention.ms': 5, 'segment.bytes': undefined };
  const effective = effectiveTopicConfig(defaults, overrides);
  assert.deepEqual(effective, { ...defaults, 'retention.ms': 5 });
  assert.equal(defaults['retention.ms'], 168 * 3_600_000, 'defaults are not modified');
});

test('toLogConfig of the default topic config is the storage default', () => {
  const broker = defaultBrokerConfig();
  assert.deepEqual(toLogConfig(broker.topicDefaults, broker), DEFAULT_LOG_CONFIG);
  assert.deepEqual(toLogConfig(broker.topicDefaults), DEFAULT_LOG_CONFIG);
});

test('toLogConfig maps every topic config to its LogConfig field', () => {
  const values: TopicConfigValues = {
    'cleanup.policy': ['compact'],
    'compression.type': 'zstd',
    'delete.retention.ms': 11,
    'file.delete.delay.ms': 12,
    'flush.messages': 13,
    'flush.ms': 14,
    'index.interval.bytes': 15,
    'max.message.bytes': 16,
    'message.timestamp.type': 'LogAppendTime',
    'min.cleanable.dirty.ratio': 0.75,
    'min.insync.replicas': 1,
    'unclean.leader.election.enable': true,
    'retention.bytes': 17,
    'retention.ms': 18,
    'segment.bytes': 19,
    'segment.index.bytes': 20,
    'segment.ms': 21,
    'sluice.log.append.mode': 'mmap',
    'sluice.log.flush.mode': 'sync',
    'sluice.delivery.delay.ms': 0,
    'compression.gzip.level': 5,
    'compression.lz4.level': 9,
    'compression.zstd.level': 3,
    'follower.replication.throttled.replicas': [],
    'leader.replication.throttled.replicas': ['0:1'],
    'local.retention.bytes': -2,
    'local.retention.ms': -2,
    'max.compaction.lag.ms': 1000,
    'message.downconversion.enable': true,
    'message.format.version': '3.0-IV1',
    'message.timestamp.after.max.ms': 30,
    'message.timestamp.before.max.ms': 31,
    'message.timestamp.difference.max.ms': 32,
    'min.compaction.lag.ms': 23,
    preallocate: true,
    'remote.log.copy.disable': false,
    'remote.log.delete.on.disable': false,
    'remote.storage.enable': false,
    'segment.jitter.ms': 24,
  };
  assert.deepEqual(toLogConfig(values, { logMmapMlock: true, logIndexMode: 'mmap', producerIdExpirationMs: 22 }), {
    segmentBytes: 19,
    segmentMs: 21,
    segmentIndexBytes: 20,
    indexIntervalBytes: 15,
    retentionMs: 18,
    retentionBytes: 17,
    cleanupDelete: false,
    cleanupCompact: true,
    deleteRetentionMs: 11,
    minCleanableDirtyRatio: 0.75,
    minCompactionLagMs: 23,
    maxCompactionLagMs: 1000,
    segmentJitterMs: 24,
    timestampType: 'log-append',
    flushMessages: 13,
    flushMs: 14,
    fileDeleteDelayMs: 12,
    appendMode: 'mmap',
    flushMode: 'sync',
    mlock: true,
    indexMode: 'mmap',
    producerIdExpirationMs: 22,
  });
});

test('cleanup.policy maps to both flags independently', () => {
  const defaults = defaultBrokerConfig().topicDefaults;
  const flags = (policy: string[]) => {
    const c = toLogConfig({ ...defaults, 'cleanup.policy': policy });
    return [c.cleanupDelete, c.cleanupCompact];
  };
  assert.deepEqual(flags(['delete', 'compact']), [true, true]);
  assert.deepEqual(flags(['delete']), [true, false]);
  assert.deepEqual(flags(['compact']), [false, true]);
  assert.deepEqual(flags([]), [false, false]);
});
