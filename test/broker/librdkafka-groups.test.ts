import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { assertSucceeded, runCommand, startCommand, type RunningCommand } from '../support/commands.js';
import {
  assignments,
  consumers,
  eventually,
  groupAdmin,
  GroupConsumer,
  splitEvenly,
  untilConsumed,
  type GroupConsumerOptions,
  type GroupDescription,
  type GroupLag,
  type GroupListing,
  type GroupResult,
  type LegacyGroup,
} from '../support/librdkafka-groups.js';
import { producePython, type Ack } from '../support/python-clients.js';
import { tempDir } from '../support/storage-fixtures.js';
import { onThisNode, startBrokerProcess, startTestBroker, type BrokerProcess, type InProcessBroker } from '../support/test-broker.js';
import { confluentKafka, kcat, skipUnlessPresent } from '../support/tools.js';

/**
 * Consumer groups driven by librdkafka, the client most non-Java applications use:
 * confluent-kafka (Python) members, kcat's balanced consumer, and librdkafka's group admin API.
 */

/** The broker lets sessions be short, and a new group's first rebalance not wait. */
const GROUP_SETTINGS = { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '1000' };
const SESSION_MS = 6000;

let broker: InProcessBroker;

before(async () => {
  broker = await startTestBroker(GROUP_SETTINGS);
});

after(async () => {
  await broker.stop();
});

const at = (partition: number, offset: number): string => `${partition}:${offset}`;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

async function produce(bootstrap: string, topic: string, partitions: number, count: number): Promise<Ack[]> {
  const run = await producePython({ library: 'confluent', bootstrap, topic, partitions, count, idempotence: 'off' });
  assert.equal(run.acks.length, count, `${topic}: every message acknowledged`);
  return run.acks;
}

