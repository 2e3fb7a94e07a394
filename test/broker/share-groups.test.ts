import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { ensureInternalTopic } from '../../src/broker/handlers/internal-topics.js';
import { SHARE_STATE_TOPIC } from '../../src/coordinator/share/share-state-log.js';
import { ConfigSource } from '../../src/config/describe-configs.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { ShareGroupHeartbeatResponse } from '../../src/protocol/generated/messages/share-group-heartbeat-response.js';
import { GROUP_RESOURCE, setGroupConfigs as setGroupConfigsOf } from '../support/share-requests.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { sluice } from '../cli/sluice-cli.js';

/**
 * Share groups (KIP-932) spoken directly: membership and epochs, the `simple` assignment that
 * shares partitions when members outnumber them, limits, the admin APIs (describe, list,
 * delete, offsets), group configs, a restart that keeps the group, and the CLI.
 */

const SETTINGS = { 'offsets.topic.num.partitions': '3', 'group.initial.rebalance.delay.ms': '0', 'group.share.max.size': '3', 'share.coordinator.state.topic.num.partitions': '3' };

let dir: string;
let broker: InProcessBroker;
let client: KafkaClient;

async function start(): Promise<void> {
  broker = await startTestBroker(SETTINGS, dir);
  client = new KafkaClient({ brokers: [broker.bootstrap], clientId: 'share-test', retries: 10 });
  for (let i = 0; ; i++) {
    const res = await client.call(() => client.any(), 'FindCoordinator', { ...apis.FindCoordinator.request.create(), keyType: 0, coordinatorKeys: ['g'] }, 4);
    if (res.coordinators[0].errorCode === ErrorCode.NONE && broker.broker.groups.coordinatorError('g') === ErrorCode.NONE) break;
    assert.ok(i < 100, 'no group coordinator');
    await new Promise((r) => setTimeout(r, 100));
  }
  await ensureInternalTopic(broker.broker, SHARE_STATE_TOPIC);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-share-'));
  await start();
});

