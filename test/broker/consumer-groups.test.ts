import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

const MEMBER = new URL('../support/kafkajs-group-member.ts', import.meta.url).pathname;

interface MemberEvent {
  name: string;
  event: 'assigned' | 'message' | 'left';
  assignment?: number[];
  partition?: number;
  offset?: number;
  value?: string;
}

let broker: InProcessBroker;
let kafka: Kafka;

before(async () => {
  broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '1000' });
  kafka = new Kafka({ clientId: 'groups-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

class Members {
  readonly events: MemberEvent[] = [];
  readonly children = new Map<string, ChildProcess>();
  private waiters: (() => void)[] = [];

  start(groupId: string, topic: string, name: string): void {
    const child = spawn(process.execPath, ['--import', 'tsx', MEMBER, broker.bootstrap, groupId, topic, name], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.children.set(name, child);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.events.push(JSON.parse(line) as MemberEvent);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The latest assignment of each live member. */
  assignments(names: string[]): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const e of this.events) if (e.event === 'assigned' && names.includes(e.name)) out.set(e.name, [...e.assignment!].sort((a, b) => a - b));
    return out;
  }

  async until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  stopAll(): void {
    for (const c of this.children.values()) c.kill('SIGKILL');
  }
}

/** Whether the members' assignments split the partitions exactly, each member holding `each`. */
function splitsEvenly(assignments: Map<string, number[]>, partitions: number, each: number): boolean {
  const all = [...assignments.values()].flat().sort((a, b) => a - b);
  return all.length === partitions && all.every((p, i) => p === i) && [...assignments.values()].every((a) => a.length === each);
}

test('three kafkajs members share six partitions; when one leaves and one dies, the last takes all', async () => {
  const topic = 'group-six';
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
  const producer = kafka.producer();
  await producer.connect();
  const produce = async (from: number, to: number): Promise<void> => {
    const messages = [];
    for (let i = from; i < to; i++) messages.push({ value: `m${i}`, partition: i % 6 });
    await producer.send({ topic, messages });
  };
  const members = new Members();
  const names = ['a', 'b', 'c'];
  try {
    for (const n of names) members.start('six', topic, n);
    await members.until('an even split over three members', () => splitsEvenly(members.assignments(names), 6, 2));
    await produce(0, 300);
    const consumedValues = () => new Set(members.events.filter((e) => e.event === 'message').map((e) => e.value));
    await members.until('300 messages consumed', () => consumedValues().size === 300);

    // One member leaves cleanly, another is killed without leaving.
    members.children.get('a')!.stdin!.write('leave\n');
    await members.until('a to leave', () => members.events.some((e) => e.name === 'a' && e.event === 'left'));
    members.children.get('b')!.kill('SIGKILL');
    const killedAt = Date.now();
    await members.until('c to own every partition', () => splitsEvenly(members.assignments(['c']), 6, 6));
    // Within the session timeout (6 s) plus a rebalance, not forever.
    assert.ok(Date.now() - killedAt < 20_000);
    await produce(300, 600);
    await members.until('all 600 messages consumed', () => consumedValues().size === 600);

    // Every message was seen; any duplicate is a redelivery of an uncommitted offset after a
    // rebalance, which at-least-once delivery allows, and never a message out of order.
    const byPartition = new Map<number, number[]>();
    for (const e of members.events.filter((e) => e.event === 'message')) byPartition.set(e.partition!, [...(byPartition.get(e.partition!) ?? []), e.offset!]);
    for (const [p, offsets] of byPartition) {
      const distinct = [...new Set(offsets)].sort((a, b) => a - b);
      assert.deepEqual(distinct, [...Array(100).keys()], `partition ${p} has every offset`);
    }

    const described = await admin.describeGroups(['six']);
    assert.equal(described.groups[0].state, 'Stable');
    assert.equal(described.groups[0].members.length, 1);
    const listed = await admin.listGroups();
    assert.ok(listed.groups.some((g) => g.groupId === 'six' && g.protocolType === 'consumer'));
  } finally {
    members.stopAll();
    await producer.disconnect();
    await admin.disconnect();
  }
});

test('committed offsets: fetch, lag and delete through the kafkajs admin', async () => {
  const topic = 'offsets-admin';
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 20 }, (_, i) => ({ value: `v${i}`, partition: i % 2 })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'committer' });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (Number(message.offset) < 6) await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        if (++seen === 20) resolve();
      },
    });
  });
  await assert.rejects(admin.deleteGroups(['committer']), (e: { groups?: { error?: { type?: string } }[] }) => e.groups?.[0]?.error?.type === 'NON_EMPTY_GROUP');
  await consumer.disconnect();

  const [fetched] = await admin.fetchOffsets({ groupId: 'committer', topics: [topic] });
  assert.deepEqual(fetched.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '6'], [1, '6']]);
  const ends = await admin.fetchTopicOffsets(topic);
  const lag = ends.map((e) => Number(e.high) - Number(fetched.partitions.find((p) => p.partition === e.partition)!.offset));
  assert.deepEqual(lag, [4, 4]);

  const states = (await admin.listGroups()).groups.map((g) => g.groupId);
  assert.ok(states.includes('committer'));
  await admin.deleteGroups(['committer']);
  assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === 'committer'));
  const [gone] = await admin.fetchOffsets({ groupId: 'committer', topics: [topic] });
  assert.ok(gone.partitions.every((p) => p.offset === '-1'));
  await admin.disconnect();
});
