import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Admin, type DescribeConfigResponse } from 'kafkajs';
import { TOPIC_DEFS } from '../../src/config/config-defs.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { cleanableRange, cleanLog } from '../../src/storage/log-cleaner.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { makeBatch, openLog, readBatches, tempDir, testConfig } from '../support/storage-fixtures.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { kafkaPython, PYTHON, skipUnlessPresent } from '../support/tools.js';

/**
 * Configs as Kafka 3.9 reports them, through real clients: synonyms only when asked for (and
 * then from the head of Kafka's synonym chain), an empty list of names meaning every config,
 * the whole topic config list accepted with Kafka's defaults, config sources and read-only flags
 * of broker configs, CreateTime windows refusing records, and min.compaction.lag.ms in the cleaner.
 */

/** Kafka's ConfigResource types (kafkajs's enum is not an ESM export). */
const ConfigResourceTypes = { TOPIC: 2, BROKER: 4 } as const;
const Source = { TOPIC_CONFIG: 1, DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;
const LONG_MAX = '9223372036854775807';

/** Kafka 3.9's topic configs and their defaults on a broker with no settings of its own. */
const KAFKA_39_TOPIC_DEFAULTS: Record<string, string> = {
  'cleanup.policy': 'delete',
  'compression.gzip.level': '-1',
  'compression.lz4.level': '9',
  'compression.type': 'producer',
  'compression.zstd.level': '3',
  'delete.retention.ms': '86400000',
  'file.delete.delay.ms': '60000',
  'flush.messages': LONG_MAX,
  'flush.ms': LONG_MAX,
  'follower.replication.throttled.replicas': '',
  'index.interval.bytes': '4096',
  'leader.replication.throttled.replicas': '',
  'local.retention.bytes': '-2',
  'local.retention.ms': '-2',
  'max.compaction.lag.ms': LONG_MAX,
  'max.message.bytes': '1048588',
  'message.downconversion.enable': 'true',
  'message.format.version': '3.0-IV1',
  'message.timestamp.after.max.ms': LONG_MAX,
  'message.timestamp.before.max.ms': LONG_MAX,
  'message.timestamp.difference.max.ms': LONG_MAX,
  'message.timestamp.type': 'CreateTime',
  'min.cleanable.dirty.ratio': '0.5',
  'min.compaction.lag.ms': '0',
  'min.insync.replicas': '1',
  preallocate: 'false',
  'remote.log.copy.disable': 'false',
  'remote.log.delete.on.disable': 'false',
  'remote.storage.enable': 'false',
  'retention.bytes': '-1',
  'retention.ms': '604800000',
  'segment.bytes': '1073741824',
  'segment.index.bytes': '10485760',
  'segment.jitter.ms': '0',
  'segment.ms': '604800000',
  'unclean.leader.election.enable': 'false',
};

const kafkajs = (bootstrap: string) => new Kafka({ clientId: 'exact-configs', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });

type Entry = DescribeConfigResponse['resources'][number]['configEntries'][number] & { configSource: number; configSynonyms: { configName: string; configValue: string; configSource: number }[] };

async function describeTopic(admin: Admin, topic: string, includeSynonyms: boolean, configNames?: string[]): Promise<Map<string, Entry>> {
  const res = await admin.describeConfigs({ includeSynonyms, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, ...(configNames ? { configNames } : {}) }] });
  assert.equal(res.resources[0].errorCode, 0);
  return new Map(res.resources[0].configEntries.map((e) => [e.configName, e as Entry]));
}

