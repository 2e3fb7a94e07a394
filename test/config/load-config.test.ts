import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildBrokerConfig,
  ConfigError,
  defaultBrokerConfig,
  withDynamicBrokerConfigs,
} from '../../src/config/load-config.js';
import type { BrokerConfig } from '../../src/config/broker-config.js';

const build = (file: Record<string, string>, overrides: Record<string, string> = {}): BrokerConfig =>
  buildBrokerConfig(new Map(Object.entries(file)), new Map(Object.entries(overrides)));

/** The problems a config is rejected with. */
function problemsOf(file: Record<string, string>, overrides: Record<string, string> = {}): readonly string[] {
  try {
    build(file, overrides);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

test('defaults follow Kafka where Kafka has one, and Sluice\'s own choices otherwise', () => {
  const c = defaultBrokerConfig();
  assert.equal(c.nodeId, 1);
  assert.deepEqual(c.listeners, [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  assert.deepEqual(c.advertisedListeners, c.listeners);
  assert.deepEqual(c.logDirs, ['./data']);
  assert.equal(c.numPartitions, 1);
  assert.equal(c.defaultReplicationFactor, 1);
  assert.equal(c.autoCreateTopicsEnable, true);
  assert.equal(c.messageMaxBytes, 1_048_588);
  assert.equal(c.socketRequestMaxBytes, 104_857_600);
  assert.equal(c.connectionsMaxIdleMs, 600_000);
  assert.equal(c.maxConnections, 2_147_483_647);
  assert.equal(c.queuedMaxRequests, 500);
  assert.equal(c.logRetentionCheckIntervalMs, 300_000);
  assert.equal(c.logFlushOffsetCheckpointIntervalMs, 60_000);
  assert.equal(c.offsetsTopicNumPartitions, 50);
  assert.equal(c.offsetsRetentionMs, 10_080 * 60_000);
  assert.equal(c.groupInitialRebalanceDelayMs, 3000);
  assert.equal(c.groupMinSessionTimeoutMs, 6000);
  assert.equal(c.groupMaxSessionTimeoutMs, 1_800_000);
  assert.equal(c.fetchTransfer, 'sendfile');
  assert.deepEqual(c.consoleListener, { host: '127.0.0.1', port: 8080 });
  assert.equal(c.logMmapMlock, false);
  assert.equal(c.logIndexMode, 'heap');
  assert.equal(c.staticConfigs.size, 0);
  assert.equal(c.dynamicConfigs.size, 0);
  assert.deepEqual(c.topicDefaults, {
    'cleanup.policy': ['delete'],
    'compression.type': 'producer',
    'delete.retention.ms': 86_400_000,
    'file.delete.delay.ms': 60_000,
    'flush.messages': Number.POSITIVE_INFINITY,
    'flush.ms': Number.POSITIVE_INFINITY,
    'index.interval.bytes': 4096,
    'max.message.bytes': 1_048_588,
    'message.timestamp.type': 'CreateTime',
    'min.cleanable.dirty.ratio': 0.5,
    'min.insync.replicas': 1,
    'retention.bytes': -1,
    'retention.ms': 168 * 3_600_000,
    'segment.bytes': 1024 ** 3,
    'segment.index.bytes': 10 * 1024 * 1024,
    'segment.ms': 168 * 3_600_000,
    'sluice.log.append.mode': 'write',
    'sluice.log.flush.mode': 'async',
    'sluice.delivery.delay.ms': 0,
    // The rest of Kafka 3.9's topic configs, at Kafka's defaults.
    'compression.gzip.level': -1,
    'compression.lz4.level': 9,
    'compression.zstd.level': 3,
    'follower.replication.throttled.replicas': [],
    'leader.replication.throttled.replicas': [],
    'local.retention.bytes': -2,
    'local.retention.ms': -2,
    'max.compaction.lag.ms': Number.POSITIVE_INFINITY,
    'message.downconversion.enable': true,
    'message.format.version': '3.0-IV1',
    'message.timestamp.after.max.ms': Number.POSITIVE_INFINITY,
    'message.timestamp.before.max.ms': Number.POSITIVE_INFINITY,
    'message.timestamp.difference.max.ms': Number.POSITIVE_INFINITY,
    'min.compaction.lag.ms': 0,
    preallocate: false,
    'remote.log.copy.disable': false,
    'remote.log.delete.on.disable': false,
    'remote.storage.enable': false,
    'segment.jitter.ms': 0,
    'unclean.leader.election.enable': false,
  });
});

test('overrides win over the file, which wins over defaults', () => {
  assert.equal(build({ 'num.partitions': '3' }).numPartitions, 3);
  const c = build({ 'num.partitions': '3', 'queued.max.requests': '7' }, { 'num.partitions': '5' });
  assert.equal(c.numPartitions, 5);
  assert.equal(c.queuedMaxRequests, 7);
  assert.deepEqual([...c.staticConfigs], [
    ['num.partitions', '5'],
    ['queued.max.requests', '7'],
  ]);
});

test('a bad file value replaced by a good override is no error', () => {
  assert.equal(build({ 'num.partitions': 'lots' }, { 'num.partitions': '2' }).numPartitions, 2);
});

test('values are trimmed and kept in canonical form', () => {
  const c = build({ 'log.cleanup.policy': ' compact , delete,compact ', 'auto.create.topics.enable': ' FALSE ' });
  assert.deepEqual(c.topicDefaults['cleanup.policy'], ['compact', 'delete']);
  assert.equal(c.autoCreateTopicsEnable, false);
  assert.equal(c.staticConfigs.get('log.cleanup.policy'), 'compact,delete');
  assert.equal(c.staticConfigs.get('auto.create.topics.enable'), 'false');
});

test('retention: log.retention.ms beats minutes, which beat hours, whichever layer set them', () => {
  const ms = (file: Record<string, string>, overrides: Record<string, string> = {}) => build(file, overrides).topicDefaults['retention.ms'];
  assert.equal(ms({}), 168 * 3_600_000);
  assert.equal(ms({ 'log.retention.hours': '2' }), 2 * 3_600_000);
  assert.equal(ms({ 'log.retention.hours': '2', 'log.retention.minutes': '30' }), 30 * 60_000);
  assert.equal(ms({ 'log.retention.hours': '2', 'log.retention.minutes': '30', 'log.retention.ms': '1234' }), 1234);
  // Precedence is by key, as in Kafka: an override of hours does not beat ms from the file.
  assert.equal(ms({ 'log.retention.ms': '1234' }, { 'log.retention.hours': '1' }), 1234);
});

test('retention: any negative minutes or hours means unlimited (-1), not a negative time', () => {
  assert.equal(build({ 'log.retention.minutes': '-1' }).topicDefaults['retention.ms'], -1);
  assert.equal(build({ 'log.retention.hours': '-1' }).topicDefaults['retention.ms'], -1);
  assert.equal(build({ 'log.retention.ms': '-1' }).topicDefaults['retention.ms'], -1);
});

test('segment.ms: log.roll.ms beats log.roll.hours', () => {
  assert.equal(build({ 'log.roll.hours': '1' }).topicDefaults['segment.ms'], 3_600_000);
  assert.equal(build({ 'log.roll.hours': '1', 'log.roll.ms': '500' }).topicDefaults['segment.ms'], 500);
});

test('each broker log setting supplies its topic config default', () => {
  const cases: [string, string, string, unknown][] = [
    ['log.retention.bytes', '1000', 'retention.bytes', 1000],
    ['log.segment.bytes', '2048', 'segment.bytes', 2048],
    ['log.index.size.max.bytes', '4096', 'segment.index.bytes', 4096],
    ['log.index.interval.bytes', '100', 'index.interval.bytes', 100],
    ['log.cleanup.policy', 'compact', 'cleanup.policy', ['compact']],
    ['log.cleaner.delete.retention.ms', '5', 'delete.retention.ms', 5],
    ['log.cleaner.min.cleanable.ratio', '0.25', 'min.cleanable.dirty.ratio', 0.25],
    ['log.flush.interval.messages', '10', 'flush.messages', 10],
    ['log.flush.interval.ms', '20', 'flush.ms', 20],
    ['log.segment.delete.delay.ms', '0', 'file.delete.delay.ms', 0],
    ['message.max.bytes', '999', 'max.message.bytes', 999],
    ['log.message.timestamp.type', 'LogAppendTime', 'message.timestamp.type', 'LogAppendTime'],
    ['compression.type', 'zstd', 'compression.type', 'zstd'],
    ['min.insync.replicas', '2', 'min.insync.replicas', 2],
    ['sluice.log.append.mode', 'mmap', 'sluice.log.append.mode', 'mmap'],
    ['sluice.log.flush.mode', 'sync', 'sluice.log.flush.mode', 'sync'],
  ];
  for (const [brokerKey, raw, topicKey, expected] of cases) {
    const defaults = build({ [brokerKey]: raw }).topicDefaults as unknown as Record<string, unknown>;
    assert.deepEqual(defaults[topicKey], expected, `${brokerKey}=${raw} -> ${topicKey}`);
  }
  assert.equal(build({ 'message.max.bytes': '999' }).messageMaxBytes, 999);
});

test('Long.MAX_VALUE reads as Infinity; beyond a long is an error', () => {
  assert.equal(build({ 'log.flush.interval.messages': '9223372036854775807' }).topicDefaults['flush.messages'], Number.POSITIVE_INFINITY);
  assert.deepEqual(problemsOf({ 'log.flush.interval.ms': '9223372036854775808' }), [
    'log.flush.interval.ms=9223372036854775808: expected an integer between -9223372036854775808 and 9223372036854775807',
  ]);
});

test('the other broker settings land in their fields', () => {
  const c = build({
    'node.id': '7',
    'log.dirs': '/a, /b',
    'default.replication.factor': '1',
    'socket.request.max.bytes': '1000',
    'connections.max.idle.ms': '-1',
    'max.connections': '10',
    'log.retention.check.interval.ms': '1000',
    'log.flush.offset.checkpoint.interval.ms': '2000',
    'offsets.topic.num.partitions': '3',
    'offsets.retention.minutes': '2',
    'group.initial.rebalance.delay.ms': '0',
    'group.min.session.timeout.ms': '100',
    'group.max.session.timeout.ms': '200',
    'sluice.fetch.transfer': 'copy',
    'sluice.log.mmap.mlock': 'true',
    'sluice.log.index.mode': 'mmap',
  });
  assert.equal(c.nodeId, 7);
  assert.deepEqual(c.logDirs, ['/a', '/b']);
  assert.equal(c.socketRequestMaxBytes, 1000);
  assert.equal(c.connectionsMaxIdleMs, -1);
  assert.equal(c.maxConnections, 10);
  assert.equal(c.logRetentionCheckIntervalMs, 1000);
  assert.equal(c.logFlushOffsetCheckpointIntervalMs, 2000);
  assert.equal(c.offsetsTopicNumPartitions, 3);
  assert.equal(c.offsetsRetentionMs, 120_000);
  assert.equal(c.groupInitialRebalanceDelayMs, 0);
  assert.equal(c.groupMinSessionTimeoutMs, 100);
  assert.equal(c.groupMaxSessionTimeoutMs, 200);
  assert.equal(c.fetchTransfer, 'copy');
  assert.equal(c.logMmapMlock, true);
  assert.equal(c.logIndexMode, 'mmap');
});

test('log.dirs wins over log.dir; log.dir alone is used', () => {
  assert.deepEqual(build({ 'log.dir': '/one' }).logDirs, ['/one']);
  assert.deepEqual(build({ 'log.dir': '/one', 'log.dirs': '/two,/three' }).logDirs, ['/two', '/three']);
});

test('broker.id stands in for node.id, and the two must agree when both are set', () => {
  assert.equal(build({ 'broker.id': '4' }).nodeId, 4);
  assert.equal(build({ 'broker.id': '4', 'node.id': '4' }).nodeId, 4);
  assert.deepEqual(problemsOf({ 'broker.id': '4', 'node.id': '5' }), ['broker.id=4 and node.id=5 differ; set only node.id']);
});

test('sluice.console.listener: host:port, an empty host for all interfaces, or empty for off', () => {
  assert.equal(build({ 'sluice.console.listener': '' }).consoleListener, null);
  assert.deepEqual(build({ 'sluice.console.listener': ':8081' }).consoleListener, { host: '0.0.0.0', port: 8081 });
  assert.deepEqual(build({ 'sluice.console.listener': '[::1]:8081' }).consoleListener, { host: '::1', port: 8081 });
  assert.equal(build({ 'sluice.console.listener': '[::1]:8081' }).staticConfigs.get('sluice.console.listener'), '[::1]:8081');
  assert.deepEqual(problemsOf({ 'sluice.console.listener': 'localhost' }), ['sluice.console.listener=localhost: expected host:port']);
});

test('listener forms: explicit host, empty host, IPv6, host names, several, port 0', () => {
  const listeners = (value: string) => build({ listeners: value }).listeners;
  assert.deepEqual(listeners('PLAINTEXT://127.0.0.1:9093'), [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9093 }]);
  assert.deepEqual(listeners('PLAINTEXT://:9092'), [{ name: 'PLAINTEXT', host: '0.0.0.0', port: 9092 }]);
  assert.deepEqual(listeners('PLAINTEXT://[::1]:9092'), [{ name: 'PLAINTEXT', host: '::1', port: 9092 }]);
  // IPv6 hosts keep their brackets in the canonical form.
  assert.equal(build({ listeners: 'PLAINTEXT://[::1]:9092' }).staticConfigs.get('listeners'), 'PLAINTEXT://[::1]:9092');
  assert.deepEqual(listeners('plaintext://broker-1.example.com:9092'), [{ name: 'PLAINTEXT', host: 'broker-1.example.com', port: 9092 }]);
  assert.deepEqual(listeners('PLAINTEXT://127.0.0.1:9092, PLAINTEXT://[::1]:9092'), [
    { name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 },
    { name: 'PLAINTEXT', host: '::1', port: 9092 },
  ]);
  assert.deepEqual(listeners('PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0'), [
    { name: 'PLAINTEXT', host: '127.0.0.1', port: 0 },
    { name: 'PLAINTEXT', host: '127.0.0.1', port: 0 },
  ]);
});

test('advertised.listeners defaults to listeners, with a wildcard host advertised as 127.0.0.1', () => {
  assert.deepEqual(build({ listeners: 'PLAINTEXT://:9092,PLAINTEXT://[::]:9093,PLAINTEXT://10.0.0.5:9094' }).advertisedListeners, [
    { name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 },
    { name: 'PLAINTEXT', host: '127.0.0.1', port: 9093 },
    { name: 'PLAINTEXT', host: '10.0.0.5', port: 9094 },
  ]);
  const c = build({ listeners: 'PLAINTEXT://:9092', 'advertised.listeners': 'PLAINTEXT://broker.example.com:19092' });
  assert.deepEqual(c.listeners, [{ name: 'PLAINTEXT', host: '0.0.0.0', port: 9092 }]);
  assert.deepEqual(c.advertisedListeners, [{ name: 'PLAINTEXT', host: 'broker.example.com', port: 19092 }]);
});

test('Kafka\'s KRaft sample server.properties loads: controller listeners and cluster settings are set aside', () => {
  const c = build({
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.bootstrap.servers': 'localhost:9093',
    listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
    'inter.broker.listener.name': 'PLAINTEXT',
    'advertised.listeners': 'PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'num.network.threads': '3',
    'num.io.threads': '8',
    'socket.send.buffer.bytes': '102400',
    'socket.receive.buffer.bytes': '102400',
    'socket.request.max.bytes': '104857600',
    'log.dirs': '/tmp/kraft-combined-logs',
    'num.partitions': '1',
    'num.recovery.threads.per.data.dir': '1',
    'offsets.topic.replication.factor': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'log.retention.hours': '168',
    'log.segment.bytes': '1073741824',
    'log.retention.check.interval.ms': '300000',
  });
  assert.deepEqual(c.listeners, [{ name: 'PLAINTEXT', host: '0.0.0.0', port: 9092 }]);
  assert.deepEqual(c.advertisedListeners, [{ name: 'PLAINTEXT', host: 'localhost', port: 9092 }]);
  assert.deepEqual(c.logDirs, ['/tmp/kraft-combined-logs']);
  assert.equal(c.staticConfigs.has('num.io.threads'), false);
});

test('messages name the key, the value and what was expected', () => {
  const cases: [Record<string, string>, string][] = [
    [{ 'log.segment.bytes': 'abc' }, 'log.segment.bytes=abc: expected an integer'],
    [{ 'log.segment.bytes': '13' }, 'log.segment.bytes=13: must be at least 14'],
    [{ 'log.segment.bytes': '4294967296' }, 'log.segment.bytes=4294967296: expected an integer between -2147483648 and 2147483647'],
    [{ 'message.max.bytes': '-1' }, 'message.max.bytes=-1: must be at least 0'],
    [{ 'min.insync.replicas': '0' }, 'min.insync.replicas=0: must be at least 1'],
    [{ 'log.retention.ms': '-2' }, 'log.retention.ms=-2: must be at least -1'],
    [{ 'log.retention.ms': '1.5' }, 'log.retention.ms=1.5: expected an integer'],
    [{ 'log.cleaner.min.cleanable.ratio': '1.5' }, 'log.cleaner.min.cleanable.ratio=1.5: must be between 0 and 1'],
    [{ 'log.cleaner.min.cleanable.ratio': 'half' }, 'log.cleaner.min.cleanable.ratio=half: expected a number'],
    [{ 'auto.create.topics.enable': 'yes' }, 'auto.create.topics.enable=yes: expected true or false'],
    [{ 'log.cleanup.policy': 'delete,archive' }, 'log.cleanup.policy=delete,archive: "archive": expected one of delete, compact'],
    [{ 'compression.type': 'brotli' }, 'compression.type=brotli: expected one of uncompressed, producer, gzip, snappy, lz4, zstd'],
    [{ 'log.message.timestamp.type': 'createtime' }, 'log.message.timestamp.type=createtime: expected one of CreateTime, LogAppendTime'],
    [{ 'sluice.log.append.mode': 'mapped' }, 'sluice.log.append.mode=mapped: expected one of write, mmap'],
    [{ 'sluice.log.flush.mode': 'fsync' }, 'sluice.log.flush.mode=fsync: expected one of async, sync'],
    [{ 'sluice.fetch.transfer': 'zerocopy' }, 'sluice.fetch.transfer=zerocopy: expected one of sendfile, copy'],
    [{ 'sluice.log.index.mode': 'disk' }, 'sluice.log.index.mode=disk: expected one of heap, mmap'],
    [{ 'log.dirs': '/a,,/b' }, 'log.dirs=/a,,/b: expected a comma-separated list with no empty entries'],
    [{ 'log.dirs': '' }, 'log.dirs=: expected at least one directory'],
    [{ listeners: 'foo' }, 'listeners=foo: expected NAME://host:port'],
    [{ listeners: '' }, 'listeners=: expected at least one listener'],
    [{ listeners: 'PLAINTEXT://:9092,foo' }, 'listeners=PLAINTEXT://:9092,foo: "foo": expected NAME://host:port'],
    [{ listeners: 'PLAINTEXT://:70000' }, 'listeners=PLAINTEXT://:70000: port 70000 is out of range 0-65535'],
    [{ listeners: 'PLAINTEXT://::1:9092' }, 'listeners=PLAINTEXT://::1:9092: expected NAME://host:port'],
    [
      { listeners: 'SSL://:9093', 'ssl.keystore.type': 'PEM' },
      'listener SSL (TLS): no private key and certificate: set ssl.keystore.location (a PEM file) or ssl.keystore.key and ssl.keystore.certificate.chain',
    ],
    [
      { listeners: 'INTERNAL://:9093' },
      'listeners=INTERNAL://0.0.0.0:9093: listener name INTERNAL has no security protocol: add INTERNAL:PLAINTEXT (or SSL, SASL_PLAINTEXT, SASL_SSL) to listener.security.protocol.map',
    ],
    [{ listeners: 'PLAINTEXT://:9092,PLAINTEXT://0.0.0.0:9092' }, 'listeners=PLAINTEXT://0.0.0.0:9092,PLAINTEXT://0.0.0.0:9092: PLAINTEXT://0.0.0.0:9092 is listed twice'],
    [
      { listeners: 'CONTROLLER://:9093', 'controller.listener.names': 'CONTROLLER' },
      'listeners=CONTROLLER://0.0.0.0:9093: no listener left once the controller listeners are set aside',
    ],
    [
      { 'advertised.listeners': 'PLAINTEXT://0.0.0.0:9092' },
      'advertised.listeners=PLAINTEXT://0.0.0.0:9092: PLAINTEXT://0.0.0.0:9092 is the wildcard address, which clients cannot connect to',
    ],
    [
      { 'group.min.session.timeout.ms': '10', 'group.max.session.timeout.ms': '5' },
      'group.min.session.timeout.ms=10 is above group.max.session.timeout.ms=5',
    ],
    [{ 'node.id': '-1' }, 'node.id=-1: must be at least 0'],
  ];
  for (const [file, message] of cases) assert.deepEqual(problemsOf(file), [message], JSON.stringify(file));
});

test('unknown keys fail, with the likely intended key suggested', () => {
  assert.deepEqual(problemsOf({ 'log.retention.hour': '1' }), ['unknown config log.retention.hour (did you mean log.retention.hours?)']);
  assert.deepEqual(problemsOf({ listners: 'PLAINTEXT://:9092' }), ['unknown config listners (did you mean listeners?)']);
  // Ignored Kafka keys are suggested too: the typo is still a typo.
  assert.deepEqual(problemsOf({ 'num.io.thread': '8' }), ['unknown config num.io.thread (did you mean num.io.threads?)']);
  assert.deepEqual(problemsOf({ 'completely.different': 'x' }), ['unknown config completely.different']);
});

test('a topic config name at broker level points to its broker-wide name', () => {
  assert.deepEqual(problemsOf({ 'retention.ms': '1000' }), ['unknown broker config retention.ms: it is a topic config; its broker-wide default is log.retention.ms']);
  assert.deepEqual(problemsOf({ 'segment.bytes': '1000' }), ['unknown broker config segment.bytes: it is a topic config; its broker-wide default is log.segment.bytes']);
});

test('every problem is reported at once, file and overrides alike', () => {
  let error: unknown;
  try {
    build({ 'log.segment.bytes': 'abc', 'num.partitionz': '2', listeners: 'foo' }, { 'node.id': 'x', 'log.retention.hours': '-5' });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.problems, [
    'log.segment.bytes=abc: expected an integer',
    'unknown config num.partitionz (did you mean num.partitions?)',
    'listeners=foo: expected NAME://host:port',
    'node.id=x: expected an integer',
    'log.retention.hours=-5: must be at least -1',
  ]);
  assert.equal(error.message, ['5 configuration problems:', ...error.problems.map((p) => `  - ${p}`)].join('\n'));
});

test('a single problem is the whole message', () => {
  assert.throws(() => build({ 'num.partitions': '0' }), { name: 'ConfigError', message: 'num.partitions=0: must be at least 1' });
});

test('dynamic broker configs apply over static ones, and only dynamic keys are accepted', () => {
  const base = build({ 'log.retention.hours': '10', 'log.segment.bytes': '4096', 'num.partitions': '2' });
  const { config, errors } = withDynamicBrokerConfigs(
    base,
    new Map([
      ['log.retention.hours', '3'],
      ['max.connections', '5'],
      ['num.partitions', '9'],
      ['log.segment.bytes', 'big'],
      ['no.such.config', '1'],
    ]),
  );
  assert.deepEqual(errors, [
    { name: 'num.partitions', message: 'Cannot update num.partitions dynamically: it is read-only; set it in the properties file and restart' },
    { name: 'log.segment.bytes', message: 'log.segment.bytes=big: expected an integer' },
    { name: 'no.such.config', message: 'Unknown broker config name: no.such.config' },
  ]);
  assert.equal(config.topicDefaults['retention.ms'], 3 * 3_600_000);
  assert.equal(config.maxConnections, 5);
  assert.equal(config.numPartitions, 2);
  assert.equal(config.topicDefaults['segment.bytes'], 4096);
  assert.deepEqual([...config.dynamicConfigs], [
    ['log.retention.hours', '3'],
    ['max.connections', '5'],
  ]);
  assert.deepEqual(config.staticConfigs, base.staticConfigs);
  // The base is untouched, and an empty dynamic set restores it.
  assert.equal(base.topicDefaults['retention.ms'], 10 * 3_600_000);
  assert.deepEqual(withDynamicBrokerConfigs(config, new Map()).config, base);
});

test('a dynamic key lower in a synonym chain does not beat a static key above it', () => {
  const base = build({ 'log.retention.ms': '1234' });
  assert.equal(withDynamicBrokerConfigs(base, new Map([['log.retention.hours', '1']])).config.topicDefaults['retention.ms'], 1234);
});

test('the web console, which has no login, stays on loopback once clients must authenticate', () => {
  const sasl = { listeners: 'SASL_PLAINTEXT://127.0.0.1:9092,PLAINTEXT://127.0.0.1:9093', 'inter.broker.listener.name': 'PLAINTEXT' };
  assert.deepEqual(problemsOf({ ...sasl, 'sluice.console.listener': '0.0.0.0:8080' }), [
    'sluice.console.listener=0.0.0.0:8080: the web console has no login, so with SASL, TLS client authentication or an authorizer configured it may listen on a loopback address only (e.g. 127.0.0.1:8080)',
  ]);
  assert.deepEqual(build({ ...sasl, 'sluice.console.listener': '127.0.0.1:8080' }).consoleListener, { host: '127.0.0.1', port: 8080 });
  assert.equal(problemsOf({ 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'sluice.console.listener': '10.0.0.5:8080' }).length, 1);
  assert.deepEqual(build({ 'sluice.console.listener': '0.0.0.0:8080' }).consoleListener, { host: '0.0.0.0', port: 8080 }, 'a PLAINTEXT-only broker may serve it anywhere, as before');
});
