import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { apis } from '../../src/protocol/generated/api-table.js';
import type { FetchResponse } from '../../src/protocol/generated/messages/fetch-response.js';
import { decodeResponseFrame, encodeRequestFrame } from '../../src/protocol/headers.js';
import { openDescriptors, openLogFiles } from '../support/process-descriptors.js';
import { consumePython, producePython } from '../support/python-clients.js';
import { RawConnection } from '../support/raw-connection.js';
import { fetchRequest } from '../support/raw-requests.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';
import { confluentKafka, skipUnlessPresent } from '../support/tools.js';

const { Kafka, logLevel } = kafkajs;

/**
 * Sockets and log files draw on one descriptor limit. A broker under 1,024 descriptors with 400
 * written partitions (1,200 log files, more than the 768 it keeps open) takes 800 long-polling
 * connections: the log files give up the room, every parked fetch is answered when a producer
 * writes, and checkpoints go on being written. Sockets past what the limit leaves room for are
 * refused with a log line, and once the crowd leaves newcomers are served again. Before, the
 * log files kept their share, the process hit its limit, connections stayed unaccepted in the
 * kernel's queue (their consumers never answered), and checkpoint writes failed with EMFILE.
 */
const LIMIT = 1024;
/** Three quarters of LIMIT. */
const LOG_BUDGET = 768;
/** What neither share counts (outbound connections, checkpoint writes): LIMIT / 32. */
const RESERVE = 32;
/** LIMIT less the reserve, less the log files' floor (an eighth of their budget, 96). */
const MAX_SOCKETS = 896;
const PARTITIONS = 400;
const PARKED = 800;
const OVERFLOW = 200;
const TOPIC = 'crowded';

const warnings = (broker: BrokerProcess): string[] => broker.output.filter((l) => /"level":(40|50)/.test(l));

/** Fetch v11 of one partition from `offset`, parked up to a minute for a record to arrive. */
function parkedFetch(partition: number, offset: bigint): Buffer {
  const request = { ...fetchRequest({ topic: TOPIC }, [{ partition, fetchOffset: offset }], { maxBytes: 1 << 20, partitionMaxBytes: 1 << 16 }), maxWaitMs: 60_000 };
  return encodeRequestFrame({ correlationId: 1, clientId: 'parked' }, apis.Fetch.apiKey, 11, request);
}

/** Opens `count` connections, a hundred at a time. */
async function openConnections(port: number, count: number): Promise<RawConnection[]> {
  const opened: RawConnection[] = [];
  for (let i = 0; i < count; i += 100) opened.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => RawConnection.open(port, 10_000)))));
  return opened;
}