describe('confluent-kafka consumer groups', { skip: skipUnlessPresent(confluentKafka), timeout: 240_000 }, () => {
  for (const strategy of ['range', 'cooperative-sticky'] as const) {
    const cooperative = strategy === 'cooperative-sticky';

    test(`${strategy}: three members split six partitions; one leaves, one dies, and every message is consumed`, async (t) => {
      const topic = `members-${strategy}`;
      await broker.broker.partitions.createTopic(topic, onThisNode(6), {});
      const options: GroupConsumerOptions = { bootstrap: broker.bootstrap, group: topic, topic, strategy, sessionTimeoutMs: SESSION_MS };
      const members = ['a', 'b', 'c'].map((name) => new GroupConsumer(name, options));
      const [a, b, c] = members;
      try {
        await eventually('each member to hold two partitions', () => splitEvenly(members, 6, 2), 30_000, () => assignments(members));
        const protocol = cooperative ? 'COOPERATIVE' : 'EAGER';
        for (const m of members) for (const e of m.rebalances()) assert.equal(e.protocol, protocol, `${m.name}'s rebalance protocol`);
        const stable = new Map(members.map((m) => [m, { assignment: m.assignment, mark: m.events.length }]));

        // With the group settled, each message goes to the member holding its partition, once.
        const first = await produce(broker.bootstrap, topic, 6, 600);
        await untilConsumed(members, first, 30_000);
        for (const m of members) {
          for (const e of m.messages()) assert.ok(stable.get(m)!.assignment.includes(e.partition), `${m.name} consumed from partition ${e.partition}`);
        }
        assert.deepEqual([...consumers(members).values()].filter((names) => names.length > 1), [], 'nothing consumed twice');

        // close() commits and sends LeaveGroup: the others take a's partitions without waiting out its session.
        const leftAt = Date.now();
        await a.stop();
        assert.equal(a.events.at(-1)?.event, 'closed');
        await eventually("b and c to take a's partitions", () => splitEvenly([b, c], 6, 3), 15_000, () => assignments([b, c]));
        const handover = Date.now() - leftAt;
        t.diagnostic(`a's partitions moved ${handover} ms after it was told to stop`);
        // Without the LeaveGroup a's session would have to run out first: SESSION_MS after its last heartbeat.
        assert.ok(handover < SESSION_MS / 2, `a's partitions moved ${handover} ms after it left, as if it had not said so`);
        for (const m of [b, c]) {
          const { assignment, mark } = stable.get(m)!;
          const taken = m.rebalances(mark).filter((e) => e.event !== 'assigned');
          if (cooperative) {
            // Incremental rebalancing: a survivor keeps what it had and is only given more.
            assert.deepEqual(taken, [], `${m.name} lost partitions in a cooperative rebalance`);
            assert.ok(
              assignment.every((p) => m.assignment.includes(p)),
              `${m.name} held ${JSON.stringify(assignment)}, now ${JSON.stringify(m.assignment)}`,
            );
          } else {
            // The eager protocol takes everything back first: the contrast that shows the check above can fail.
            assert.deepEqual(taken[0]?.partitions, assignment, `${m.name} revoked its partitions in an eager rebalance`);
          }
        }

        const second = await produce(broker.bootstrap, topic, 6, 600);
        await untilConsumed(members, [...first, ...second], 30_000);

        // SIGKILL sends no LeaveGroup: b's partitions move once its session times out.
        const heldByB = b.assignment;
        const cMark = c.events.length;
        const cHeld = c.assignment;
        const killedAt = Date.now();
        await b.kill();
        const third = await produce(broker.bootstrap, topic, 6, 600);
        await eventually('c to take every partition', () => c.assignment.length === 6, SESSION_MS + 15_000, () => assignments([c]));
        const failover = Date.now() - killedAt;
        t.diagnostic(`b's partitions moved ${failover} ms after it was killed`);
        // b heartbeats every 500 ms, so its session cannot have run out much sooner than this.
        assert.ok(failover >= SESSION_MS - 1000, `b's partitions moved after ${failover} ms, before its session could time out`);
        assert.ok(failover <= SESSION_MS + 10_000, `b's partitions took ${failover} ms to move`);
        if (cooperative) {
          assert.deepEqual(c.rebalances(cMark).filter((e) => e.event !== 'assigned'), [], 'c lost partitions in a cooperative rebalance');
        } else {
          assert.deepEqual(c.rebalances(cMark).find((e) => e.event === 'revoked')?.partitions, cHeld, 'c revoked its partitions in an eager rebalance');
        }

        const all = [...first, ...second, ...third];
        await untilConsumed(members, all, 30_000);
        // At-least-once: only what b consumed but had not committed when it died may come again, and then to c.
        for (const [where, names] of consumers(members)) {
          if (names.length === 1) continue;
          assert.deepEqual(names, ['b', 'c'], `message ${where} consumed by ${names.join(', ')}`);
          assert.ok(heldByB.includes(Number(where.split(':')[0])), `message ${where} came twice, but b did not hold its partition`);
        }
        const total = members.reduce((n, m) => n + m.messages().length, 0);
        assert.ok(total - all.length < 600, `${total - all.length} messages consumed twice`);

        await c.stop();
        for (const m of members) assert.deepEqual(m.errors(), [], `${m.name} reported errors`);
      } finally {
        await Promise.all(members.map((m) => m.kill()));
      }
    });
  }

  test('committed offsets survive a broker restart, by SIGTERM and by SIGKILL', async () => {
    const temp = tempDir('librdkafka-groups');
    const topic = 'resume';
    const partitions = 3;
    let server: BrokerProcess | undefined;
    try {
      server = await startBrokerProcess(temp.dir, GROUP_SETTINGS);
      const { port, bootstrap } = server;
      await groupAdmin(bootstrap, ['create-topic', topic, String(partitions)]);
      const acks = await produce(bootstrap, topic, partitions, 300);

      /** The offset after the last message the group has consumed, per partition; -1001 (none) where it has not begun. */
      const expected: Record<string, number> = Object.fromEntries(range(partitions).map((p) => [String(p), -1001]));
      const consumed: string[] = [];
      const rounds = [
        { take: 90, restart: 'SIGTERM' },
        // The offsets' batches may still be only in the page cache (sluice.log.flush.mode=async),
        // which a killed process leaves behind: they must be read back all the same.
        { take: 90, restart: 'SIGKILL' },
        { take: 120, restart: null },
      ] as const;
      for (const [round, { take, restart }] of rounds.entries()) {
        const member = new GroupConsumer(`round ${round}`, { bootstrap, group: topic, topic, commit: 'sync', maxMessages: take, reportCommitted: true });
        try {
          await member.exited(60_000);
        } finally {
          await member.kill();
        }
        assert.deepEqual(member.committed('committed'), expected, `round ${round}: committed() at the start`);
        for (const p of range(partitions)) {
          const offsets = member.messages().filter((e) => e.partition === p).map((e) => e.offset);
          if (offsets.length === 0) continue;
          // It resumes right after the last commit, or at the beginning without one.
          assert.equal(offsets[0], Math.max(expected[p], 0), `round ${round}: the first offset of partition ${p}`);
          expected[p] = offsets.at(-1)! + 1;
        }
        assert.deepEqual(member.committed('final-committed'), expected, `round ${round}: committed() at the end`);
        consumed.push(...member.messages().map((e) => at(e.partition, e.offset)));

        if (restart === null) break;
        if (restart === 'SIGTERM') assert.equal(await server.stop(), 0, 'the broker exits cleanly on SIGTERM');
        else await server.kill();
        server = undefined; // until it is back, there is nothing for `finally` to stop
        server = await startBrokerProcess(temp.dir, GROUP_SETTINGS, port);
        const listed = await groupAdmin<GroupResult>(bootstrap, ['offsets', topic]);
        const committed = Object.fromEntries(listed.partitions.map((e) => [String(e.partition), e.offset]));
        assert.deepEqual(
          committed,
          Object.fromEntries(Object.entries(expected).filter(([, o]) => o >= 0)),
          `after the ${restart} restart: the group's offsets as ListConsumerGroupOffsets sees them`,
        );
      }
      assert.deepEqual([...consumed].sort(), acks.map((a) => at(a.partition, a.offset)).sort(), 'every message consumed exactly once over the three rounds');
    } finally {
      try {
        if (server) assert.equal(await server.stop(), 0, 'the broker exits cleanly on SIGTERM');
      } finally {
        temp.cleanup();
      }
    }
  });

  test('members keep their assignment across a broker restart (SIGKILL)', async () => {
    const temp = tempDir('librdkafka-groups');
    const topic = 'survivors';
    let server: BrokerProcess | undefined;
    const members: GroupConsumer[] = [];
    try {
      server = await startBrokerProcess(temp.dir, GROUP_SETTINGS);
      const { port, bootstrap } = server;
      await groupAdmin(bootstrap, ['create-topic', topic, '4']);
      // A session long enough to outlast the restart: the broker brings the members back from
      // __consumer_offsets, and their heartbeats carry on as if nothing happened.
      const options: GroupConsumerOptions = { bootstrap, group: topic, topic, sessionTimeoutMs: 30_000 };
      members.push(new GroupConsumer('s1', options), new GroupConsumer('s2', options));
      await eventually('each member to hold two partitions', () => splitEvenly(members, 4, 2), 30_000, () => assignments(members));
      const earlier = await produce(bootstrap, topic, 4, 40);
      await untilConsumed(members, earlier, 30_000);
      const marks = members.map((m) => m.events.length);

      await server.kill();
      server = undefined;
      server = await startBrokerProcess(temp.dir, GROUP_SETTINGS, port);
      const later = await produce(bootstrap, topic, 4, 40);
      await untilConsumed(members, [...earlier, ...later], 30_000);
      members.forEach((m, i) => assert.deepEqual(m.rebalances(marks[i]), [], `${m.name} went through a rebalance`));
      assert.deepEqual([...consumers(members).values()].filter((names) => names.length > 1), [], 'nothing consumed twice');
      for (const m of members) await m.stop();
    } finally {
      await Promise.all(members.map((m) => m.kill()));
      try {
        // With no client connected, SIGTERM must stop the broker cleanly.
        if (server) assert.equal(await server.stop(), 0, 'the broker exits cleanly on SIGTERM');
      } finally {
        temp.cleanup();
      }
    }
  });

  test('group admin: list with a state filter, describe, offsets and lag, alter, delete', async () => {
    const { bootstrap } = broker;
    const topic = 'admin-topic';
    const group = 'admin-group';
    const admin = <T>(...args: string[]): Promise<T> => groupAdmin<T>(bootstrap, args);
    const listed = async (...states: string[]): Promise<GroupListing['groups']> => {
      const result = await admin<GroupListing>('list', ...states.flatMap((s) => ['--state', s]));
      assert.deepEqual(result.errors, []);
      return result.groups.filter((g) => g.group_id === group);
    };
    const describeGroup = async (): Promise<GroupDescription> => (await admin<GroupDescription[]>('describe', group))[0];
    const lag = (): Promise<GroupLag> => admin<GroupLag>('lag', group, topic, '3');

    await broker.broker.partitions.createTopic(topic, onThisNode(3), {});
    const first = await produce(bootstrap, topic, 3, 90);
    const options: GroupConsumerOptions = { bootstrap, group, topic, sessionTimeoutMs: SESSION_MS };
    const members = [new GroupConsumer('m1', options), new GroupConsumer('m2', options)];
    try {
      const shared = (): boolean => members.flatMap((m) => m.assignment).length === 3 && members.every((m) => m.assignment.length > 0);
      await eventually('m1 and m2 to share the partitions', shared, 30_000, () => assignments(members));
      await untilConsumed(members, first, 30_000);
      // Auto-commit runs every 500 ms.
      const caughtUp = { error: null, partitions: range(3).map((p) => ({ partition: p, committed: 30, end: 30, lag: 0 })) };
      let lagNow: GroupLag | undefined;
      await eventually('the members to commit what they consumed', async () => isDeepStrictEqual((lagNow = await lag()), caughtUp), 20_000, () => JSON.stringify(lagNow));

      assert.deepEqual(await listed(), [{ group_id: group, is_simple: false, state: 'Stable' }]);
      assert.deepEqual(await listed('Stable', 'Empty'), [{ group_id: group, is_simple: false, state: 'Stable' }]);
      assert.deepEqual(await listed('Empty'), [], 'a state filter leaves out groups in other states');

      const described = await describeGroup();
      assert.equal(described.error, null);
      assert.equal(described.state, 'Stable');
      assert.equal(described.partition_assignor, 'range');
      assert.equal(described.is_simple, false);
      assert.deepEqual(described.coordinator, { id: 1, host: '127.0.0.1', port: broker.broker.listeners[0].port });
      assert.equal(described.members.length, 2);
      for (const m of described.members) {
        assert.equal(m.client_id, `sluice-test-${group}`);
        assert.equal(m.host, '/127.0.0.1');
        assert.equal(m.group_instance_id, null);
        assert.ok(m.consumer_id.startsWith(`sluice-test-${group}-`), m.consumer_id);
      }
      const describedAssignments = described.members.map((m) => m.assignment.map((a) => `${a.topic}:${a.partition}`).join(',')).sort();
      assert.deepEqual(describedAssignments, members.map((m) => m.assignment.map((p) => `${topic}:${p}`).join(',')).sort(), 'the assignments members hold');

      // confluent-kafka 1.7's own AdminClient.list_groups() (ListGroups, then DescribeGroups) agrees.
      const legacy = (await admin<LegacyGroup[]>('legacy-groups')).find((g) => g.id === group);
      assert.ok(legacy, 'list_groups() lists the group');
      assert.deepEqual(
        { error: legacy.error, state: legacy.state, protocolType: legacy.protocol_type, protocol: legacy.protocol },
        { error: null, state: 'Stable', protocolType: 'consumer', protocol: 'range' },
      );
      assert.deepEqual(legacy.members.map((m) => m.id).sort(), described.members.map((m) => m.consumer_id).sort());

      // A group with members can be neither deleted nor have its offsets set from outside.
      const refused = await admin<GroupResult[]>('delete', group);
      assert.equal(refused[0].error?.name, 'NON_EMPTY_GROUP');
      const altered = await admin<GroupResult>('alter', group, topic, '3', '0');
      assert.deepEqual(altered.partitions.map((p) => p.error), ['UNKNOWN_MEMBER_ID', 'UNKNOWN_MEMBER_ID', 'UNKNOWN_MEMBER_ID']);
      assert.deepEqual((await lag()).partitions.map((p) => p.committed), [30, 30, 30], 'a refused alter changes nothing');

      for (const m of members) await m.stop();
    } finally {
      await Promise.all(members.map((m) => m.kill()));
    }

    assert.deepEqual(await listed('Empty'), [{ group_id: group, is_simple: false, state: 'Empty' }]);
    assert.deepEqual(await listed('Stable'), []);
    const empty = await describeGroup();
    assert.deepEqual([empty.state, empty.members], ['Empty', []]);

    await produce(bootstrap, topic, 3, 30);
    assert.deepEqual((await lag()).partitions, range(3).map((p) => ({ partition: p, committed: 30, end: 40, lag: 10 })), 'lag = log end offset - committed');

    const toEarliest = await admin<GroupResult>('alter', group, topic, '3', 'earliest');
    assert.deepEqual(toEarliest, { group_id: group, error: null, partitions: range(3).map((p) => ({ topic, partition: p, offset: 0 })) });
    assert.deepEqual((await lag()).partitions.map((p) => p.lag), [40, 40, 40]);
    await admin<GroupResult>('alter', group, topic, '3', '25');
    const offsets = await admin<GroupResult>('offsets', group);
    assert.deepEqual(offsets, { group_id: group, error: null, partitions: range(3).map((p) => ({ topic, partition: p, offset: 25 })) });

    // A member then starts where the offsets were set.
    const resumed = new GroupConsumer('m3', { ...options, maxMessages: 45, reportCommitted: true });
    try {
      await resumed.exited(60_000);
    } finally {
      await resumed.kill();
    }
    assert.deepEqual(resumed.committed('committed'), { 0: 25, 1: 25, 2: 25 });
    for (const p of range(3)) {
      assert.deepEqual(
        resumed.messages().filter((e) => e.partition === p).map((e) => e.offset),
        range(15).map((i) => 25 + i),
        `partition ${p} read from the altered offset`,
      );
    }

    const deleted = await admin<GroupResult[]>('delete', group);
    assert.deepEqual(deleted, [{ group_id: group, error: null, partitions: [] }]);
    assert.deepEqual(await listed(), []);
    assert.deepEqual((await admin<GroupResult>('offsets', group)).partitions, [], 'its offsets went with it');
    assert.equal((await describeGroup()).state, 'Dead');
    const again = await admin<GroupResult[]>('delete', group);
    assert.equal(again[0].error?.name, 'GROUP_ID_NOT_FOUND');
  });
});

