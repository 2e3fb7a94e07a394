import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { closedPort, expectExit, sluice } from './sluice-cli.js';

describe('sluice help, usage errors and a missing broker', () => {
  test('--help works at every level and names --brokers where a cluster is involved', async () => {
    const [top, topic, create, consume] = await Promise.all([sluice(['--help']), sluice(['topic', '--help']), sluice(['topic', 'create', '--help']), sluice(['consume', '--help'])]);
    for (const [r, what] of [[top, 'sluice --help'], [topic, 'topic --help'], [create, 'topic create --help'], [consume, 'consume --help']] as const) expectExit(r, 0, what);
    for (const name of ['serve', 'topic', 'produce', 'consume', 'group', 'cluster', 'dev-cluster']) assert.match(top.stdout, new RegExp(`^  ${name}\\b`, 'm'), `sluice --help lists ${name}`);
    for (const name of ['create', 'list', 'describe', 'alter-config', 'delete', 'add-partitions']) assert.match(topic.stdout, new RegExp(`^  ${name}\\b`, 'm'));
    const oneLine = (help: string): string => help.replace(/\s+/g, ' ');
    assert.match(oneLine(create.stdout), /-b, --brokers <host:port,\.\.\.> brokers to bootstrap from \(default: localhost:9092, env: SLUICE_BROKERS\)/);
    assert.match(oneLine(consume.stdout), /--format <format> .* \(choices: "raw", "text", "json", default: "text"\)/);
    assert.doesNotMatch(create.stdout, /default: \[\]/, 'repeatable options show no empty default');
  });

  test('usage errors exit 2 with one line naming the command and its help', async () => {
    const cases: [string[], RegExp][] = [
      [['topic', 'create'], /^sluice topic create: missing required argument 'name' — see `sluice topic create --help`\n$/],
      [['topic', 'create', 'x', '--partitions', 'three'], /^sluice topic create: .*'three' is invalid\. expected an integer/],
      [['topic', 'list', '--bogus'], /^sluice topic list: unknown option '--bogus'/],
      [['topic', 'list', '--brokers', 'no-port'], /expected host:port\[,host:port\.\.\.\], got "no-port"/],
      [['consume', 't', '--offset', '5'], /^sluice consume: --offset needs --partition — see `sluice consume --help`\n$/],
      [['consume', 't', '--partition', '1', '--group', 'g'], /cannot be used with option '-g, --group/],
      [['consume', 't', '--format', 'xml'], /Allowed choices are raw, text, json/],
      [['produce', 't', '--key', 'k', '--key-separator', ':'], /cannot be used with option '-K, --key-separator/],
      [['produce', 't', '--acks', '2'], /Allowed choices are 0, 1, -1, all/],
      [['group', 'reset-offsets', 'g', '--topic', 't'], /^sluice group reset-offsets: give exactly one of --to-earliest/],
      [['group', 'reset-offsets', 'g', '--topic', 't', '--to-datetime', 'yesterday-ish'], /expected milliseconds since the epoch or an ISO date-time/],
      [['topic', 'alter-config', 't'], /^sluice topic alter-config: nothing to change/],
      [['frobnicate'], /^sluice: unknown command 'frobnicate'/],
      [['topic'], /Usage: sluice topic/],
    ];
    const results = await Promise.all(cases.map(([args]) => sluice(args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i];
      expectExit(r, 2, `sluice ${args.join(' ')}`);
      assert.match(r.stderr, message, `sluice ${args.join(' ')}`);
    });
  });

  test('without a broker: exit 1 and a message that says what to do', async () => {
    const port = await closedPort();
    const [list, produce] = await Promise.all([sluice(['topic', 'list', '--brokers', `127.0.0.1:${port}`]), sluice(['produce', 't', '-b', `127.0.0.1:${port}`], { input: 'x\n' })]);
    for (const r of [list, produce]) {
      expectExit(r, 1, 'against a closed port');
      assert.equal(r.stderr, `sluice: cannot reach 127.0.0.1:${port}: connection refused — is a broker running? start one with \`sluice serve\` or pass --brokers\n`);
    }
  });
});

describe('sluice topic and cluster commands against a broker process', { timeout: 120_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let broker: BrokerProcess;
  const run = (...args: string[]) => sluice([...args, '--brokers', broker.bootstrap]);

  before(async () => {
    temp = tempDir('cli-admin');
    broker = await startBrokerProcess(join(temp.dir, 'data'), { 'auto.create.topics.enable': 'false', 'num.partitions': '2' });
  });

  after(async () => {
    try {
      if (broker) assert.equal(await broker.stop(), 0);
    } finally {
      temp.cleanup();
    }
  });

  test('topic create, list, describe, alter-config, add-partitions, delete', async () => {
    const created = await run('topic', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=3600000', '--config', 'cleanup.policy=compact');
    expectExit(created, 0, 'topic create');
    assert.equal(created.stdout, 'created topic orders with 3 partitions (replication factor 1)\n');
    expectExit(await run('topic', 'create', 'defaults'), 0, 'topic create with the broker defaults');

    const again = await run('topic', 'create', 'orders');
    expectExit(again, 1, 'creating an existing topic');
    assert.match(again.stderr, /^sluice: create topic orders: TOPIC_ALREADY_EXISTS .* — see it with `sluice topic describe`\n$/);

    const [list, long] = await Promise.all([run('topic', 'list'), run('topic', 'list', '--long')]);
    expectExit(list, 0, 'topic list');
    assert.equal(list.stdout, 'defaults\norders\n');
    assert.match(long.stdout, /^TOPIC +PARTITIONS +REPLICATION-FACTOR +INTERNAL\ndefaults +2 +1 +no\norders +3 +1 +no\n$/);

    const described = await run('topic', 'describe', 'orders');
    expectExit(described, 0, 'topic describe');
    assert.match(described.stdout, /^topic: +orders$/m);
    assert.match(described.stdout, /^partitions: +3$/m);
    assert.match(described.stdout, /^PARTITION +LEADER +REPLICAS +ISR +LOW +HIGH\n0 +1 +1 +1 +0 +0\n1 +1 +1 +1 +0 +0\n2 +1 +1 +1 +0 +0\n/m);
    assert.match(described.stdout, /^retention\.ms +3600000 +override$/m);
    assert.match(described.stdout, /^cleanup\.policy +compact +override$/m);
    assert.match(described.stdout, /^segment\.bytes +\d+ +default$/m);

    const altered = await run('topic', 'alter-config', 'orders', '--set', 'retention.ms=60000', '--set', 'segment.ms=100000', '--delete', 'cleanup.policy');
    expectExit(altered, 0, 'topic alter-config');
    assert.equal(altered.stdout, 'updated topic orders: set retention.ms=60000, set segment.ms=100000, deleted cleanup.policy\n');
    const badConfig = await run('topic', 'alter-config', 'orders', '--set', 'no.such.config=1');
    expectExit(badConfig, 1, 'an unknown config');
    assert.match(badConfig.stderr, /INVALID_CONFIG/);

    const grown = await run('topic', 'add-partitions', 'orders', '5');
    expectExit(grown, 0, 'topic add-partitions');
    const shrink = await run('topic', 'add-partitions', 'orders', '4');
    expectExit(shrink, 1, 'fewer partitions');
    assert.match(shrink.stderr, /INVALID_PARTITIONS/);

    const after = await run('topic', 'describe', 'orders');
    assert.match(after.stdout, /^partitions: +5$/m);
    assert.match(after.stdout, /^4 +1 +1 +1 +0 +0$/m);
    assert.match(after.stdout, /^retention\.ms +60000 +override$/m);
    assert.match(after.stdout, /^segment\.ms +100000 +override$/m);
    assert.match(after.stdout, /^cleanup\.policy +delete +default$/m);

    expectExit(await run('topic', 'delete', 'defaults'), 0, 'topic delete');
    assert.equal((await run('topic', 'list')).stdout, 'orders\n');
  });

  test('an unknown topic: exit 1 and the Kafka error name, for every command that needs one', async () => {
    const results = await Promise.all([
      run('topic', 'describe', 'nope'),
      run('topic', 'delete', 'nope'),
      run('topic', 'add-partitions', 'nope', '4'),
      sluice(['produce', 'nope', '--brokers', broker.bootstrap], { input: 'x\n' }),
      run('consume', 'nope', '--from-beginning'),
      run('group', 'reset-offsets', 'g', '--topic', 'nope', '--to-earliest'),
      run('cluster', 'partitions', '--topic', 'nope'),
    ]);
    for (const r of results) {
      expectExit(r, 1, 'an unknown topic');
      assert.match(r.stderr, /^sluice: .*nope.*: UNKNOWN_TOPIC_OR_PARTITION .* — see `sluice topic list`/);
    }
  });

  test('cluster info: id, controller, brokers with their partitions, topic and partition counts', async () => {
    expectExit(await run('topic', 'create', 'two', '--partitions', '2'), 0, 'topic create');
    const [info, bare] = await Promise.all([run('cluster', 'info'), run('cluster')]);
    expectExit(info, 0, 'cluster info');
    expectExit(bare, 0, 'cluster without a subcommand');
    assert.equal(bare.stdout, info.stdout, 'cluster alone is cluster info');
    const topics = (await run('topic', 'list', '--long', '--internal')).stdout.trim().split('\n').slice(1);
    const external = topics.filter((row) => row.endsWith(' no'));
    const count = (rows: string[]): number => rows.reduce((n, row) => n + Number(row.split(/ +/)[1]), 0);
    assert.match(info.stdout, /^cluster id: +[\w-]{22}$/m);
    assert.match(info.stdout, /^controller: +1$/m);
    assert.match(info.stdout, /^brokers: +1$/m);
    assert.match(info.stdout, new RegExp(`^topics: +${external.length} \\(${count(external)} partitions\\)`, 'm'));
    assert.match(info.stdout, /^offline partitions: +0$/m);
    assert.match(info.stdout, /^under-replicated partitions: +0$/m);
    // The only broker leads and holds every partition, internal ones too.
    const all = count(topics);
    assert.match(info.stdout, new RegExp(`^NODE +ADDRESS +RACK +ROLE +LEADERS +REPLICAS\n1 +${broker.bootstrap.replace(/\./g, '\\.')} +- +controller +${all} +${all}$`, 'm'));
  });

  test('cluster partitions: leader, replicas, ISR and offline replicas of each partition', async () => {
    expectExit(await run('topic', 'create', 'three', '--partitions', '3'), 0, 'topic create');
    const one = await run('cluster', 'partitions', '--topic', 'three');
    expectExit(one, 0, 'cluster partitions --topic');
    assert.equal(one.stdout, ['TOPIC  PARTITION  LEADER  REPLICAS  ISR  OFFLINE-REPLICAS', ...[0, 1, 2].map((p) => `three  ${p}          1       1         1    -`)].join('\n') + '\n');
    const all = await run('cluster', 'partitions');
    expectExit(all, 0, 'cluster partitions');
    assert.match(all.stdout, /^three +2 +1 +1 +1 +-$/m);
    const listed = new Set(all.stdout.trim().split('\n').slice(1).map((row) => row.split(/ +/)[0]));
    assert.ok(['three', 'two'].every((t) => listed.has(t)), `every topic is listed: ${[...listed].join(', ')}`);
    for (const filter of ['--offline', '--under-replicated']) {
      const none = await run('cluster', 'partitions', filter);
      expectExit(none, 0, `cluster partitions ${filter}`);
      assert.equal(none.stdout.trim().split('\n').length, 1, `${filter}: a header and no partition on a healthy broker`);
    }
  });

  test('SLUICE_BROKERS is read when --brokers is not given', async () => {
    const r = await sluice(['cluster', 'info'], { env: { SLUICE_BROKERS: broker.bootstrap } });
    expectExit(r, 0, 'cluster info via SLUICE_BROKERS');
    assert.match(r.stdout, new RegExp(broker.bootstrap.replace(/\./g, '\\.')));
  });
});
