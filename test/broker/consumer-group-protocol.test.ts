import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { platformaticNodeOrSkip } from '../support/platformatic-runner.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import type { ConsumerGroupHeartbeatResponse } from '../../src/protocol/generated/messages/consumer-group-heartbeat-response.js';
import type { JoinGroupResponse } from '../../src/protocol/generated/messages/join-group-response.js';
import { ConsumerProtocolSubscriptionCodec } from '../../src/protocol/generated/messages/consumer-protocol-subscription.js';
import { decodeAssignment, encodeAssignment, encodeVersioned } from '../../src/protocol/consumer-protocol.js';
import { GROUP_TEST_SETTINGS, joinLeaveKill, LiveMembers, produceSteadily } from '../support/live-group.js';
import { eventually } from '../support/librdkafka-groups.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { AUTHORIZED_OPERATIONS, OPERATIONS_OMITTED } from '../../src/broker/handlers/authorized-operations.js';

/**
 * KIP-848's consumer group protocol, spoken directly: epochs, server-side assignment,
 * revocation before reassignment, static members, regex subscriptions, offsets with the member
 * epoch, the describe and list APIs, and a restart that keeps the group.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MEMBER_SCRIPT = fileURLToPath(new URL('../support/platformatic-kip848-member.mjs', import.meta.url));

const SETTINGS = GROUP_TEST_SETTINGS;

let dir: string;
let broker: InProcessBroker;
let client: KafkaClient;

async function start(): Promise<void> {
  broker = await startTestBroker(SETTINGS, dir);
  client = new KafkaClient({ brokers: [broker.bootstrap], clientId: 'kip848-test', retries: 10 });
  // FindCoordinator creates __consumer_offsets; wait until this broker coordinates groups.
  for (let i = 0; ; i++) {
    const res = await client.call(() => client.any(), 'FindCoordinator', { ...apis.FindCoordinator.request.create(), keyType: 0, coordinatorKeys: ['g-basic'] }, 4);
    if (res.coordinators[0].errorCode === ErrorCode.NONE && broker.broker.groups.coordinatorError('g-basic') === ErrorCode.NONE) break;
    assert.ok(i < 100, 'no group coordinator');
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-kip848-'));
  await start();
});

after(async () => {
  await client.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createTopic(name: string, partitions: number): Promise<string> {
  const res = await client.call(() => client.any(), 'CreateTopics', {
    ...apis.CreateTopics.request.create(),
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
  });
  assert.equal(res.topics[0].errorCode, ErrorCode.NONE);
  return res.topics[0].topicId;
}

interface Hb {
  groupId: string;
  memberId?: string;
  memberEpoch: number;
  instanceId?: string | null;
  topics?: string[] | null;
  regex?: string | null;
  assignor?: string | null;
  owned?: Map<string, number[]> | null;
}

async function heartbeat(h: Hb): Promise<ConsumerGroupHeartbeatResponse> {
  return client.call(
    () => client.any(),
    'ConsumerGroupHeartbeat',
    {
      ...apis.ConsumerGroupHeartbeat.request.create(),
      groupId: h.groupId,
      memberId: h.memberId ?? '',
      memberEpoch: h.memberEpoch,
      instanceId: h.instanceId ?? null,
      rebalanceTimeoutMs: h.memberEpoch === 0 ? 10_000 : -1,
      subscribedTopicNames: h.topics ?? null,
      subscribedTopicRegex: h.regex ?? null,
      serverAssignor: h.assignor ?? null,
      topicPartitions: h.owned === undefined ? [] : h.owned === null ? null : [...h.owned].map(([topicId, partitions]) => ({ topicId, partitions })),
    },
    1,
  );
}

/** A simulated member: keeps what it owns, revokes at once what it is no longer assigned. */
class Member {
  memberId = '';
  epoch = 0;
  owned = new Map<string, number[]>();

  constructor(
    readonly groupId: string,
    readonly topics: string[] | null,
    readonly regex: string | null = null,
    readonly instanceId: string | null = null,
    readonly assignor: string | null = null,
  ) {}