describe('kcat balanced consumers (-G)', { skip: skipUnlessPresent(kcat), timeout: 120_000 }, () => {
  /** kcat -G prints each rebalance to stderr: "% Group g rebalanced (memberid m): assigned: t [0], t [1]". */
  function startKcat(group: string, topic: string, stop: { count: number } | 'at-end'): { command: RunningCommand; assignment: () => number[] } {
    const args = ['-b', broker.bootstrap, '-G', group, topic, '-X', 'auto.offset.reset=earliest', '-f', '%p %o %s\\n'];
    args.push(...(stop === 'at-end' ? ['-e'] : ['-c', String(stop.count)]));
    const command = startCommand('kcat', args, { timeoutMs: 60_000, input: '' });
    let stderr = '';
    command.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const assignment = (): number[] => {
      const held = new Set<number>();
      for (const [, what, list] of stderr.matchAll(/rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)/g)) {
        for (const [, p] of list.matchAll(/\[(\d+)\]/g)) {
          if (what === 'assigned') held.add(Number(p));
          else held.delete(Number(p));
        }
      }
      return [...held].sort((x, y) => x - y);
    };
    return { command, assignment };
  }

  async function produceLines(topic: string, partitions: number, perPartition: number): Promise<void> {
    for (const p of range(partitions)) {
      const lines = range(perPartition).map((i) => `p${p}-${i}\n`).join('');
      const r = await runCommand('kcat', ['-b', broker.bootstrap, '-P', '-t', topic, '-p', String(p)], { timeoutMs: 30_000, input: lines });
      assertSucceeded(r, `kcat -P -p ${p}`);
    }
  }

  /** kcat's output lines "partition offset value", checked against what produceLines wrote. */
  function parse(stdout: string): { partition: number; offset: number }[] {
    return stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [p, o, value] = l.split(' ');
        assert.equal(value, `p${p}-${o}`, `the message at ${p}:${o}`);
        return { partition: Number(p), offset: Number(o) };
      });
  }

  test('one balanced consumer reads every partition; the next member of its group finds nothing left', async () => {
    const topic = 'kcat-one';
    await broker.broker.partitions.createTopic(topic, onThisNode(4), {});
    await produceLines(topic, 4, 100);
    const first = startKcat(topic, topic, { count: 400 });
    try {
      const r = await first.command.result;
      assertSucceeded(r, 'kcat -G -c 400');
      const read = parse(r.stdout).map((m) => at(m.partition, m.offset));
      assert.deepEqual(read.sort(), range(4).flatMap((p) => range(100).map((o) => at(p, o))).sort());
    } finally {
      await first.command.kill();
    }
    // kcat committed as it went and on close: the group's next member starts at the end. (-e
    // works with -G in kcat 1.7; a kcat that ignored it would run into the time limit.)
    const second = startKcat(topic, topic, 'at-end');
    try {
      const r = await second.command.result;
      assertSucceeded(r, 'kcat -G -e');
      assert.deepEqual(parse(r.stdout), [], 'nothing left to read for the group');
      assert.match(r.stderr, /assigned: kcat-one \[0\], kcat-one \[1\], kcat-one \[2\], kcat-one \[3\]/, 'it did join the group');
    } finally {
      await second.command.kill();
    }
  });

  test('two balanced consumers split the partitions and read each message once', async () => {
    const topic = 'kcat-two';
    await broker.broker.partitions.createTopic(topic, onThisNode(4), {});
    const kcats = [startKcat(topic, topic, { count: 200 }), startKcat(topic, topic, { count: 200 })];
    try {
      const state = (): string => kcats.map((c) => JSON.stringify(c.assignment())).join(' ');
      await eventually('the two kcats to hold two partitions each', () => kcats.every((c) => c.assignment().length === 2), 30_000, state);
      const held = kcats.map((c) => c.assignment());
      assert.deepEqual([...held[0], ...held[1]].sort(), [0, 1, 2, 3], state());

      await produceLines(topic, 4, 100);
      const results = await Promise.all(kcats.map((c) => c.command.result));
      const reads = results.map((r, i) => {
        assertSucceeded(r, `kcat -G #${i}`);
        return parse(r.stdout);
      });
      for (const [i, read] of reads.entries()) {
        assert.equal(read.length, 200);
        assert.ok(
          read.every((m) => held[i].includes(m.partition)),
          `kcat #${i} held ${JSON.stringify(held[i])} but read from ${JSON.stringify([...new Set(read.map((m) => m.partition))])}`,
        );
      }
      const all = reads.flat().map((m) => at(m.partition, m.offset));
      assert.deepEqual(all.sort(), range(4).flatMap((p) => range(100).map((o) => at(p, o))).sort(), 'each message read once');
    } finally {
      await Promise.all(kcats.map((c) => c.command.kill()));
    }
  });
});