describe(`sockets and log files under one limit of ${LIMIT} descriptors`, { skip: skipUnlessPresent(confluentKafka), timeout: 180_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let dataDir: string;
  let broker: BrokerProcess;
  const held: RawConnection[] = [];
  /** The broker's descriptors sampled while connections were held: the most seen. */
  let peakDescriptors = 0;
  let sampler: NodeJS.Timeout | null = null;

  before(async () => {
    temp = tempDir('descriptor-sharing');
    dataDir = join(temp.dir, 'data');
    broker = await startBrokerProcess(dataDir, { 'connections.max.idle.ms': '600000', 'log.flush.offset.checkpoint.interval.ms': '300' }, 0, {
      descriptorLimit: { soft: LIMIT, hard: LIMIT },
    });
  });

  after(async () => {
    if (sampler) clearInterval(sampler);
    for (const c of held) c.destroy();
    try {
      await broker?.stop();
    } finally {
      temp.cleanup();
    }
  });

  test('says at start how it shares the limit', () => {
    const line = broker.output.find((l) => l.includes('"file descriptors: '));
    assert.ok(line, broker.output.join('\n'));
    const { limit, logFiles, sockets } = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual({ limit, logFiles, sockets }, { limit: LIMIT, logFiles: LOG_BUDGET, sockets: MAX_SOCKETS });
  });

  test('written partitions fill the log files budget', async () => {
    const admin = new Kafka({ clientId: 'descriptor-sharing', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
    } finally {
      await admin.disconnect();
    }
    const run = await producePython({ library: 'confluent', bootstrap: broker.bootstrap, topic: TOPIC, partitions: PARTITIONS, count: PARTITIONS, idempotence: 'on' });
    assert.equal(run.summary.acked, PARTITIONS, run.stderr);
    const open = openLogFiles(broker.child.pid!, dataDir);
    assert.ok(open > LOG_BUDGET - 100, `only ${open} log files open: nothing for sockets to take`);
  });

  test(`${PARKED} parked fetches take the log files' room, and a producer's records answer every one`, async () => {
    held.push(...(await openConnections(broker.port, PARKED)));
    sampler = setInterval(() => void (peakDescriptors = Math.max(peakDescriptors, openDescriptors(broker.child.pid!).all)), 5);
    held.forEach((c, i) => c.send(parkedFetch(i % PARTITIONS, 1n)));
    await sleep(1000);
    assert.equal(held.filter((c) => c.peerClosed).length, 0, 'every connection was kept');
    const logFiles = openLogFiles(broker.child.pid!, dataDir);
    assert.ok(logFiles <= LIMIT - RESERVE - PARKED, `${logFiles} log files open beside ${PARKED} sockets`);

    const parkedAt = Date.now();
    const run = await producePython({ library: 'confluent', bootstrap: broker.bootstrap, topic: TOPIC, partitions: PARTITIONS, count: PARTITIONS, first: PARTITIONS, idempotence: 'on' });
    assert.equal(run.summary.acked, PARTITIONS, run.stderr);
    const frames = await Promise.all(held.map((c) => c.nextFrame(30_000)));
    const unanswered = frames.flatMap((frame, i) => {
      if (!frame) return [i];
      const partition = (decodeResponseFrame(frame, apis.Fetch.apiKey, 11).body as FetchResponse).responses[0].partitions[0];
      return partition.errorCode === 0 && partition.partitionIndex === i % PARTITIONS && (partition.records?.byteLength ?? 0) > 0 ? [] : [i];
    });
    assert.deepEqual(unanswered, [], `${unanswered.length} parked fetches without their record`);

    // Checkpoints need descriptors of their own: they are still written.
    await sleep(1000);
    assert.ok(statSync(join(dataDir, 'recovery-point-offset-checkpoint')).mtimeMs > parkedAt, 'the recovery point checkpoint was written while the sockets were held');
    assert.deepEqual(warnings(broker), []);
  });

  test('sockets past what the limit leaves room for are refused with a log line, and the process stays under its limit', async () => {
    const more = await openConnections(broker.port, OVERFLOW);
    held.push(...more);
    const refused = (await Promise.all(more.map((c) => c.closedByPeer(2000)))).filter(Boolean).length;
    // The producer's sockets are gone by now, or nearly: a few may still be closing.
    assert.ok(refused >= OVERFLOW - (MAX_SOCKETS - PARKED), `${refused} of ${OVERFLOW} refused`);
    assert.ok(refused <= OVERFLOW - (MAX_SOCKETS - PARKED) + 8, `${refused} of ${OVERFLOW} refused: the room was not used`);
    const lines = warnings(broker);
    assert.ok(lines.length > 0);
    for (const line of lines) assert.match(line, /"reason":"descriptors".*connection refused from 127\.0\.0\.1: the descriptor limit leaves room for 896 sockets beside the log files/);
    assert.ok(peakDescriptors < LIMIT, `the broker had ${peakDescriptors} descriptors open`);
    assert.ok(!broker.output.some((l) => l.includes('EMFILE')));
  });

  test('once the crowd leaves, a newcomer reads every record back', async () => {
    for (const c of held.splice(0)) c.destroy();
    const deadline = Date.now() + 10_000;
    while (openDescriptors(broker.child.pid!).sockets > 10 && Date.now() < deadline) await sleep(50);
    const records = await consumePython('confluent', broker.bootstrap, TOPIC);
    assert.equal(records.length, 2 * PARTITIONS);
    const byPartition = new Map<number, number[]>();
    for (const r of records) byPartition.set(r.p, [...(byPartition.get(r.p) ?? []), r.o]);
    assert.equal(byPartition.size, PARTITIONS);
    for (const offsets of byPartition.values()) assert.deepEqual(offsets.sort(), [0, 1]);
  });
});
