import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FetchContext } from '../../src/broker/fetch-sessions.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { platformaticNodeOrSkip, runPlatformaticScript } from '../support/platformatic-runner.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic } from '../support/raw-requests.js';
import { startTestBroker } from '../support/test-broker.js';

const TOPIC = 'pf-fetch-sessions';
const PARTITIONS = 8;
// Every partition gets several rounds, so each goes back and forth between moved and idle.
const ROUNDS = 3 * PARTITIONS;
const PER_ROUND = 5;

interface Read {
  partitions: { offset: string; value: string | null }[][];
  fetches: number;
}

test('@platformatic/kafka keeps one fetch session and reads every record once as partitions move one at a time', async (t) => {
  const node = platformaticNodeOrSkip(t);
  if (node === null) return;
  const broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0' });
  try {
    const admin = await RawConnection.open(broker.broker.listeners[0].port);
    try {
      assert.equal(await createTopic(admin, TOPIC, {}, PARTITIONS), ErrorCode.NONE);
    } finally {
      admin.destroy();
    }

    // Only the consumer fetches (the group coordinator and the producer never do), so every
    // context is one of its fetches.
    const sessions = broker.broker.fetchSessions;
    const kinds: Record<FetchContext['kind'], number> = { sessionless: 0, full: 0, incremental: 0, error: 0 };
    const errorCodes: number[] = [];
    const sessionIds = new Set<number>();
    const context = sessions.context.bind(sessions);
    sessions.context = (req, usesTopicIds, now) => {
      const c = context(req, usesTopicIds, now);
      kinds[c.kind]++;
      if (c.kind === 'error') errorCodes.push(c.errorCode);
      if (c.kind === 'incremental') sessionIds.add(c.session.id);
      return c;
    };
    // How many partitions each incremental answer kept: the point of a session is that those
    // with nothing new are left out.
    const answered: number[] = [];
    const trim = sessions.trim.bind(sessions);
    sessions.trim = (c, res) => {
      trim(c, res);
      answered.push(res.responses.reduce((n, topic) => n + topic.partitions.length, 0));
    };

    const stdout = await runPlatformaticScript(
      node,
      'platformatic-fetch-session-child.mjs',
      [broker.bootstrap, TOPIC, String(PARTITIONS), String(ROUNDS), String(PER_ROUND)],
      (stdin) => stdin.end(),
      90_000,
    );
    const read = JSON.parse(stdout) as Read;

    const expected: { offset: string; value: string }[][] = Array.from({ length: PARTITIONS }, () => []);
    for (let r = 0; r < ROUNDS; r++) {
      const records = expected[r % PARTITIONS];
      for (let i = 0; i < PER_ROUND; i++) records.push({ offset: String(records.length), value: `round ${r} record ${i}` });
    }
    assert.equal(read.partitions.length, PARTITIONS);
    read.partitions.forEach((records, p) => assert.deepEqual(records, expected[p], `partition ${p}`));

    const counts = `contexts ${JSON.stringify(kinds)}, errors ${JSON.stringify(errorCodes)}, ${read.fetches} fetches by the client, partitions per incremental answer ${JSON.stringify(answered)}`;
    t.diagnostic(counts);
    assert.equal(kinds.error, 0, counts);
    // The client never sends epoch -1, and its session never empties while it reads the topic.
    assert.equal(kinds.sessionless, 0, counts);
    // A client that lost its session (an answer without its id, or a session error) would open
    // another with a second full fetch.
    assert.equal(kinds.full, 1, counts);
    assert.equal(sessionIds.size, 1, counts);
    // The full fetch reads at most the first round, so every later one came through the session,
    // and so did the fetches the child lets pass after the last round.
    assert.ok(kinds.incremental > ROUNDS, counts);
    assert.equal(answered.length, kinds.incremental, counts);
    assert.ok(answered.reduce((a, b) => a + b, 0) >= ROUNDS - 1, counts);
    // One partition moves at a time, and the next only once the client has read it: an answer
    // that repeats an idle partition would be a session that forgot what it told the client.
    assert.ok(answered.every((n) => n <= 1), counts);

    assert.equal(sessions.size, 1, counts);
    assert.equal(sessions.partitionCount, PARTITIONS, counts);
    const [id] = sessionIds;
    const session = sessions.get(id);
    assert.ok(session, `session ${id} is gone`);
    const topicId = broker.broker.metadata.topic(TOPIC)?.id;
    // Where the client last said it reads each partition: just past the records it got.
    const positions = [...session.partitions.values()]
      .map((p) => ({ topic: session.usesTopicIds ? p.topicId : p.topic, partition: p.wanted.partition, fetchOffset: p.wanted.fetchOffset }))
      .sort((a, b) => a.partition - b.partition);
    assert.deepEqual(
      positions,
      expected.map((records, partition) => ({ topic: session.usesTopicIds ? topicId : TOPIC, partition, fetchOffset: BigInt(records.length) })),
    );
  } finally {
    await broker.stop();
  }
});