after(async () => {
  await client.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

const topicIds = new Map<string, string>();

async function createTopic(name: string, partitions: number): Promise<string> {
  const res = await client.call(() => client.any(), 'CreateTopics', {
    ...apis.CreateTopics.request.create(),
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
  });
  assert.equal(res.topics[0].errorCode, ErrorCode.NONE);
  topicIds.set(name, res.topics[0].topicId);
  return res.topics[0].topicId;
}

function heartbeat(groupId: string, memberId: string, memberEpoch: number, topics: string[] | null = null, version = 1): Promise<ShareGroupHeartbeatResponse> {
  return client.call(() => client.any(), 'ShareGroupHeartbeat', { groupId, memberId, memberEpoch, rackId: null, subscribedTopicNames: topics }, version);
}

/** A share consumer as the coordinator sees it: its id, epoch and what it was last given. */
class Member {
  memberId = '';
  epoch = 0;
  assigned = new Map<string, number[]>();

  constructor(
    readonly groupId: string,
    readonly topics: string[],
  ) {}

  async beat(): Promise<ShareGroupHeartbeatResponse> {
    const res = await heartbeat(this.groupId, this.memberId, this.epoch, this.epoch === 0 ? this.topics : null);
    if (res.errorCode !== ErrorCode.NONE) return res;
    this.memberId = res.memberId!;
    this.epoch = res.memberEpoch;
    if (res.assignment) this.assigned = new Map(res.assignment.topicPartitions.map((t) => [t.topicId, t.partitions]));
    return res;
  }

  async leave(): Promise<ShareGroupHeartbeatResponse> {
    return heartbeat(this.groupId, this.memberId, -1);
  }

  partitions(topicId: string): number[] {
    return this.assigned.get(topicId) ?? [];
  }
}

async function describe(groupId: string) {
  const res = await client.call(() => client.any(), 'ShareGroupDescribe', { groupIds: [groupId], includeAuthorizedOperations: false }, 0);
  return res.groups[0];
}

const setGroupConfigs = (groupId: string, configs: Record<string, string | null>) => setGroupConfigsOf(client, groupId, configs);

test('a member joins with epoch 0 and gets a generated id, a positive epoch, the heartbeat interval and every subscribed partition', async () => {
  const topicId = await createTopic('sg-join', 2);
  const res = await heartbeat('sg-join', '', 0, ['sg-join'], 0);
  assert.equal(res.errorCode, ErrorCode.NONE);
  assert.ok(res.memberId && res.memberId.length > 0);
  assert.ok(res.memberEpoch > 0);
  assert.equal(res.heartbeatIntervalMs, 5000);
  assert.deepEqual(res.assignment?.topicPartitions, [{ topicId, partitions: [0, 1] }]);
  // An unchanged assignment is not sent again.
  const again = await heartbeat('sg-join', res.memberId!, res.memberEpoch);
  assert.equal(again.errorCode, ErrorCode.NONE);
  assert.equal(again.assignment, null);
  assert.equal((await heartbeat('sg-join', res.memberId!, -1)).memberEpoch, -1);
});

test('v1: the member id the client chose is kept', async () => {
  await createTopic('sg-own-id', 1);
  const res = await heartbeat('sg-own-id', 'my-own-member-id', 0, ['sg-own-id']);
  assert.equal(res.errorCode, ErrorCode.NONE);
  assert.equal(res.memberId, 'my-own-member-id');
  assert.equal((await describe('sg-own-id')).members[0].memberId, 'my-own-member-id');
  await heartbeat('sg-own-id', 'my-own-member-id', -1);
});

test('more members than partitions: every partition has a consumer and every member a partition, partitions shared', async () => {
  const topicId = await createTopic('sg-share', 2);
  const members = [new Member('sg-share', ['sg-share']), new Member('sg-share', ['sg-share']), new Member('sg-share', ['sg-share'])];
  for (const m of members) assert.equal((await m.beat()).errorCode, ErrorCode.NONE);
  // Those that joined first take the new assignment, and the newest epoch, on their next heartbeat.
  for (const m of members) assert.equal((await m.beat()).errorCode, ErrorCode.NONE);
  const epochs = new Set(members.map((m) => m.epoch));
  assert.equal(epochs.size, 1, 'every member is at the group epoch');
  const consumersOf = [0, 1].map((p) => members.filter((m) => m.partitions(topicId).includes(p)).length);
  assert.ok(consumersOf.every((n) => n >= 1), `every partition consumed: ${consumersOf}`);
  assert.ok(members.every((m) => m.partitions(topicId).length >= 1), 'every member has a partition');
  assert.equal(consumersOf[0] + consumersOf[1], 3, 'one partition each, one of them shared');

  const d = await describe('sg-share');
  assert.equal(d.groupState, 'Stable');
  assert.equal(d.assignorName, 'simple');
  assert.equal(d.members.length, 3);
  assert.equal(d.groupEpoch, members[0].epoch);

  // A member leaves: the others share what it had, with no revocation step.
  assert.equal((await members[2].leave()).errorCode, ErrorCode.NONE);
  for (const m of members.slice(0, 2)) await m.beat();
  assert.deepEqual([...members[0].partitions(topicId), ...members[1].partitions(topicId)].sort(), [0, 1]);
  for (const m of members.slice(0, 2)) await m.leave();
  assert.equal((await describe('sg-share')).groupState, 'Empty');
});

test('epochs: a newer one is fenced, the previous one carries on, an unknown member is refused', async () => {
  await createTopic('sg-epochs', 1);
  const a = new Member('sg-epochs', ['sg-epochs']);
  await a.beat();
  const stale = a.epoch;
  const b = new Member('sg-epochs', ['sg-epochs']);
  await b.beat();
  await a.beat();
  const previous = a.epoch;
  const c = new Member('sg-epochs', ['sg-epochs']);
  await c.beat();
  await a.beat();
  assert.ok(stale < previous && previous < a.epoch, 'each member joining moved the group epoch');
  assert.equal((await heartbeat('sg-epochs', a.memberId, a.epoch + 1)).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal((await heartbeat('sg-epochs', a.memberId, previous)).errorCode, ErrorCode.NONE, 'the response with the new epoch may have been lost');
  assert.equal((await heartbeat('sg-epochs', a.memberId, stale)).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal((await heartbeat('sg-epochs', 'nobody', a.epoch)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await heartbeat('sg-epochs', 'nobody', -1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await heartbeat('sg-epochs', '', 0, [])).errorCode, ErrorCode.INVALID_REQUEST, 'a first heartbeat must subscribe');
  for (const m of [a, b, c]) await m.leave();
});

test('group.share.max.size: one member more is refused with GROUP_MAX_SIZE_REACHED', async () => {
  await createTopic('sg-max', 1);
  const members = [1, 2, 3].map(() => new Member('sg-max', ['sg-max']));
  for (const m of members) assert.equal((await m.beat()).errorCode, ErrorCode.NONE);
  const fourth = await heartbeat('sg-max', '', 0, ['sg-max']);
  assert.equal(fourth.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
  // A member already in the group rejoining is not a new one.
  assert.equal((await heartbeat('sg-max', members[0].memberId, 0, ['sg-max'])).errorCode, ErrorCode.NONE);
  for (const m of members) await m.leave();
});

test('a share group id is not a classic or consumer group id, and the other way round', async () => {
  await createTopic('sg-kinds', 1);
  const join = await client.call(() => client.any(), 'JoinGroup', {
    ...apis.JoinGroup.request.create(),
    groupId: 'sg-classic',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  }, 9);
  assert.equal(join.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  const joined = await client.call(() => client.any(), 'JoinGroup', {
    ...apis.JoinGroup.request.create(),
    groupId: 'sg-classic',
    memberId: join.memberId,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  }, 9);
  assert.equal(joined.errorCode, ErrorCode.NONE);
  assert.equal((await heartbeat('sg-classic', '', 0, ['sg-kinds'])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);

  const m = new Member('sg-kinds', ['sg-kinds']);
  await m.beat();
  const classic = await client.call(() => client.any(), 'JoinGroup', {
    ...apis.JoinGroup.request.create(),
    groupId: 'sg-kinds',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  }, 9);
  assert.equal(classic.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const consumer = await client.call(() => client.any(), 'ConsumerGroupHeartbeat', {
    ...apis.ConsumerGroupHeartbeat.request.create(),
    groupId: 'sg-kinds',
    memberEpoch: 0,
    rebalanceTimeoutMs: 10_000,
    subscribedTopicNames: ['sg-kinds'],
  }, 1);
  assert.equal(consumer.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  const described = await client.call(() => client.any(), 'DescribeGroups', { groups: ['sg-kinds'], includeAuthorizedOperations: false }, 5);
  assert.equal(described.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  await m.leave();
});

test('ListGroups v5: share groups with type and protocol type share, filtered by type and state', async () => {
  await createTopic('sg-list', 1);
  const m = new Member('sg-list', ['sg-list']);
  await m.beat();
  const list = (typesFilter: string[], statesFilter: string[] = []) => client.call(() => client.any(), 'ListGroups', { statesFilter, typesFilter }, 5);
  const shares = (await list(['share'])).groups;
  const mine = shares.find((g) => g.groupId === 'sg-list');
  assert.deepEqual(mine, { groupId: 'sg-list', protocolType: 'share', groupState: 'Stable', groupType: 'share' });
  assert.ok(shares.every((g) => g.groupType === 'share'));
  assert.equal((await list(['classic'])).groups.find((g) => g.groupId === 'sg-list'), undefined);
  assert.equal((await list(['share'], ['Empty'])).groups.find((g) => g.groupId === 'sg-list'), undefined);
  assert.ok((await list([])).groups.some((g) => g.groupId === 'sg-list'));
  await m.leave();
});

test('DeleteGroups: refused while the share group has members; then it goes, with its share-partition state', async () => {
  const topicId = await createTopic('sg-delete', 1);
  const m = new Member('sg-delete', ['sg-delete']);
  await m.beat();
  const del = async () => (await client.call(() => client.any(), 'DeleteGroups', { groupsNames: ['sg-delete'] }, 2)).results[0].errorCode;
  assert.equal(await del(), ErrorCode.NON_EMPTY_GROUP);
  await m.leave();
  await broker.broker.shareStates.alter('sg-delete', [{ topicId, partition: 0, startOffset: 0 }]);
  assert.equal(broker.broker.shareStates.offsets('sg-delete').length, 1);
  assert.equal(await del(), ErrorCode.NONE);
  assert.deepEqual(broker.broker.shareStates.offsets('sg-delete'), []);
  assert.equal((await describe('sg-delete')).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal(await del(), ErrorCode.GROUP_ID_NOT_FOUND);
});

test('share group offsets: described, altered only while the group is empty, deleted by topic', async () => {
  const topicId = await createTopic('sg-offsets', 2);
  const m = new Member('sg-offsets', ['sg-offsets']);
  await m.beat();
  const alter = (startOffset: bigint, topicName = 'sg-offsets') =>
    client.call(() => client.any(), 'AlterShareGroupOffsets', { groupId: 'sg-offsets', topics: [{ topicName, partitions: [{ partitionIndex: 1, startOffset }] }] }, 0);
  const refused = await alter(5n);
  assert.equal(refused.errorCode, ErrorCode.NON_EMPTY_GROUP);
  await m.leave();

  const altered = await alter(5n);
  assert.equal(altered.errorCode, ErrorCode.NONE);
  assert.equal(altered.responses[0].topicId, topicId);
  assert.equal(altered.responses[0].partitions[0].errorCode, ErrorCode.NONE);
  assert.equal((await alter(1n, 'sg-no-such-topic')).responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  const described = async (topics: { topicName: string; partitions: number[] }[] | null) =>
    (await client.call(() => client.any(), 'DescribeShareGroupOffsets', { groups: [{ groupId: 'sg-offsets', topics }] }, 0)).groups[0];
  const all = await described(null);
  assert.equal(all.errorCode, ErrorCode.NONE);
  assert.deepEqual(
    all.topics.map((t) => ({ name: t.topicName, partitions: t.partitions.map((p) => [p.partitionIndex, p.startOffset]) })),
    [{ name: 'sg-offsets', partitions: [[1, 5n]] }],
  );
  const asked = await described([{ topicName: 'sg-offsets', partitions: [0, 1] }]);
  assert.deepEqual(asked.topics[0].partitions.map((p) => p.startOffset), [-1n, 5n], 'a partition without state: -1');

  const deleted = await client.call(() => client.any(), 'DeleteShareGroupOffsets', { groupId: 'sg-offsets', topics: [{ topicName: 'sg-offsets' }, { topicName: 'sg-gone' }] }, 0);
  assert.equal(deleted.errorCode, ErrorCode.NONE);
  assert.deepEqual(deleted.responses.map((r) => r.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.deepEqual((await described([{ topicName: 'sg-offsets', partitions: [1] }])).topics[0].partitions[0].startOffset, -1n);

  // Not a share group's id: refused.
  const other = await client.call(() => client.any(), 'DescribeShareGroupOffsets', { groups: [{ groupId: 'sg-classic', topics: null }] }, 0);
  assert.equal(other.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('group configs: set, described as GROUP_CONFIG, applied to heartbeats and the share-partitions, checked', async () => {
  await createTopic('sg-configs', 1);
  await createTopic('sg-dlq', 1);
  const set = await setGroupConfigs('sg-configs', {
    'share.heartbeat.interval.ms': '700',
    'share.auto.offset.reset': 'earliest',
    'share.record.lock.duration.ms': '20000',
    'share.isolation.level': 'read_committed',
    'share.delivery.count.limit': '3',
    'sluice.share.retry.backoff.ms': '1000,5000,30000',
    'errors.deadletterqueue.topic.name': 'sg-dlq',
  });
  assert.equal(set.errorCode, ErrorCode.NONE, set.errorMessage ?? '');
  const res = await heartbeat('sg-configs', '', 0, ['sg-configs']);
  assert.equal(res.heartbeatIntervalMs, 700);
  assert.deepEqual(broker.broker.shareGroupConfigs.source('sg-configs'), {
    autoOffsetReset: 'earliest',
    lockDurationMs: 20_000,
    readCommitted: true,
    deliveryCountLimit: 3,
    retryBackoffMs: [1000, 5000, 30_000],
    deadLetterTopic: 'sg-dlq',
  });
  assert.deepEqual(broker.broker.shareGroupConfigs.source('sg-other'), {
    autoOffsetReset: 'latest',
    lockDurationMs: 30_000,
    readCommitted: false,
    deliveryCountLimit: 5,
    retryBackoffMs: [],
    deadLetterTopic: null,
  });

  const described = await client.call(() => client.any(), 'DescribeConfigs', {
    resources: [{ resourceType: GROUP_RESOURCE, resourceName: 'sg-configs', configurationKeys: ['share.heartbeat.interval.ms', 'share.session.timeout.ms'] }],
    includeSynonyms: false,
    includeDocumentation: false,
  }, 4);
  assert.deepEqual(
    described.results[0].configs.map((c) => [c.name, c.value, c.configSource]),
    [
      ['share.heartbeat.interval.ms', '700', ConfigSource.GROUP_CONFIG],
      ['share.session.timeout.ms', '45000', ConfigSource.DEFAULT_CONFIG],
    ],
  );

  for (const [name, value] of [
    ['share.auto.offset.reset', 'by_duration:PT1H'],
    ['share.record.lock.duration.ms', '5000'],
    ['share.delivery.count.limit', '11'],
    ['share.isolation.level', 'read_whatever'],
    ['sluice.share.retry.backoff.ms', '1000,-5'],
    ['errors.deadletterqueue.topic.name', '__consumer_offsets'],
    ['share.heartbeat.interval.ms', '50000'],
    ['no.such.config', '1'],
  ]) {
    const refused = await setGroupConfigs('sg-configs', { [name]: value });
    assert.equal(refused.errorCode, ErrorCode.INVALID_CONFIG, `${name}=${value}`);
  }
  assert.equal(broker.broker.shareGroupConfigs.source('sg-configs').deliveryCountLimit, 3, 'refused changes changed nothing');
  await heartbeat('sg-configs', res.memberId!, -1);
});

test('share.session.timeout.ms: a member that stops heartbeating is removed', async () => {
  await createTopic('sg-expiry', 1);
  assert.equal((await setGroupConfigs('sg-expiry', { 'share.session.timeout.ms': '600', 'share.heartbeat.interval.ms': '100' })).errorCode, ErrorCode.NONE);
  const m = new Member('sg-expiry', ['sg-expiry']);
  await m.beat();
  assert.equal((await describe('sg-expiry')).members.length, 1);
  for (let i = 0; (await describe('sg-expiry')).members.length > 0; i++) {
    assert.ok(i < 200, 'the member was never removed');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await describe('sg-expiry')).groupState, 'Empty');
  assert.equal((await m.beat()).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('the CLI lists, describes and resets share groups', async () => {
  await createTopic('sg-cli', 2);
  const m = new Member('sg-cli', ['sg-cli']);
  await m.beat();
  const brokers = ['--brokers', broker.bootstrap];

  const list = await sluice(['share-group', 'list', ...brokers]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^sg-cli\s+Stable$/m);

  const busy = await sluice(['share-group', 'reset-offsets', 'sg-cli', '--topic', 'sg-cli', '--to-earliest', '--execute', ...brokers]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /active member/);

  const described = await sluice(['share-group', 'describe', 'sg-cli', ...brokers]);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, new RegExp(`${m.memberId}\\s+share-test\\s+\\S+\\s+sg-cli:0,1`));
  await m.leave();

  const dry = await sluice(['share-group', 'reset-offsets', 'sg-cli', '--topic', 'sg-cli', '--partition', '1', '--to-earliest', ...brokers]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /dry run/);
  assert.deepEqual(broker.broker.shareStates.offsets('sg-cli'), []);

  const reset = await sluice(['share-group', 'reset-offsets', 'sg-cli', '--topic', 'sg-cli', '--partition', '1', '--to-earliest', '--execute', ...brokers]);
  assert.equal(reset.code, 0, reset.stderr);
  assert.deepEqual(broker.broker.shareStates.offsets('sg-cli').map((o) => [o.partition, o.startOffset]), [[1, 0]]);
  const after = await sluice(['share-group', 'describe', 'sg-cli', ...brokers]);
  assert.match(after.stdout, /^sg-cli\s+1\s+0\s+0\s+0\s+0$/m);
});

test('a restart keeps the share group: members, epochs, assignments and group configs', async () => {
  const topicId = await createTopic('sg-restart', 2);
  assert.equal((await setGroupConfigs('sg-restart', { 'share.delivery.count.limit': '4' })).errorCode, ErrorCode.NONE);
  const a = new Member('sg-restart', ['sg-restart']);
  const b = new Member('sg-restart', ['sg-restart']);
  await a.beat();
  await b.beat();
  await a.beat();
  const before = await describe('sg-restart');

  await client.close();
  await broker.stop();
  await start();

  const after = await describe('sg-restart');
  assert.equal(after.groupEpoch, before.groupEpoch);
  assert.deepEqual(
    after.members.map((m) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions]).sort(),
    before.members.map((m) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions]).sort(),
  );
  const res = await heartbeat('sg-restart', a.memberId, a.epoch);
  assert.equal(res.errorCode, ErrorCode.NONE);
  assert.equal(res.memberEpoch, a.epoch);
  assert.equal(res.assignment, null, 'the assignment it has is not sent again');
  assert.ok(after.members.some((m) => m.memberId === a.memberId && m.assignment.topicPartitions.some((t) => t.topicId === topicId)));
  assert.equal(broker.broker.shareGroupConfigs.source('sg-restart').deliveryCountLimit, 4);
  await a.leave();
  await heartbeat('sg-restart', b.memberId, -1);
});

test('group.share.enable=false: the share group APIs are left out of ApiVersions', async () => {
  const off = await startTestBroker({ 'group.share.enable': 'false' });
  const offClient = new KafkaClient({ brokers: [off.bootstrap], clientId: 'share-off' });
  try {
    const versions = await offClient.call(() => offClient.any(), 'ApiVersions', { ...apis.ApiVersions.request.create() }, 3);
    const keys = new Set(versions.apiKeys.map((k) => k.apiKey));
    for (const api of [apis.ShareGroupHeartbeat, apis.ShareGroupDescribe, apis.DescribeShareGroupOffsets, apis.AlterShareGroupOffsets, apis.DeleteShareGroupOffsets]) {
      assert.equal(keys.has(api.apiKey), false, api.name);
    }
    const on = await client.call(() => client.any(), 'ApiVersions', { ...apis.ApiVersions.request.create() }, 3);
    assert.ok(on.apiKeys.some((k) => k.apiKey === apis.ShareGroupHeartbeat.apiKey && k.maxVersion === 1));
  } finally {
    await offClient.close();
    await off.stop();
  }
});