describe('static membership (group.instance.id)', { skip: skipUnlessPresent(confluentKafka), timeout: 120_000 }, () => {
  test('a static member killed and restarted within its session gets its partitions back, with no rebalance for the others', async () => {
    const topic = 'static-members';
    await broker.broker.partitions.createTopic(topic, onThisNode(4), {});
    const options: GroupConsumerOptions = { bootstrap: broker.bootstrap, group: topic, topic, sessionTimeoutMs: 20_000 };
    const a = new GroupConsumer('a', { ...options, instanceId: 'instance-a' });
    const b = new GroupConsumer('b', { ...options, instanceId: 'instance-b' });
    let again: GroupConsumer | null = null;
    try {
      await eventually('a and b to hold two partitions each', () => splitEvenly([a, b], 4, 2), 30_000, () => assignments([a, b]));
      const held = a.assignment;
      const bEvents = b.rebalances().length;
      await a.kill();
      again = new GroupConsumer('a-again', { ...options, instanceId: 'instance-a' });
      await eventually('the restarted member to get its partitions', () => again!.assignment.length === 2, 30_000, () => assignments([again!, b]));
      assert.deepEqual(again.assignment, held);
      // b saw no revoke or new assignment: the group did not rebalance for the restart.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.deepEqual(b.rebalances(bEvents), []);
      const group = broker.broker.groups.group(topic)!;
      assert.equal(group.state, 'Stable');
      assert.deepEqual([...group.staticMembers.keys()].sort(), ['instance-a', 'instance-b']);
    } finally {
      await Promise.all([a.kill(), b.kill(), again?.kill()]);
    }
  });
});