describe('configs exactly as Kafka reports them (kafkajs, kafka-python)', () => {
  let b: InProcessBroker;
  let admin: Admin;

  before(async () => {
    b = await startTestBroker({ 'auto.create.topics.enable': 'false', 'num.partitions': '1', 'offsets.topic.num.partitions': '1', 'sasl.kerberos.service.name': 'kafka' });
    admin = kafkajs(b.bootstrap).admin();
    await admin.connect();
  });
  after(async () => {
    await admin?.disconnect();
    await b?.stop();
  });

  test('every topic config of Kafka 3.9, with its default; no synonyms unless asked for', async () => {
    assert.ok(await admin.createTopics({ topics: [{ topic: 'plain', numPartitions: 1 }] }));
    const entries = await describeTopic(admin, 'plain', false);
    const kafkaNames = Object.keys(KAFKA_39_TOPIC_DEFAULTS);
    const sluiceOwn = [...entries.keys()].filter((n) => n.startsWith('sluice.'));
    assert.deepEqual([...entries.keys()].filter((n) => !n.startsWith('sluice.')).sort(), kafkaNames.sort());
    assert.deepEqual(sluiceOwn.sort(), ['sluice.delivery.delay.ms', 'sluice.log.append.mode', 'sluice.log.flush.mode']);
    for (const [name, value] of Object.entries(KAFKA_39_TOPIC_DEFAULTS)) {
      const e = entries.get(name)!;
      assert.equal(e.configValue, value, name);
      assert.equal(e.configSource, Source.DEFAULT_CONFIG, name);
      assert.equal(e.readOnly, false, name);
      assert.equal(e.isSensitive, false, name);
      assert.deepEqual(e.configSynonyms, [], name);
    }
    // Asked for: a default retention.ms still lists none (the chain's head, log.retention.ms,
    // is unset), while max.message.bytes lists its broker default.
    const withSynonyms = await describeTopic(admin, 'plain', true, ['retention.ms', 'max.message.bytes', 'leader.replication.throttled.replicas']);
    assert.deepEqual([...withSynonyms.keys()].sort(), ['leader.replication.throttled.replicas', 'max.message.bytes', 'retention.ms']);
    assert.deepEqual(withSynonyms.get('retention.ms')!.configSynonyms, []);
    assert.deepEqual(withSynonyms.get('leader.replication.throttled.replicas')!.configSynonyms, []);
    assert.deepEqual(withSynonyms.get('max.message.bytes')!.configSynonyms, [{ configName: 'message.max.bytes', configValue: '1048588', configSource: Source.DEFAULT_CONFIG }]);
  });

  test('an empty list of config names describes every config, as null does', async () => {
    const all = await describeTopic(admin, 'plain', false);
    const empty = await describeTopic(admin, 'plain', false, []);
    assert.deepEqual([...empty.keys()].sort(), [...all.keys()].sort());
    assert.equal(empty.size, Object.keys(TOPIC_DEFS).length);
  });

  test('CreateTopics and AlterConfigs take the rest of Kafka\'s topic configs; unknown names stay INVALID_CONFIG', async () => {
    const configs = {
      'min.compaction.lag.ms': '5000',
      'max.compaction.lag.ms': '600000',
      'segment.jitter.ms': '1000',
      preallocate: 'true',
      'leader.replication.throttled.replicas': '0:1',
      'follower.replication.throttled.replicas': '*',
      'message.timestamp.difference.max.ms': '3600000',
      'message.timestamp.before.max.ms': '7200000',
      'message.format.version': '2.8',
      'message.downconversion.enable': 'false',
      'local.retention.ms': '-2',
      'remote.storage.enable': 'false',
      'unclean.leader.election.enable': 'true',
    };
    await admin.createTopics({ topics: [{ topic: 'full', numPartitions: 1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }] });
    const entries = await describeTopic(admin, 'full', true, Object.keys(configs));
    for (const [name, value] of Object.entries(configs)) {
      const e = entries.get(name)!;
      assert.equal(e.configValue, value, name);
      assert.equal(e.configSource, Source.TOPIC_CONFIG, name);
      assert.deepEqual(e.configSynonyms[0], { configName: name, configValue: value, configSource: Source.TOPIC_CONFIG }, name);
    }
    assert.deepEqual(entries.get('min.compaction.lag.ms')!.configSynonyms, [
      { configName: 'min.compaction.lag.ms', configValue: '5000', configSource: Source.TOPIC_CONFIG },
      { configName: 'log.cleaner.min.compaction.lag.ms', configValue: '0', configSource: Source.DEFAULT_CONFIG },
    ]);

    const refused = async (name: string, value: string) => {
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: `bad-${name.replaceAll('.', '-')}`, numPartitions: 1, configEntries: [{ name, value }] }] }),
        (e: { errors?: { type: string }[] }) => e.errors?.[0]?.type === 'INVALID_CONFIG',
        `${name}=${value}`,
      );
    };
    await refused('no.such.config', '1');
    await refused('remote.storage.enable', 'true');
    await refused('leader.replication.throttled.replicas', 'everything');
    await refused('min.compaction.lag.ms', '-1');

    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'plain', configEntries: [{ name: 'message.timestamp.after.max.ms', value: '60000' }, { name: 'segment.jitter.ms', value: '10' }] }],
    });
    const altered = await describeTopic(admin, 'plain', false, ['message.timestamp.after.max.ms', 'segment.jitter.ms', 'preallocate']);
    assert.deepEqual(
      [...altered.values()].map((e) => [e.configName, e.configValue, e.configSource]).sort(),
      [
        ['message.timestamp.after.max.ms', '60000', Source.TOPIC_CONFIG],
        ['preallocate', 'false', Source.DEFAULT_CONFIG],
        ['segment.jitter.ms', '10', Source.TOPIC_CONFIG],
      ],
    );
  });

  test('a CreateTime outside message.timestamp.after.max.ms is INVALID_TIMESTAMP; inside, it is taken', async () => {
    await admin.createTopics({ topics: [{ topic: 'window', numPartitions: 1, configEntries: [{ name: 'message.timestamp.after.max.ms', value: '60000' }] }] });
    const producer = kafkajs(b.bootstrap).producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      await assert.rejects(
        producer.send({ topic: 'window', messages: [{ key: 'k', value: 'future', timestamp: String(Date.now() + 3_600_000) }] }),
        (e: { type?: string; name?: string; cause?: { type?: string } }) => (e.type ?? e.cause?.type) === 'INVALID_TIMESTAMP',
      );
      const [ok] = await producer.send({ topic: 'window', messages: [{ key: 'k', value: 'now', timestamp: String(Date.now()) }] });
      assert.equal(ok.errorCode, 0);
      // LogAppendTime topics are never refused for their producers' clocks.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: 'window', configEntries: [{ name: 'message.timestamp.after.max.ms', value: '60000' }, { name: 'message.timestamp.type', value: 'LogAppendTime' }] }],
      });
      const [late] = await producer.send({ topic: 'window', messages: [{ key: 'k', value: 'future', timestamp: String(Date.now() + 3_600_000) }] });
      assert.equal(late.errorCode, 0);
    } finally {
      await producer.disconnect();
    }
  });

  test('broker configs: STATIC_BROKER_CONFIG from overrides, DEFAULT_CONFIG otherwise, read-only unless Kafka changes them at runtime', async () => {
    const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }] });
    const entries = new Map(res.resources[0].configEntries.map((e) => [e.configName, e as Entry]));
    const row = (name: string) => {
      const e = entries.get(name);
      assert.ok(e, name);
      return [e.configValue, e.configSource, e.readOnly];
    };
    assert.deepEqual(row('num.partitions'), ['1', Source.STATIC_BROKER_CONFIG, true]);
    assert.deepEqual(row('auto.create.topics.enable'), ['false', Source.STATIC_BROKER_CONFIG, true]);
    assert.deepEqual(row('node.id'), ['1', Source.DEFAULT_CONFIG, true]);
    // Kafka changes listeners per broker at runtime: not read-only; unset advertised.listeners is null.
    assert.deepEqual(row('listeners'), ['PLAINTEXT://127.0.0.1:0', Source.STATIC_BROKER_CONFIG, false]);
    assert.deepEqual(row('advertised.listeners'), [null, Source.DEFAULT_CONFIG, false]);
    assert.deepEqual(row('log.retention.hours'), ['168', Source.DEFAULT_CONFIG, false]);
    // Unset, with the default one below it in the chain, Kafka reports null and DEFAULT_CONFIG.
    assert.deepEqual(row('log.retention.ms'), [null, Source.DEFAULT_CONFIG, false]);
    // Kafka's default, GSSAPI, needs Kerberos: Sluice's is every mechanism it offers.
    assert.deepEqual(row('sasl.enabled.mechanisms'), ['PLAIN,SCRAM-SHA-256,SCRAM-SHA-512', Source.DEFAULT_CONFIG, false]);
    // Tooling's settings: stored and described, without effect.
    assert.deepEqual(row('sasl.kerberos.service.name'), ['kafka', Source.STATIC_BROKER_CONFIG, false]);
    assert.deepEqual(row('inter.broker.protocol.version'), ['3.9-IV0', Source.DEFAULT_CONFIG, true]);
    assert.deepEqual(row('log.message.format.version'), ['3.0-IV1', Source.DEFAULT_CONFIG, true]);

    // Set at runtime (on one node the cluster-wide set): DYNAMIC_DEFAULT_BROKER_CONFIG, in both resources.
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'sasl.kerberos.service.name', value: 'other' }] }] });
    const dyn = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['sasl.kerberos.service.name'] }] });
    const e = dyn.resources[0].configEntries[0] as Entry;
    assert.deepEqual([e.configValue, e.configSource, e.readOnly], ['other', Source.DYNAMIC_DEFAULT_BROKER_CONFIG, false]);
    assert.deepEqual(e.configSynonyms, [
      { configName: 'sasl.kerberos.service.name', configValue: 'other', configSource: Source.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { configName: 'sasl.kerberos.service.name', configValue: 'kafka', configSource: Source.STATIC_BROKER_CONFIG },
    ]);
    // A read-only config cannot be altered.
    await assert.rejects(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'log.message.format.version', value: '2.8' }] }] }),
      (err: { type?: string }) => err.type === 'INVALID_CONFIG',
    );
  });

  test('kafka-python: describe_configs and create_topics get Kafka\'s answers', { skip: skipUnlessPresent(kafkaPython) }, async () => {
    const script = `
import json, sys
from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType, NewTopic
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], client_id='exact-configs-py')
admin.create_topics([NewTopic('py-topic', 1, 1, topic_configs={'min.compaction.lag.ms': '1000', 'message.timestamp.difference.max.ms': '5000', 'message.format.version': '3.0-IV1'})])
out = {}
for synonyms in (False, True):
    res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 'py-topic')], include_synonyms=synonyms)
    r = res[0]
    err, msg, rtype, rname, entries = r.resources[0]
    out[str(synonyms)] = {'version': r.API_VERSION, 'error': err, 'entries': [list(e[:5]) + [[list(s) for s in e[5]] if len(e) > 5 else None] for e in entries]}
try:
    admin.create_topics([NewTopic('py-bad', 1, 1, topic_configs={'no.such.config': '1'})])
    out['bad'] = 'created'
except Exception as e:
    out['bad'] = type(e).__name__
admin.close()
print(json.dumps(out))
`;
    const r = await runCommand(PYTHON, ['-B', '-c', script, b.bootstrap], { timeoutMs: 60_000 });
    assertSucceeded(r, 'kafka-python admin');
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, { version: number; error: number; entries: [string, string, boolean, number, boolean, [string, string, number][] | null][] } | string>;
    assert.equal(out.bad, 'InvalidConfigurationError');
    for (const synonyms of ['False', 'True']) {
      const d = out[synonyms] as Exclude<(typeof out)[string], string>;
      assert.equal(d.error, 0);
      assert.ok(d.version >= 1, `DescribeConfigs v${d.version}`);
      const byName = new Map(d.entries.map((e) => [e[0], e]));
      assert.equal(byName.size, Object.keys(TOPIC_DEFS).length);
      // (name, value, read_only, config_source, is_sensitive, synonyms)
      assert.deepEqual(byName.get('min.compaction.lag.ms')!.slice(0, 5), ['min.compaction.lag.ms', '1000', false, Source.TOPIC_CONFIG, false]);
      assert.deepEqual(byName.get('message.timestamp.difference.max.ms')!.slice(0, 5), ['message.timestamp.difference.max.ms', '5000', false, Source.TOPIC_CONFIG, false]);
      assert.deepEqual(byName.get('retention.ms')!.slice(0, 5), ['retention.ms', '604800000', false, Source.DEFAULT_CONFIG, false]);
      assert.deepEqual(byName.get('retention.ms')![5], []);
      assert.deepEqual(
        byName.get('min.compaction.lag.ms')![5],
        synonyms === 'True'
          ? [
              ['min.compaction.lag.ms', '1000', Source.TOPIC_CONFIG],
              ['log.cleaner.min.compaction.lag.ms', '0', Source.DEFAULT_CONFIG],
            ]
          : [],
      );
    }
  });
});