  async beat(): Promise<ConsumerGroupHeartbeatResponse> {
    const joining = this.epoch === 0;
    const res = await heartbeat({
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: this.epoch,
      instanceId: this.instanceId,
      topics: joining ? this.topics ?? null : null,
      regex: joining ? this.regex : null,
      assignor: joining ? this.assignor : null,
      owned: this.owned,
    });
    assert.equal(res.errorCode, ErrorCode.NONE, `heartbeat of ${this.memberId}: ${res.errorMessage}`);
    this.memberId = res.memberId!;
    this.epoch = res.memberEpoch;
    if (res.assignment) this.owned = new Map(res.assignment.topicPartitions.map((t) => [t.topicId, [...t.partitions].sort((a, b) => a - b)]));
    return res;
  }

  count(): number {
    let n = 0;
    for (const ps of this.owned.values()) n += ps.length;
    return n;
  }

  keys(): string[] {
    return [...this.owned].flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`));
  }
}

/** No partition owned by two members at once: the point of revocation before reassignment. */
function assertDisjoint(members: Member[]): void {
  const seen = new Map<string, string>();
  for (const m of members) {
    for (const k of m.keys()) {
      assert.ok(!seen.has(k), `${k} owned by ${seen.get(k)} and ${m.memberId}`);
      seen.set(k, m.memberId);
    }
  }
}

/** Heartbeats every member in turn until the group is stable at one epoch, checking ownership each step. */
async function settle(members: Member[], rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    for (const m of members) {
      await m.beat();
      assertDisjoint(members);
    }
    const epochs = new Set(members.map((m) => m.epoch));
    const described = await describe(members[0].groupId);
    if (epochs.size === 1 && described.groupState === 'Stable') return;
  }
  throw new Error('the group did not settle');
}

async function describe(groupId: string) {
  const res = await client.call(() => client.any(), 'ConsumerGroupDescribe', { groupIds: [groupId], includeAuthorizedOperations: false }, 0);
  return res.groups[0];
}

test('members join, share the partitions, and revoke before anyone else gets them', async () => {
  const topicId = await createTopic('kip848-a', 6);
  const a = new Member('g-basic', ['kip848-a']);
  const r = await a.beat();
  assert.equal(r.heartbeatIntervalMs, 500);
  assert.equal(a.epoch, 1);
  assert.deepEqual(a.owned.get(topicId), [0, 1, 2, 3, 4, 5]);

  const b = new Member('g-basic', ['kip848-a']);
  await b.beat();
  // B is in the new epoch but gets nothing A still owns.
  assert.equal(b.epoch, 2);
  assert.equal(b.count(), 0);
  // A is told to give up half, and keeps its epoch until it has.
  await a.beat();
  assert.equal(a.epoch, 1);
  assert.equal(a.count(), 3);
  await settle([a, b]);
  assert.equal(a.count() + b.count(), 6);
  assert.equal(a.count(), 3);

  const c = new Member('g-basic', ['kip848-a']);
  await settle([a, b, c]);
  assert.deepEqual([a.count(), b.count(), c.count()], [2, 2, 2]);
  const before = a.epoch;

  // A member that leaves gives its partitions back to the others.
  const left = await heartbeat({ groupId: 'g-basic', memberId: c.memberId, memberEpoch: -1 });
  assert.equal(left.errorCode, ErrorCode.NONE);
  assert.equal(left.memberEpoch, -1);
  await settle([a, b]);
  assert.ok(a.epoch > before);
  assert.deepEqual([a.count(), b.count()], [3, 3]);

  // A stale epoch is fenced; an unknown member is told so.
  const fenced = await heartbeat({ groupId: 'g-basic', memberId: a.memberId, memberEpoch: a.epoch + 5, owned: a.owned });
  assert.equal(fenced.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  const unknown = await heartbeat({ groupId: 'g-basic', memberId: 'nobody', memberEpoch: 3, owned: null });
  assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);

  const d = await describe('g-basic');
  assert.equal(d.errorCode, ErrorCode.NONE);
  assert.equal(d.groupState, 'Stable');
  assert.equal(d.assignorName, 'uniform');
  assert.equal(d.members.length, 2);
  assert.equal(d.groupEpoch, a.epoch);
  assert.equal(d.members[0].assignment.topicPartitions[0].topicName, 'kip848-a');

  // Offsets: the member epoch is the generation, and a stale one is refused.
  const commit = (epoch: number, memberId: string) =>
    client.call(
      () => client.any(),
      'OffsetCommit',
      {
        ...apis.OffsetCommit.request.create(),
        groupId: 'g-basic',
        generationIdOrMemberEpoch: epoch,
        memberId,
        topics: [{ name: 'kip848-a', partitions: [{ partitionIndex: a.owned.get(topicId)![0], committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: null, commitTimestamp: -1n }] }],
      },
      9,
    );
  assert.equal((await commit(a.epoch, a.memberId)).topics[0].partitions[0].errorCode, ErrorCode.NONE);
  assert.equal((await commit(a.epoch - 1, a.memberId)).topics[0].partitions[0].errorCode, ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal((await commit(a.epoch, 'nobody')).topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const fetched = await client.call(() => client.any(), 'OffsetFetch', { ...apis.OffsetFetch.request.create(), groupId: 'g-basic', topics: [{ name: 'kip848-a', partitionIndexes: [a.owned.get(topicId)![0]] }] }, 7);
  assert.equal(fetched.topics[0].partitions[0].committedOffset, 42n);

  // ListGroups and DescribeGroups show the group as a consumer group.
  const listed = await client.call(() => client.any(), 'ListGroups', { statesFilter: [], typesFilter: ['consumer'] }, 5);
  const entry = listed.groups.find((g) => g.groupId === 'g-basic');
  assert.ok(entry);
  assert.equal(entry.groupType, 'consumer');
  assert.equal(entry.groupState, 'Stable');
  const classicOnly = await client.call(() => client.any(), 'ListGroups', { statesFilter: [], typesFilter: ['classic'] }, 5);
  assert.ok(!classicOnly.groups.some((g) => g.groupId === 'g-basic'));
  const described = await client.call(() => client.any(), 'DescribeGroups', { groups: ['g-basic'], includeAuthorizedOperations: false }, 5);
  assert.equal(described.groups[0].protocolType, 'consumer');
  assert.equal(described.groups[0].members.length, 2);

  // Classic members may join it (online migration, below): first they are given a member id;
  // one whose metadata is no consumer-protocol subscription is refused.
  const joinWith = (memberId: string) =>
    client.call(
      () => client.any(),
      'JoinGroup',
      { ...apis.JoinGroup.request.create(), groupId: 'g-basic', memberId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] },
      9,
    );
  const first = await joinWith('');
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.equal((await joinWith(first.memberId)).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const del = await client.call(() => client.any(), 'DeleteGroups', { groupsNames: ['g-basic'] }, 2);
  assert.equal(del.results[0].errorCode, ErrorCode.NON_EMPTY_GROUP);
  for (const m of [a, b]) assert.equal((await heartbeat({ groupId: 'g-basic', memberId: m.memberId, memberEpoch: -1 })).errorCode, ErrorCode.NONE);
});

test('range assignor, regex subscriptions and an unknown assignor', async () => {
  const x = await createTopic('kip848-re-x', 2);
  const y = await createTopic('kip848-re-y', 2);
  await createTopic('kip848-other', 2);
  const a = new Member('g-regex', null, 'kip848-re-.*', null, 'range');
  const b = new Member('g-regex', null, 'kip848-re-.*', null, 'range');
  await a.beat();
  await settle([a, b]);
  // Range: each member gets one partition of each topic.
  for (const m of [a, b]) {
    assert.equal(m.owned.get(x)?.length, 1);
    assert.equal(m.owned.get(y)?.length, 1);
    assert.equal(m.owned.size, 2);
  }
  assert.equal((await describe('g-regex')).assignorName, 'range');
  // A topic created later that matches joins the subscription.
  const z = await createTopic('kip848-re-z', 2);
  await settle([a, b]);
  assert.equal((a.owned.get(z)?.length ?? 0) + (b.owned.get(z)?.length ?? 0), 2);

  const bad = await heartbeat({ groupId: 'g-regex2', memberEpoch: 0, topics: ['kip848-a'], assignor: 'sticky' });
  assert.equal(bad.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
  const badRegex = await heartbeat({ groupId: 'g-regex2', memberEpoch: 0, regex: '(' });
  assert.equal(badRegex.errorCode, ErrorCode.INVALID_REGULAR_EXPRESSION);
});

test('a static member leaves with epoch -2 and comes back to its assignment', async () => {
  const topicId = await createTopic('kip848-static', 4);
  const a = new Member('g-static', ['kip848-static'], null, 'instance-a');
  const b = new Member('g-static', ['kip848-static'], null, 'instance-b');
  await a.beat();
  await settle([a, b]);
  const owned = a.owned.get(topicId);
  const epoch = a.epoch;
  // Another member may not take the instance id while it is in use.
  const clash = await heartbeat({ groupId: 'g-static', memberId: 'other', memberEpoch: 0, instanceId: 'instance-a', topics: ['kip848-static'] });
  assert.equal(clash.errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  const left = await heartbeat({ groupId: 'g-static', memberId: a.memberId, memberEpoch: -2, instanceId: 'instance-a' });
  assert.equal(left.errorCode, ErrorCode.NONE);
  assert.equal(left.memberEpoch, -2);
  // B does not get A's partitions meanwhile.
  await b.beat();
  assert.equal(b.count(), 2);
  const back = new Member('g-static', ['kip848-static'], null, 'instance-a');
  await back.beat();
  assert.notEqual(back.memberId, a.memberId);
  assert.equal(back.epoch, epoch);
  assert.deepEqual(back.owned.get(topicId), owned);
  const d = await describe('g-static');
  assert.equal(d.members.length, 2);
});

test('a member that stops heartbeating is removed after the session timeout', async () => {
  await createTopic('kip848-session', 4);
  const a = new Member('g-session', ['kip848-session']);
  const b = new Member('g-session', ['kip848-session']);
  await a.beat();
  await settle([a, b]);
  const deadline = Date.now() + 10_000;
  // Only A heartbeats now; B's session (4 s) runs out and A gets everything.
  while (a.count() < 4) {
    assert.ok(Date.now() < deadline, 'B was never removed');
    await new Promise((r) => setTimeout(r, 300));
    await a.beat();
  }
  const d = await describe('g-session');
  assert.equal(d.members.length, 1);
  const stale = await heartbeat({ groupId: 'g-session', memberId: b.memberId, memberEpoch: b.epoch, owned: b.owned });
  assert.equal(stale.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('a restart keeps the group: members, epochs and assignments', async () => {
  const topicId = await createTopic('kip848-restart', 4);
  const a = new Member('g-restart', ['kip848-restart']);
  const b = new Member('g-restart', ['kip848-restart']);
  await a.beat();
  await settle([a, b]);
  const before = await describe('g-restart');
  await client.close();
  await broker.stop();
  await start();
  const after = await describe('g-restart');
  assert.equal(after.errorCode, ErrorCode.NONE);
  assert.equal(after.groupEpoch, before.groupEpoch);
  assert.deepEqual(
    after.members.map((m) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions]).sort(),
    before.members.map((m) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions]).sort(),
  );
  // The members carry on with their epochs and partitions.
  const ownedA = a.owned.get(topicId);
  await settle([a, b]);
  assert.deepEqual(a.owned.get(topicId), ownedA);
  assert.equal(a.epoch, before.groupEpoch);
});

/** A classic-protocol member (JoinGroup/SyncGroup/Heartbeat) spoken raw, owning what its last sync gave it. */
class ClassicMember {
  memberId = '';
  generation = -1;
  owned: { topic: string; partitions: number[] }[] = [];

  constructor(
    readonly groupId: string,
    readonly topics: string[],
  ) {}

  /** Joins (listing what it owns, as a cooperative member does) and syncs; answers the join response. */
  async rejoin(): Promise<JoinGroupResponse> {
    const metadata = encodeVersioned(ConsumerProtocolSubscriptionCodec, { topics: this.topics, userData: null, ownedPartitions: this.owned, generationId: this.generation, rackId: null }, 1);
    for (;;) {
      const joined = await client.call(
        () => client.any(),
        'JoinGroup',
        { ...apis.JoinGroup.request.create(), groupId: this.groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: this.memberId, protocolType: 'consumer', protocols: [{ name: 'range', metadata }] },
        5,
      );
      this.memberId = joined.memberId;
      if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) continue;
      assert.equal(joined.errorCode, ErrorCode.NONE, 'JoinGroup');
      this.generation = joined.generationId;
      // A classic leader assigns everything it is told about; inside a consumer group no one leads.
      const assignments = joined.leader === this.memberId ? joined.members.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment([{ topic: this.topics[0], partitions: [0, 1, 2, 3] }]) })) : [];
      const synced = await client.call(() => client.any(), 'SyncGroup', { ...apis.SyncGroup.request.create(), groupId: this.groupId, generationId: this.generation, memberId: this.memberId, assignments }, 3);
      assert.equal(synced.errorCode, ErrorCode.NONE, 'SyncGroup');
      this.owned = decodeAssignment(synced.assignment);
      return joined;
    }
  }

  async heartbeat(): Promise<number> {
    const res = await client.call(() => client.any(), 'Heartbeat', { ...apis.Heartbeat.request.create(), groupId: this.groupId, generationId: this.generation, memberId: this.memberId }, 3);
    return res.errorCode;
  }

  async commit(generation: number, version: number): Promise<number> {
    const res = await client.call(
      () => client.any(),
      'OffsetCommit',
      {
        ...apis.OffsetCommit.request.create(),
        groupId: this.groupId,
        generationIdOrMemberEpoch: generation,
        memberId: this.memberId,
        topics: [{ name: this.topics[0], partitions: [{ partitionIndex: this.owned[0].partitions[0], committedOffset: 7n, committedLeaderEpoch: -1, committedMetadata: null, commitTimestamp: -1n }] }],
      },
      version,
    );
    return res.topics[0].partitions[0].errorCode;
  }
}

async function describeClassic(groupId: string) {
  const res = await client.call(() => client.any(), 'DescribeGroups', { ...apis.DescribeGroups.request.create(), groups: [groupId] }, 5);
  return res.groups[0];
}

test('online migration: a classic group becomes a consumer group when a consumer-protocol member joins, and goes back when it leaves', async () => {
  const topicId = await createTopic('kip848-migrate', 4);
  const c = new ClassicMember('g-migrate', ['kip848-migrate']);
  await c.rejoin();
  assert.deepEqual(c.owned, [{ topic: 'kip848-migrate', partitions: [0, 1, 2, 3] }]);
  const classicGeneration = c.generation;

  // Upgrade: the classic member carries on inside a consumer group, its generation its member epoch.
  const a = new Member('g-migrate', ['kip848-migrate']);
  await a.beat();
  assert.equal(a.count(), 0, 'everything is still owned by the classic member');
  let described = await describe('g-migrate');
  assert.equal(described.errorCode, ErrorCode.NONE);
  assert.equal(described.members.length, 2);
  assert.equal(described.members.find((m) => m.memberId === c.memberId)?.memberEpoch, classicGeneration);
  assert.equal((await describeClassic('g-migrate')).protocolType, 'consumer');
  const withOperations = await client.call(() => client.any(), 'ConsumerGroupDescribe', { groupIds: ['g-migrate'], includeAuthorizedOperations: true }, 0);
  assert.equal(withOperations.groups[0].authorizedOperations, AUTHORIZED_OPERATIONS.group);
  assert.equal(described.authorizedOperations, OPERATIONS_OMITTED, 'not asked for');

  // The classic member is told to rejoin; still owning everything, it keeps half and revokes the rest...
  assert.equal(await c.heartbeat(), ErrorCode.REBALANCE_IN_PROGRESS);
  const revoking = await c.rejoin();
  assert.equal(revoking.leader, '', 'no member leads a consumer group');
  assert.equal(revoking.generationId, classicGeneration, 'the epoch moves only once the revocation is done');
  assert.equal(c.owned[0].partitions.length, 2);
  // ...and rejoins owning only what it kept: the revocation is done, it reaches the group's epoch.
  await c.rejoin();
  assert.ok(c.generation > classicGeneration);
  assert.equal(await c.heartbeat(), ErrorCode.NONE);
  await settle([a]);
  assert.equal(a.count(), 2);
  const mine = new Set(c.owned[0].partitions);
  assert.ok(a.owned.get(topicId)!.every((p) => !mine.has(p)), 'no partition owned by both');

  // Offsets: the classic member commits with its generation (ILLEGAL_GENERATION otherwise), a
  // consumer-protocol member needs OffsetCommit v9 (which carries member epochs).
  assert.equal(await c.commit(c.generation, 8), ErrorCode.NONE);
  assert.equal(await c.commit(c.generation - 1, 8), ErrorCode.ILLEGAL_GENERATION);
  const commitOf = (version: number) =>
    client.call(
      () => client.any(),
      'OffsetCommit',
      {
        ...apis.OffsetCommit.request.create(),
        groupId: 'g-migrate',
        generationIdOrMemberEpoch: a.epoch,
        memberId: a.memberId,
        topics: [{ name: 'kip848-migrate', partitions: [{ partitionIndex: a.owned.get(topicId)![0], committedOffset: 3n, committedLeaderEpoch: -1, committedMetadata: null, commitTimestamp: -1n }] }],
      },
      version,
    );
  assert.equal((await commitOf(8)).topics[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.equal((await commitOf(9)).topics[0].partitions[0].errorCode, ErrorCode.NONE);

  // A restart keeps the classic member in the consumer group.
  await client.close();
  await broker.stop();
  await start();
  described = await describe('g-migrate');
  assert.deepEqual(described.members.map((m) => m.memberId).sort(), [a.memberId, c.memberId].sort());
  assert.equal(await c.heartbeat(), ErrorCode.NONE);

  // Downgrade: the last consumer-protocol member leaves; the classic member rebalances in a classic group.
  assert.equal((await heartbeat({ groupId: 'g-migrate', memberId: a.memberId, memberEpoch: -1 })).errorCode, ErrorCode.NONE);
  assert.equal((await describe('g-migrate')).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  const classic = await describeClassic('g-migrate');
  assert.equal(classic.groupState, 'PreparingRebalance');
  assert.deepEqual(classic.members.map((m) => m.memberId), [c.memberId]);
  assert.ok(([ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION] as number[]).includes(await c.heartbeat()));
  const rejoined = await c.rejoin();
  assert.equal(rejoined.leader, c.memberId, 'a classic group again: its only member leads');
  assert.deepEqual(c.owned, [{ topic: 'kip848-migrate', partitions: [0, 1, 2, 3] }]);
  assert.equal((await describeClassic('g-migrate')).groupState, 'Stable');
  // The offsets committed meanwhile are the group's still.
  const fetched = await client.call(() => client.any(), 'OffsetFetch', { ...apis.OffsetFetch.request.create(), groupId: 'g-migrate', topics: [{ name: 'kip848-migrate', partitionIndexes: [0, 1, 2, 3] }] }, 7);
  assert.equal(fetched.topics[0].partitions.filter((p) => p.committedOffset >= 0n).length, 2);
});

test('group.consumer.migration.policy=disabled keeps a classic group classic', async () => {
  await client.close();
  await broker.stop();
  broker = await startTestBroker({ ...SETTINGS, 'group.consumer.migration.policy': 'disabled' }, dir);
  client = new KafkaClient({ brokers: [broker.bootstrap], clientId: 'kip848-test', retries: 10 });
  await createTopic('kip848-nomigrate', 2);
  const c = new ClassicMember('g-nomigrate', ['kip848-nomigrate']);
  await c.rejoin();
  const res = await heartbeat({ groupId: 'g-nomigrate', memberEpoch: 0, topics: ['kip848-nomigrate'] });
  assert.equal(res.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.match(res.errorMessage ?? '', /migration\.policy/);
  await client.close();
  await broker.stop();
  await start();
});

test('@platformatic/kafka members (groupProtocol consumer) under load: join, leave, kill; nothing lost, nothing committed processed twice', { timeout: 180_000 }, async (t) => {
  const node = platformaticNodeOrSkip(t);
  if (node === null) return;
  const topic = 'kip848-live';
  const groupId = 'g-live';
  await createTopic(topic, 6);
  const members = new LiveMembers(ROOT);
  const startMember = (name: string): void => members.start(name, node, [MEMBER_SCRIPT, broker.bootstrap, groupId, topic, name]);
  const load = produceSteadily(broker.bootstrap, topic, 6);
  let produced = 0;
  try {
    produced = await joinLeaveKill(
      members,
      startMember,
      load,
      // A member starved of CPU past its session timeout rejoins: wait for all three rather than sample once.
      () => eventually('three members in the group', async () => (await describe(groupId)).members.length === 3, 30_000),
      // m3's partitions come back after its session timeout (4 s here).
      () => new Promise((r) => setTimeout(r, 5000)),
    );
    const d2 = await describe(groupId);
    assert.deepEqual(d2.members.map((m) => m.clientId).sort(), ['kip848-m1', 'kip848-m4']);
    await members.stop('m1', 'SIGTERM');
    await members.stop('m4', 'SIGTERM');
  } finally {
    await load.stop().catch(() => 0);
    await members.killAll();
  }

  // The killed member's uncommitted record, at most one per partition.
  members.assertProcessedOnce(produced, 6);
});
