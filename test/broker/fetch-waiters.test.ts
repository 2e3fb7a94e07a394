import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { apis } from '../../src/protocol/generated/api-table.js';
import type { FetchResponse } from '../../src/protocol/generated/messages/fetch-response.js';
import { encodeRequestFrame, decodeResponseFrame } from '../../src/protocol/headers.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { fetchWaitStats } from '../../src/replication/fetch-waiters.js';
import type { Partition } from '../../src/replication/partition.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, fetchRequest, produceBatch } from '../support/raw-requests.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';

const TOPIC = 'parked';
const FETCH_VERSION = 11;
/** Longer than the test: every answer below comes from data arriving, none from max_wait. */
const MAX_WAIT_MS = 120_000;

function batchOf(valueBytes: number): Buffer {
  return encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: null, value: Buffer.alloc(valueBytes, 1), timestampDelta: 0, headers: [] }] });
}

/** Sends a long poll for `partitions` from offset 0 with no answer expected yet; returns the frame's correlation id. */
function park(conn: RawConnection, correlationId: number, partitions: number[], minBytes = 1): void {
  const body = { ...fetchRequest({ topic: TOPIC }, partitions.map((partition) => ({ partition })), { maxBytes: 1 << 20, partitionMaxBytes: 1 << 20 }), maxWaitMs: MAX_WAIT_MS, minBytes };
  conn.send(encodeRequestFrame({ correlationId, clientId: 'long-poll' }, apis.Fetch.apiKey, FETCH_VERSION, body));
}

async function answer(conn: RawConnection): Promise<FetchResponse> {
  const frame = await conn.nextFrame(MAX_WAIT_MS);
  assert.ok(frame, 'the parked fetch was answered');
  return decodeResponseFrame(frame, apis.Fetch.apiKey, FETCH_VERSION).body as FetchResponse;
}

/** Waits for a condition the broker reaches on its own (a socket close it has to notice). */
async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await sleep(10);
  assert.ok(check(), what);
}

describe('parked fetches wake only for their own partitions', () => {
  let b: InProcessBroker;
  let producer: RawConnection;
  const partition = (index: number): Partition => {
    const p = b.broker.partitions.lookup(TOPIC, index);
    assert.ok(typeof p !== 'number');
    return p;
  };
  // A partition's own listeners here are parked fetches only: produce's acks=all wait is over once it answers.
  const parkedOn = (index: number): number => partition(index).listenerCount;

  before(async () => {
    b = await startTestBroker();
    producer = await RawConnection.open(Number(b.bootstrap.split(':')[1]));
    assert.equal(await createTopic(producer, TOPIC, {}, 4), 0);
  });
  after(async () => {
    producer.destroy();
    await b.stop();
  });

  test('a record on one partition looks again at its own waiters only, and each leaves every partition it watched', async () => {
    const port = Number(b.bootstrap.split(':')[1]);
    const onA = await RawConnection.open(port);
    const onBC = await RawConnection.open(port);
    park(onA, 1, [0]);
    park(onBC, 1, [1, 2]);
    await eventually('both fetches are parked', () => parkedOn(0) === 1 && parkedOn(1) === 1 && parkedOn(2) === 1);

    const before = fetchWaitStats.evaluations;
    assert.equal((await produceBatch(producer, TOPIC, 1, batchOf(10))).errorCode, 0);
    const res = await answer(onBC);
    assert.equal(fetchWaitStats.evaluations - before, 1, 'one look, at the partition that moved, for the one fetch watching it');
    const byIndex = new Map(res.responses[0].partitions.map((p) => [p.partitionIndex, p]));
    assert.ok((byIndex.get(1)!.records?.byteLength ?? 0) > 0);
    assert.equal(byIndex.get(2)!.records?.byteLength ?? 0, 0);
    assert.deepEqual([parkedOn(0), parkedOn(1), parkedOn(2)], [1, 0, 0], 'the answered fetch left both its partitions; the other still waits');

    // The fetch on partition 0 was not looked at, and still answers when its own partition moves.
    const beforeA = fetchWaitStats.evaluations;
    assert.equal((await produceBatch(producer, TOPIC, 0, batchOf(10))).errorCode, 0);
    assert.ok(((await answer(onA)).responses[0].partitions[0].records?.byteLength ?? 0) > 0);
    assert.equal(fetchWaitStats.evaluations - beforeA, 1);
    assert.equal(parkedOn(0), 0);
    onA.destroy();
    onBC.destroy();
  });

  test('min_bytes keeps a fetch parked across small appends, counting what each of its partitions holds', async () => {
    const conn = await RawConnection.open(Number(b.bootstrap.split(':')[1]));
    // Partition 3 is empty; partitions 1 and 0 hold one small batch each from the test above.
    park(conn, 1, [3], 3000);
    await eventually('the fetch is parked', () => parkedOn(3) === 1);
    assert.equal((await produceBatch(producer, TOPIC, 3, batchOf(1000))).errorCode, 0);
    assert.equal(parkedOn(3), 1, 'about 1 KB of the 3 KB asked for: still waiting');
    assert.equal((await produceBatch(producer, TOPIC, 3, batchOf(2500))).errorCode, 0);
    const res = await answer(conn);
    assert.ok((res.responses[0].partitions[0].records?.byteLength ?? 0) >= 3000);
    assert.equal(parkedOn(3), 0);
    conn.destroy();
  });

  test('a closed connection takes its parked fetch off every partition at once, not at max_wait', async () => {
    const conn = await RawConnection.open(Number(b.bootstrap.split(':')[1]));
    park(conn, 1, [0, 1, 2, 3], 1 << 30);
    await eventually('the fetch is parked on all four', () => [0, 1, 2, 3].every((i) => parkedOn(i) === 1));
    conn.destroy();
    await eventually('the fetch left all four partitions', () => [0, 1, 2, 3].every((i) => parkedOn(i) === 0));
  });
});