describe('min.compaction.lag.ms in the cleaner', () => {
  /** Each batch in a segment of its own; record k, stamped at `timestamp`. */
  function logWithSegments(dir: string, lagMs: number, timestamps: number[]): PartitionLog {
    const log = openLog(dir, testConfig({ cleanupCompact: true, cleanupDelete: false, segmentBytes: 100, minCompactionLagMs: lagMs }));
    for (const t of timestamps) log.append(makeBatch('v', 1, t, { key: () => 'k' }), { leaderEpoch: 0, now: t, assignOffsets: true });
    return log;
  }
  const offsets = (log: PartitionLog) => readBatches(log).flatMap((b) => {
    const batch = decodeRecordBatch(b);
    return batch.records.map((r) => Number(batch.baseOffset) + r.offsetDelta);
  });

  test('the cleaner stops at the first dirty segment holding a record younger than the lag', async () => {
    const { dir, cleanup } = tempDir('min-lag');
    try {
      const now = 1_700_000_000_000;
      const log = logWithSegments(dir, 60_000, [now - 120_000, now - 100_000, now - 10_000, now]);
      assert.deepEqual(log.segmentBaseOffsets(), [0, 1, 2, 3]);
      // Without the lag the range would reach the active segment (offset 3).
      assert.equal(cleanableRange(log, undefined, now).end, 2);
      assert.equal(cleanableRange(log).end, 3);
      cleanLog(log, now);
      // Offset 0 is superseded by offset 1 within the range; 2, too young, is not cleaned (nor consulted).
      assert.deepEqual(offsets(log), [1, 2, 3]);
      assert.equal(log.cleanerCheckpoint, 2);
      // Once old enough, it is.
      const later = now + 60_000;
      assert.equal(cleanableRange(log, undefined, later).end, 3);
      cleanLog(log, later);
      assert.deepEqual(offsets(log), [2, 3]);
      await log.close();
    } finally {
      cleanup();
    }
  });

  test('with no lag (Kafka\'s default) every inactive segment is cleanable', async () => {
    const { dir, cleanup } = tempDir('min-lag-0');
    try {
      const now = 1_700_000_000_000;
      const log = logWithSegments(dir, 0, [now - 2, now - 1, now]);
      assert.equal(cleanableRange(log, undefined, now).end, 2);
      cleanLog(log, now);
      assert.deepEqual(offsets(log), [1, 2]);
      await log.close();
    } finally {
      cleanup();
    }
  });
});
