import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigSource, describeBrokerConfigs, describeTopicConfigs, type DescribedConfig } from '../../src/config/describe-configs.js';
import { ALL_BROKER_DEFS, TOPIC_DEFS } from '../../src/config/config-defs.js';
import { buildBrokerConfig, defaultBrokerConfig, withDynamicBrokerConfigs } from '../../src/config/load-config.js';
import { ConfigType } from '../../src/config/value-types.js';

const byName = (entries: DescribedConfig[], name: string): DescribedConfig => {
  const e = entries.find((c) => c.name === name);
  assert.ok(e, `${name} is described`);
  return e;
};

test('Kafka\'s numbering of config sources and types', () => {
  assert.deepEqual(ConfigSource, {
    UNKNOWN: 0,
    TOPIC_CONFIG: 1,
    DYNAMIC_BROKER_CONFIG: 2,
    DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
    STATIC_BROKER_CONFIG: 4,
    DEFAULT_CONFIG: 5,
    DYNAMIC_BROKER_LOGGER_CONFIG: 6,
    CLIENT_METRICS_CONFIG: 7,
    GROUP_CONFIG: 8,
  });
  assert.deepEqual(ConfigType, { UNKNOWN: 0, BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, DOUBLE: 6, LIST: 7, CLASS: 8, PASSWORD: 9 });
});

test('a topic with no overrides: every topic config, in name order, from defaults', () => {
  const entries = describeTopicConfigs(defaultBrokerConfig(), {});
  assert.deepEqual(
    entries.map((e) => e.name),
    Object.keys(TOPIC_DEFS).sort(),
  );
  assert.deepEqual(byName(entries, 'retention.ms'), {
    name: 'retention.ms',
    value: '604800000',
    readOnly: false,
    isDefault: true,
    configSource: ConfigSource.DEFAULT_CONFIG,
    isSensitive: false,
    // Kafka's synonym list starts at the chain's head, log.retention.ms, which has no value: none.
    synonyms: [],
    configType: ConfigType.LONG,
    documentation: TOPIC_DEFS['retention.ms'].doc,
  });
  for (const e of entries) {
    assert.equal(e.configSource, ConfigSource.DEFAULT_CONFIG, e.name);
    assert.equal(e.readOnly, false, e.name);
    assert.ok(e.documentation && e.documentation.length > 10, e.name);
  }
});

test('values are in Kafka\'s string forms', () => {
  const entries = describeTopicConfigs(defaultBrokerConfig(), { 'cleanup.policy': ['compact', 'delete'], 'min.cleanable.dirty.ratio': 1 });
  const value = (name: string) => byName(entries, name).value;
  assert.equal(value('flush.messages'), '9223372036854775807');
  assert.equal(value('flush.ms'), '9223372036854775807');
  assert.equal(value('cleanup.policy'), 'compact,delete');
  assert.equal(value('min.cleanable.dirty.ratio'), '1.0');
  assert.equal(value('segment.bytes'), '1073741824');
  assert.equal(value('message.timestamp.type'), 'CreateTime');
});

test('config types follow Kafka\'s definitions', () => {
  const entries = describeTopicConfigs(defaultBrokerConfig(), {});
  const type = (name: string) => byName(entries, name).configType;
  assert.equal(type('cleanup.policy'), ConfigType.LIST);
  assert.equal(type('compression.type'), ConfigType.STRING);
  assert.equal(type('segment.bytes'), ConfigType.INT);
  assert.equal(type('segment.ms'), ConfigType.LONG);
  assert.equal(type('min.cleanable.dirty.ratio'), ConfigType.DOUBLE);
});

test('a topic override is TOPIC_CONFIG, with the broker values behind it as synonyms', () => {
  const broker = buildBrokerConfig(new Map([['log.segment.bytes', '2048']]));
  const e = byName(describeTopicConfigs(broker, { 'segment.bytes': 1000 }), 'segment.bytes');
  assert.equal(e.value, '1000');
  assert.equal(e.configSource, ConfigSource.TOPIC_CONFIG);
  assert.equal(e.isDefault, false);
  assert.deepEqual(e.synonyms, [
    { name: 'segment.bytes', value: '1000', source: ConfigSource.TOPIC_CONFIG },
    { name: 'log.segment.bytes', value: '2048', source: ConfigSource.STATIC_BROKER_CONFIG },
    { name: 'log.segment.bytes', value: '1073741824', source: ConfigSource.DEFAULT_CONFIG },
  ]);
});

