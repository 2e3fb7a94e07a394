import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { findNodeForPlatformatic } from '../support/platformatic-runner.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import type { ConsumerGroupHeartbeatResponse } from '../../src/protocol/generated/messages/consumer-group-heartbeat-response.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

/**
 * KIP-848's consumer group protocol, spoken directly: epochs, server-side assignment,
 * revocation before reassignment, static members, regex subscriptions, offsets with the member
 * epoch, the describe and list APIs, and a restart that keeps the group.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MEMBER_SCRIPT = fileURLToPath(new URL('../support/platformatic-kip848-member.mjs', import.meta.url));

const SETTINGS = {
  'group.consumer.session.timeout.ms': '4000',
  'group.consumer.heartbeat.interval.ms': '500',
  'offsets.topic.num.partitions': '3',
};

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

  // A classic member may not join it; deleting it while it has members is refused.
  const join = await client.call(
    () => client.any(),
    'JoinGroup',
    { ...apis.JoinGroup.request.create(), groupId: 'g-basic', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] },
    9,
  );
  assert.equal(join.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
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

interface LiveEvent {
  name: string;
  event: 'ready' | 'message' | 'skipped' | 'committed' | 'commit-failed' | 'closed';
  partition?: number;
  offset?: number;
  value?: string;
  error?: string;
}

test('@platformatic/kafka members (groupProtocol consumer) under load: join, leave, kill; nothing lost, nothing committed processed twice', { timeout: 180_000 }, async (t) => {
  const node = findNodeForPlatformatic();
  if (node.path === null) {
    t.skip(node.reason);
    return;
  }
  const topic = 'kip848-live';
  const groupId = 'g-live';
  await createTopic(topic, 6);
  const events: LiveEvent[] = [];
  const children = new Map<string, ChildProcess>();
  const stderr: string[] = [];
  const startMember = (name: string): void => {
    const child = spawn(node.path!, [MEMBER_SCRIPT, broker.bootstrap, groupId, topic, name], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(name, child);
    createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line) as LiveEvent));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => stderr.push(`${name}: ${s}`));
  };
  const until = async (what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${stderr.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const processedBy = (name: string): number => events.filter((e) => e.name === name && e.event === 'message').length;
  const stopMember = (name: string, signal: NodeJS.Signals): Promise<void> =>
    new Promise((resolve) => {
      const child = children.get(name)!;
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });

  const kafka = new Kafka({ clientId: 'kip848-producer', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  let produced = 0;
  let producing = true;
  const production = (async () => {
    while (producing) {
      const messages = Array.from({ length: 12 }, (_, i) => ({ partition: (produced + i) % 6, value: String(produced + i) }));
      await producer.send({ topic, acks: -1, messages });
      produced += messages.length;
      await new Promise((r) => setTimeout(r, 30));
    }
  })();

  try {
    for (const name of ['m1', 'm2', 'm3']) startMember(name);
    await until('three members consuming', () => ['m1', 'm2', 'm3'].every((n) => processedBy(n) > 0));
    const d1 = await describe(groupId);
    assert.equal(d1.members.length, 3);
    startMember('m4');
    await until('m4 consuming', () => processedBy('m4') > 0);
    await stopMember('m2', 'SIGTERM');
    assert.ok(events.some((e) => e.name === 'm2' && e.event === 'closed'), `m2 did not leave cleanly: ${stderr.join('')}`);
    const before = processedBy('m1') + processedBy('m4');
    await until('m1 and m4 carrying on', () => processedBy('m1') + processedBy('m4') > before + 50);
    await stopMember('m3', 'SIGKILL');
    // m3's partitions come back after its session timeout (4 s here).
    await new Promise((r) => setTimeout(r, 5000));
    producing = false;
    await production;
    const values = new Set<string>();
    await until(
      `every one of ${produced} records processed`,
      () => {
        for (const e of events) if (e.event === 'message') values.add(e.value!);
        return values.size === produced;
      },
      90_000,
    );
    const d2 = await describe(groupId);
    assert.deepEqual(d2.members.map((m) => m.clientId).sort(), ['kip848-m1', 'kip848-m4']);
    await stopMember('m1', 'SIGTERM');
    await stopMember('m4', 'SIGTERM');
  } finally {
    producing = false;
    await production.catch(() => {});
    await producer.disconnect();
    for (const name of children.keys()) await stopMember(name, 'SIGKILL');
  }

  if (process.env.KIP848_EVENTS) writeFileSync(process.env.KIP848_EVENTS, events.map((e) => JSON.stringify(e)).join('\n'));
  // No loss: every value produced was processed.
  const processed = events.filter((e) => e.event === 'message');
  const seen = new Set(processed.map((e) => e.value));
  for (let i = 0; i < produced; i++) assert.ok(seen.has(String(i)), `record ${i} was never processed`);
  // A record whose processing was committed is never processed again; the only repeats allowed
  // are records processed but not committed yet (the killed member's last one).
  const committed = new Set(events.filter((e) => e.event === 'committed').map((e) => `${e.name}/${e.partition}/${e.offset}`));
  const firstBy = new Map<string, LiveEvent>();
  let repeats = 0;
  for (const e of processed) {
    const key = `${e.partition}/${e.offset}`;
    const first = firstBy.get(key);
    if (!first) {
      firstBy.set(key, e);
      continue;
    }
    repeats++;
    assert.ok(!committed.has(`${first.name}/${key}`), `${key} was committed by ${first.name} and processed again by ${e.name}`);
  }
  // At most the killed member's uncommitted record per partition, and those whose commit was
  // refused (STALE_MEMBER_EPOCH while the member's epoch moved: the client does not retry it).
  const failed = events.filter((e) => e.event === 'commit-failed');
  assert.ok(repeats <= 6 + failed.length, `${repeats} records processed twice`);
});
