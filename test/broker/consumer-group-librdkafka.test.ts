import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import type { ConsumerGroupDescribeResponseDescribedGroup } from '../../src/protocol/generated/messages/consumer-group-describe-response.js';
import { GROUP_TEST_SETTINGS, joinLeaveKill, LiveMembers, produceSteadily } from '../support/live-group.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { librdkafkaClient, skipUnlessPresent } from '../support/tools.js';

/**
 * KIP-848's consumer group protocol as librdkafka 2.15 speaks it (group.protocol=consumer), the
 * Java client's implementation aside the most used one: members under load coming and going,
 * server-side assignors chosen by the client, and a classic group of kafkajs members migrating
 * to a consumer group and back while it consumes.
 */

const skip = skipUnlessPresent(librdkafkaClient);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIBRDKAFKA_MEMBER = fileURLToPath(new URL('../support/librdkafka-kip848-member.mjs', import.meta.url));
const CLASSIC_MEMBER = fileURLToPath(new URL('../support/kafkajs-classic-member.mjs', import.meta.url));

const SETTINGS = { ...GROUP_TEST_SETTINGS, 'group.consumer.migration.policy': 'bidirectional' };

let dir: string;
let broker: InProcessBroker;
let client: KafkaClient;
let admin: Admin;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-librdkafka-groups-'));
  broker = await startTestBroker(SETTINGS, dir);
  client = new KafkaClient({ brokers: [broker.bootstrap], clientId: 'librdkafka-groups-test', retries: 10 });
  admin = new Kafka({ clientId: 'librdkafka-groups-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});

after(async () => {
  await admin.disconnect();
  await client.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createTopic(topic: string, partitions: number): Promise<void> {
  assert.ok(await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }), `${topic} already exists`);
}

async function describe(groupId: string): Promise<ConsumerGroupDescribeResponseDescribedGroup> {
  const res = await client.call(() => client.any(), 'ConsumerGroupDescribe', { groupIds: [groupId], includeAuthorizedOperations: false }, 0);
  return res.groups[0];
}

async function describeClassic(groupId: string) {
  const res = await client.call(() => client.any(), 'DescribeGroups', { ...apis.DescribeGroups.request.create(), groups: [groupId] }, 5);
  return res.groups[0];
}

/** The group's type as ListGroups v5 reports it: classic or consumer; undefined when it is not listed. */
async function groupType(groupId: string): Promise<string | undefined> {
  const res = await client.call(() => client.any(), 'ListGroups', { statesFilter: [], typesFilter: [] }, 5);
  return res.groups.find((g) => g.groupId === groupId)?.groupType;
}

const sorted = (values: string[]): string[] => [...values].sort();

/** Each member's partitions as `topic:partition`, by client id. */
function assignments(d: ConsumerGroupDescribeResponseDescribedGroup): Map<string, string[]> {
  return new Map(d.members.map((m) => [m.clientId, sorted(m.assignment.topicPartitions.flatMap((t) => t.partitions.map((p) => `${t.topicName}:${p}`)))]));
}

/**
 * A consumer group at rest with exactly these members: Stable, every member reconciled to the
 * group's epoch, and every partition of `partitions` (`topic:partition`) owned by one of them.
 */
function settled(d: ConsumerGroupDescribeResponseDescribedGroup, clientIds: string[], partitions: string[]): boolean {
  if (d.errorCode !== ErrorCode.NONE || d.groupState !== 'Stable') return false;
  if (!d.members.every((m) => m.memberEpoch === d.groupEpoch)) return false;
  const owned = [...assignments(d).values()].flat();
  return JSON.stringify(sorted(d.members.map((m) => m.clientId))) === JSON.stringify(sorted(clientIds)) && JSON.stringify(sorted(owned)) === JSON.stringify(sorted(partitions));
}

const partitionsOf = (topic: string, count: number): string[] => Array.from({ length: count }, (_, p) => `${topic}:${p}`);

function startLibrdkafka(members: LiveMembers, name: string, groupId: string, topics: string[], assignor?: string): void {
  members.start(name, process.execPath, [LIBRDKAFKA_MEMBER, broker.bootstrap, groupId, topics.join(','), name, ...(assignor ? [assignor] : [])]);
}

test('librdkafka members (group.protocol=consumer) under load: join, leave, kill; nothing lost, nothing committed processed twice', { skip, timeout: 240_000 }, async () => {
  const topic = 'rdk-live';
  const groupId = 'g-rdk-live';
  await createTopic(topic, 6);
  const members = new LiveMembers(ROOT);
  const load = produceSteadily(broker.bootstrap, topic, 6);
  let produced = 0;
  try {
    produced = await joinLeaveKill(
      members,
      (name) => startLibrdkafka(members, name, groupId, [topic]),
      load,
      async () => assert.deepEqual(sorted((await describe(groupId)).members.map((m) => m.clientId)), ['rdk-m1', 'rdk-m2', 'rdk-m3']),
      // The killed member goes after its session timeout; its partitions then move to the others.
      () => members.until('m3 removed and its partitions reassigned', async () => settled(await describe(groupId), ['rdk-m1', 'rdk-m4'], partitionsOf(topic, 6))),
    );
    await members.stop('m1', 'SIGTERM');
    await members.stop('m4', 'SIGTERM');
    assert.ok(members.hasEvent('m1', 'closed') && members.hasEvent('m4', 'closed'), `m1 and m4 did not leave cleanly: ${members.errors()}`);
    assert.equal((await describe(groupId)).members.length, 0);
  } finally {
    await load.stop().catch(() => 0);
    await members.killAll();
  }
  // The killed member's uncommitted record, at most one per partition.
  members.assertProcessedOnce(produced, 6);
});

test('ConsumerGroupDescribe shows librdkafka members and their assignments; group.remote.assignor picks the server assignor', { skip, timeout: 120_000 }, async () => {
  // Two co-partitioned topics tell the assignors apart: range gives a member the same partitions
  // of each (4 and 2 of 6 for two members), uniform balances the total (3 and 3).
  const topics = ['rdk-assign-a', 'rdk-assign-b'];
  for (const topic of topics) await createTopic(topic, 3);
  const all = topics.flatMap((t) => partitionsOf(t, 3));
  const members = new LiveMembers(ROOT);
  try {
    for (const assignor of ['range', 'uniform']) {
      const groupId = `g-rdk-${assignor}`;
      const names = [`${assignor}1`, `${assignor}2`];
      for (const name of names) startLibrdkafka(members, name, groupId, topics, assignor);
      let d = await describe(groupId);
      await members.until(`${groupId} settled`, async () => settled((d = await describe(groupId)), names.map((n) => `rdk-${n}`), all));
      assert.equal(d.assignorName, assignor);
      for (const m of d.members) assert.deepEqual(sorted(m.subscribedTopicNames), topics, `${m.clientId} subscription`);
      const owned = [...assignments(d).values()];
      if (assignor === 'range') {
        assert.deepEqual(owned.map((o) => o.length).sort(), [2, 4]);
        for (const o of owned) {
          const numbers = (topic: string) => o.filter((tp) => tp.startsWith(`${topic}:`)).map((tp) => tp.slice(topic.length + 1));
          assert.deepEqual(numbers(topics[0]), numbers(topics[1]), `range gives a member the same partitions of each topic: ${o}`);
        }
      } else {
        assert.deepEqual(owned.map((o) => o.length), [3, 3]);
      }
      for (const name of names) await members.stop(name, 'SIGTERM');
      assert.ok(names.every((n) => members.hasEvent(n, 'closed')), `${names} did not leave cleanly: ${members.errors()}`);
    }
  } finally {
    await members.killAll();
  }
});

test('online migration: kafkajs classic members keep consuming while librdkafka consumer-protocol members join the group and leave it again', { skip, timeout: 240_000 }, async () => {
  const topic = 'rdk-migrate';
  const groupId = 'g-rdk-migrate';
  await createTopic(topic, 6);
  const members = new LiveMembers(ROOT);
  const startClassic = (name: string): void => members.start(name, process.execPath, [CLASSIC_MEMBER, broker.bootstrap, groupId, topic, name]);
  const classicIds = ['classic-c1', 'classic-c2'];
  const classicStable = async (): Promise<boolean> => {
    if ((await groupType(groupId)) !== 'classic') return false;
    const g = await describeClassic(groupId);
    return g.errorCode === ErrorCode.NONE && g.groupState === 'Stable' && JSON.stringify(sorted(g.members.map((m) => m.clientId))) === JSON.stringify(classicIds);
  };
  const assertClassic = async (): Promise<void> => {
    const g = await describeClassic(groupId);
    assert.equal(g.protocolType, 'consumer');
    assert.deepEqual(sorted(g.members.map((m) => m.clientId)), classicIds);
    assert.equal((await describe(groupId)).errorCode, ErrorCode.GROUP_ID_NOT_FOUND, 'a classic group is no consumer group');
  };
  // Each classic member processes more records from now on: it still owns partitions and consumes them.
  const classicCarryOn = async (what: string): Promise<void> => {
    const mark = new Map(['c1', 'c2'].map((n) => [n, members.processedBy(n)]));
    await members.until(what, () => [...mark].every(([n, count]) => members.processedBy(n) > count));
  };
  const load = produceSteadily(broker.bootstrap, topic, 6);
  let produced = 0;
  try {
    for (const name of ['c1', 'c2']) startClassic(name);
    await members.until('two classic members consuming', () => ['c1', 'c2'].every((n) => members.processedBy(n) > 0));
    await members.until('a stable classic group', classicStable);
    await assertClassic();

    // Upgrade: the first consumer-protocol member turns the group into a consumer group, which
    // keeps the classic members, now assigned by the server assignor through JoinGroup/SyncGroup.
    for (const name of ['r1', 'r2']) startLibrdkafka(members, name, groupId, [topic]);
    await members.until('the librdkafka members consuming', () => ['r1', 'r2'].every((n) => members.processedBy(n) > 0));
    let d = await describe(groupId);
    await members.until('a settled consumer group of all four', async () => settled((d = await describe(groupId)), [...classicIds, 'rdk-r1', 'rdk-r2'], partitionsOf(topic, 6)));
    assert.equal(await groupType(groupId), 'consumer');
    for (const [clientId, owned] of assignments(d)) assert.ok(owned.length > 0, `${clientId} owns nothing`);
    await classicCarryOn('the classic members consuming inside the consumer group');

    // Downgrade: once the last consumer-protocol member has left, the group is classic again.
    for (const name of ['r1', 'r2']) await members.stop(name, 'SIGTERM');
    assert.ok(['r1', 'r2'].every((n) => members.hasEvent(n, 'closed')), `r1 and r2 did not leave cleanly: ${members.errors()}`);
    await members.until('a stable classic group again', classicStable);
    await assertClassic();
    await classicCarryOn('the classic members consuming after the downgrade');

    produced = await load.stop();
    await members.until(`every one of ${produced} records processed`, () => members.processedValues().size === produced, 90_000);
    for (const name of ['c1', 'c2']) await members.stop(name, 'SIGTERM');
    assert.ok(['c1', 'c2'].every((n) => members.hasEvent(n, 'closed')), `c1 and c2 did not leave cleanly: ${members.errors()}`);
  } finally {
    await load.stop().catch(() => 0);
    await members.killAll();
  }
  // No member was killed: every record processed was committed, or its commit refused.
  members.assertProcessedOnce(produced, 0);
});