test('a default set in server.properties is STATIC_BROKER_CONFIG, in the topic\'s unit', () => {
  const broker = buildBrokerConfig(new Map([['log.retention.ms', '1800000'], ['log.retention.hours', '10']]));
  const e = byName(describeTopicConfigs(broker, {}), 'retention.ms');
  assert.equal(e.value, '1800000');
  assert.equal(e.configSource, ConfigSource.STATIC_BROKER_CONFIG);
  assert.equal(e.isDefault, false);
  assert.deepEqual(e.synonyms, [
    { name: 'log.retention.ms', value: '1800000', source: ConfigSource.STATIC_BROKER_CONFIG },
    { name: 'log.retention.hours', value: '10', source: ConfigSource.STATIC_BROKER_CONFIG },
    { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
  ]);
});

test('as in Kafka, a chain whose head (log.retention.ms) is unset lists no synonym and reads DEFAULT_CONFIG', () => {
  // Kafka's ConfigHelper.configSynonyms drops the entries before the head's first one.
  const broker = buildBrokerConfig(new Map([['log.retention.minutes', '30']]));
  const e = byName(describeTopicConfigs(broker, {}), 'retention.ms');
  assert.equal(e.value, '1800000');
  assert.equal(e.configSource, ConfigSource.DEFAULT_CONFIG);
  assert.deepEqual(e.synonyms, []);
});

test('dynamic broker configs rank first among the broker synonyms', () => {
  const base = buildBrokerConfig(new Map([['log.retention.ms', '600000'], ['log.retention.hours', '10']]));
  const { config } = withDynamicBrokerConfigs(base, new Map([['log.retention.ms', '300000']]));
  const e = byName(describeTopicConfigs(config, {}), 'retention.ms');
  assert.equal(e.value, '300000');
  assert.equal(e.configSource, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
  assert.deepEqual(e.synonyms, [
    { name: 'log.retention.ms', value: '300000', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
    { name: 'log.retention.ms', value: '600000', source: ConfigSource.STATIC_BROKER_CONFIG },
    { name: 'log.retention.hours', value: '10', source: ConfigSource.STATIC_BROKER_CONFIG },
    { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
  ]);
});

test('options: only the asked-for keys, and synonyms and documentation only when asked', () => {
  const broker = defaultBrokerConfig();
  const entries = describeTopicConfigs(broker, {}, { keys: ['segment.ms', 'no.such.key', 'cleanup.policy'], includeSynonyms: false, includeDocumentation: false });
  assert.deepEqual(
    entries.map((e) => [e.name, e.synonyms, e.documentation]),
    [
      ['cleanup.policy', [], null],
      ['segment.ms', [], null],
    ],
  );
  assert.equal(describeTopicConfigs(broker, {}, { keys: null }).length, Object.keys(TOPIC_DEFS).length);
  assert.equal(describeBrokerConfigs(broker, { keys: ['num.partitions'] }).length, 1);
});

test('a broker describes every config it knows, and none it ignores', () => {
  const broker = buildBrokerConfig(new Map([['process.roles', 'broker']]));
  const entries = describeBrokerConfigs(broker);
  assert.deepEqual(
    entries.map((e) => e.name),
    [...ALL_BROKER_DEFS.keys()].sort(),
  );
  assert.equal(entries.some((e) => e.name === 'process.roles'), false);
});

test('broker entries: value and source from the layer that set them, readOnly unless dynamic', () => {
  const broker = buildBrokerConfig(new Map([['listeners', 'PLAINTEXT://:9092'], ['log.retention.ms', '1000'], ['num.partitions', '4']]));
  const entries = describeBrokerConfigs(broker);
  assert.deepEqual(byName(entries, 'listeners'), {
    name: 'listeners',
    value: 'PLAINTEXT://0.0.0.0:9092',
    // Kafka changes listeners per broker at runtime, so it reports them writable.
    readOnly: false,
    isDefault: false,
    configSource: ConfigSource.STATIC_BROKER_CONFIG,
    isSensitive: false,
    synonyms: [
      { name: 'listeners', value: 'PLAINTEXT://0.0.0.0:9092', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'listeners', value: 'PLAINTEXT://127.0.0.1:9092', source: ConfigSource.DEFAULT_CONFIG },
    ],
    configType: ConfigType.LIST,
    documentation: ALL_BROKER_DEFS.get('listeners')!.doc,
  });
  const num = byName(entries, 'num.partitions');
  assert.deepEqual([num.value, num.configSource, num.readOnly], ['4', ConfigSource.STATIC_BROKER_CONFIG, true]);
  const ms = byName(entries, 'log.retention.ms');
  assert.deepEqual([ms.value, ms.configSource, ms.readOnly, ms.configType], ['1000', ConfigSource.STATIC_BROKER_CONFIG, false, ConfigType.LONG]);
  // The lower-ranked synonyms stand behind it, as in Kafka.
  assert.deepEqual(ms.synonyms, [
    { name: 'log.retention.ms', value: '1000', source: ConfigSource.STATIC_BROKER_CONFIG },
    { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
  ]);
  const minutes = byName(entries, 'log.retention.minutes');
  assert.deepEqual([minutes.value, minutes.configSource, minutes.isDefault, minutes.configType], [null, ConfigSource.DEFAULT_CONFIG, true, ConfigType.INT]);
  const console = byName(entries, 'sluice.console.listener');
  assert.deepEqual([console.value, console.configType], ['127.0.0.1:8080', ConfigType.STRING]);
  assert.equal(byName(entries, 'auto.create.topics.enable').configType, ConfigType.BOOLEAN);
  assert.equal(byName(entries, 'max.connections').readOnly, false);
  assert.equal(byName(entries, 'node.id').readOnly, true);
});

test('a dynamic broker config is reported with the dynamic source', () => {
  const { config } = withDynamicBrokerConfigs(defaultBrokerConfig(), new Map([['max.connections', '100']]));
  const e = byName(describeBrokerConfigs(config), 'max.connections');
  assert.equal(e.value, '100');
  assert.equal(e.configSource, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
  assert.deepEqual(e.synonyms, [
    { name: 'max.connections', value: '100', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
    { name: 'max.connections', value: '2147483647', source: ConfigSource.DEFAULT_CONFIG },
  ]);
});
