import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient, Producer } from 'kafkajs';
import { ZERO_UUID } from '../../src/protocol/codec-runtime.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { createApiVersionsRequest } from '../../src/protocol/generated/messages/api-versions-request.js';
import type { ApiVersionsResponse } from '../../src/protocol/generated/messages/api-versions-response.js';
import { createFetchRequest, type FetchRequest } from '../../src/protocol/generated/messages/fetch-request.js';
import { createListOffsetsRequest } from '../../src/protocol/generated/messages/list-offsets-request.js';
import { createMetadataRequest } from '../../src/protocol/generated/messages/metadata-request.js';
import { createProduceRequest } from '../../src/protocol/generated/messages/produce-request.js';
import { decodeRequestFrame, decodeResponseFrame, encodeRequestFrame } from '../../src/protocol/headers.js';
import { ProtocolError } from '../../src/protocol/protocol-error.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { fuzzSeed, Prng } from '../support/fuzz.js';
import { RawConnection } from '../support/raw-connection.js';
import { recordsIn, tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;

/** socket.request.max.bytes for this broker: small, so prefixes just over it are cheap to try. */
const MAX_FRAME = 1024 * 1024;
const STEADY_TOPIC = 'steady';
/** Where fuzzed Produce frames go, away from the steady client's data. */
const FUZZ_TOPIC = 'fuzz-target';
const BATCH = 10;

interface LogLine {
  level: number;
  msg: string;
  client?: string;
  reason?: string;
}

/** The broker process's log lines (pino JSON on stdout), from now until it exits. */
function collectLog(child: ChildProcess): { lines: LogLine[]; drained: Promise<void> } {
  const lines: LogLine[] = [];
  const reader = createInterface({ input: child.stdout! });
  reader.on('line', (line) => {
    if (line.startsWith('{')) lines.push(JSON.parse(line) as LogLine);
  });
  return { lines, drained: new Promise((resolve) => reader.once('close', resolve)) };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A kafkajs producer sending batches to one partition with acks=all and no retries (any error
 * surfaces), and beside it a reader of the partition's offsets by ListOffsets, which checks
 * that the high watermark never falls behind what was acknowledged nor runs ahead of what was
 * sent. Both run until stop().
 */
class SteadyClient {
  readonly acked: string[] = [];
  readonly errors: string[] = [];
  offsetReads = 0;
  private stopping = false;
  private readonly kafka: KafkaClient;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private loops: Promise<void>[] = [];

  constructor(bootstrap: string) {
    this.kafka = new Kafka({
      clientId: 'steady',
      brokers: [bootstrap],
      retry: { retries: 0 },
      logLevel: logLevel.ERROR,
      logCreator: () => (entry) => this.errors.push(`kafkajs ${entry.namespace}: ${entry.log.message}`),
    });
    this.producer = this.kafka.producer({ allowAutoTopicCreation: true, idempotent: false });
    this.admin = this.kafka.admin();
  }

  async start(): Promise<void> {
    await Promise.all([this.producer.connect(), this.admin.connect()]);
    this.loops = [this.loop('produce', () => this.produceBatch()), this.loop('read offsets', () => this.readOffsets())];
  }

  private async loop(what: string, step: () => Promise<void>): Promise<void> {
    try {
      while (!this.stopping) await step();
    } catch (e) {
      this.errors.push(`${what}: ${(e as Error).message}`);
    }
  }

  private async produceBatch(): Promise<void> {
    const values = Array.from({ length: BATCH }, (_, i) => `steady-${this.acked.length + i}`);
    await this.producer.send({ topic: STEADY_TOPIC, acks: -1, messages: values.map((value) => ({ value, partition: 0 })) });
    this.acked.push(...values);
  }

  private async readOffsets(): Promise<void> {
    const before = this.acked.length;
    const offsets = await this.admin.fetchTopicOffsets(STEADY_TOPIC);
    const high = Number(offsets.find((o) => o.partition === 0)?.high ?? -1);
    // At most the batch in flight may be in the log unacknowledged.
    const after = this.acked.length + BATCH;
    if (high < before || high > after) this.errors.push(`high watermark ${high}, acknowledged ${before}..${this.acked.length}`);
    this.offsetReads++;
    await sleep(20);
  }

  async waitForAcks(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < count) {
      if (this.errors.length > 0) throw new Error(`the steady client failed: ${this.errors.join('; ')}`);
      if (Date.now() > deadline) throw new Error(`the steady client has ${this.acked.length} of ${count} acks after ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    await Promise.all([this.producer.disconnect(), this.admin.disconnect()]);
  }
}

/** Every record of partition 0 of a topic, by Fetch on a raw connection. */
async function readPartition(port: number, topic: string): Promise<{ offset: number; value: string | null }[]> {
  const conn = await RawConnection.open(port);
  try {
    const out: { offset: number; value: string | null }[] = [];
    for (;;) {
      const req: FetchRequest = createFetchRequest();
      req.maxBytes = 8 * 1024 * 1024;
      req.topics = [{ topic, topicId: ZERO_UUID, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: BigInt(out.length), lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 4 * 1024 * 1024, replicaDirectoryId: ZERO_UUID }] }];
      const res = await conn.request(apis.Fetch, 12, req);
      const p = res.responses[0].partitions[0];
      assert.equal(p.errorCode, ErrorCode.NONE, `fetch of ${topic} at ${out.length}`);
      const records = recordsIn(p.records as Buffer).filter((r) => r.offset >= out.length);
      out.push(...records.map((r) => ({ offset: r.offset, value: r.value })));
      if (records.length === 0) {
        assert.equal(BigInt(out.length), p.highWatermark, `read ${out.length} records of ${topic}, high watermark ${p.highWatermark}`);
        return out;
      }
    }
  } finally {
    conn.destroy();
  }
}

/** Well-formed requests for the fuzzer to corrupt: flexible and classic versions of several APIs. */
function validFrames() {
  const header = { correlationId: 7, clientId: 'fuzzer' };
  const apiVersions = createApiVersionsRequest();
  apiVersions.clientSoftwareName = 'sluice-fuzz';
  apiVersions.clientSoftwareVersion = '1.0';
  const metadata = createMetadataRequest();
  metadata.topics = [{ name: FUZZ_TOPIC, topicId: ZERO_UUID }];
  const produce = createProduceRequest();
  produce.acks = 1;
  produce.timeoutMs = 5000;
  const records = encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: Buffer.from('k'), value: Buffer.from('fuzzed value'), timestampDelta: 0 }] });
  produce.topicData = [{ name: FUZZ_TOPIC, partitionData: [{ index: 0, records }] }];
  const listOffsets = createListOffsetsRequest();
  listOffsets.topics = [{ name: FUZZ_TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }];
  // maxWaitMs and minBytes 0: one flipped byte can raise only one of them, so no fetch ever waits.
  const fetch = createFetchRequest();
  fetch.maxWaitMs = 0;
  fetch.minBytes = 0;
  fetch.topics = [{ topic: FUZZ_TOPIC, topicId: ZERO_UUID, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 65536, replicaDirectoryId: ZERO_UUID }] }];
  return {
    apiVersions3: encodeRequestFrame(header, apis.ApiVersions.apiKey, 3, apiVersions),
    apiVersions1: encodeRequestFrame(header, apis.ApiVersions.apiKey, 1, createApiVersionsRequest()),
    metadata12: encodeRequestFrame(header, apis.Metadata.apiKey, 12, metadata),
    metadata4: encodeRequestFrame(header, apis.Metadata.apiKey, 4, metadata),
    produce9: encodeRequestFrame(header, apis.Produce.apiKey, 9, produce),
    produce3: encodeRequestFrame(header, apis.Produce.apiKey, 3, produce),
    listOffsets7: encodeRequestFrame(header, apis.ListOffsets.apiKey, 7, listOffsets),
    fetch12: encodeRequestFrame(header, apis.Fetch.apiKey, 12, fetch),
  };
}

/** Bytes 4-7 of a frame: its api key and version. */
const API_KEY_AT = 4;
const API_VERSION_AT = 6;
const HEADER_START = 8;

function withApi(frame: Buffer, apiKey: number, version: number): Buffer {
  const out = Buffer.from(frame);
  out.writeInt16BE(apiKey, API_KEY_AT);
  out.writeInt16BE(version, API_VERSION_AT);
  return out;
}

function withSizePrefix(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/**
 * How the broker must treat a connection:
 * - close: it closes it by itself, and logs why once;
 * - close-after-end: the frame is unfinished, so it waits; once the client ends the stream it
 *   closes it, and logs why once;
 * - answer-or-close: a corrupted frame that still decodes may be answered (then nothing is
 *   logged), else the connection is closed and logged once.
 */
type Expectation = 'close' | 'close-after-end' | 'answer-or-close';

interface BadCase {
  name: string;
  bytes: Buffer;
  expect: Expectation;
}

/** Whether Sluice's own codec reads the frame; a frame it cannot read the broker must refuse. */
function decodes(frame: Buffer): boolean {
  try {
    decodeRequestFrame(frame.subarray(4));
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) return false;
    throw e;
  }
}

function badCases(prng: Prng): BadCase[] {
  const valid = validFrames();
  const frames = Object.values(valid);
  const cases: BadCase[] = [];
  for (let i = 0; i < 40; i++) {
    // Random bytes, half of them behind a size prefix that fits, so they reach header decoding.
    const bytes = i % 2 === 0 ? prng.bytes(1 + prng.int(200)) : withSizePrefix(prng.bytes(4 + prng.int(200)));
    // ApiVersions in an unknown version is answered, not refused: keep randomness away from it.
    if (bytes.length >= API_VERSION_AT && bytes.readInt16BE(API_KEY_AT) === apis.ApiVersions.apiKey) bytes[API_KEY_AT] ^= 0x40;
    const size = bytes.length >= 4 ? bytes.readInt32BE(0) : -1;
    const complete = bytes.length >= 4 && (size < 0 || size > MAX_FRAME || size <= bytes.length - 4);
    cases.push({ name: `random bytes #${i}`, bytes, expect: complete ? 'close' : 'close-after-end' });
  }
  for (let i = 0; i < 120; i++) {
    const bytes = Buffer.from(prng.pick(frames));
    const at = HEADER_START + prng.int(bytes.length - HEADER_START);
    bytes[at] ^= 1 + prng.int(255);
    const apiVersions = bytes.readInt16BE(API_KEY_AT) === apis.ApiVersions.apiKey;
    cases.push({ name: `flipped byte ${at} of ${apiNameOf(bytes)} #${i}`, bytes, expect: decodes(bytes) || apiVersions ? 'answer-or-close' : 'close' });
  }
  for (const size of [MAX_FRAME + 1, 0x7fffffff, -1, -0x80000000, MAX_FRAME * 64]) {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    cases.push({ name: `size prefix ${size}`, bytes: Buffer.concat([prefix, prng.bytes(64)]), expect: 'close' });
  }
  for (let i = 0; i < 30; i++) {
    const frame = prng.pick(frames);
    const cut = 1 + prng.int(frame.length - 1);
    cases.push({ name: `${apiNameOf(frame)} cut at ${cut} of ${frame.length} bytes`, bytes: frame.subarray(0, cut), expect: 'close-after-end' });
  }
  const { metadata12, produce9, produce3, fetch12 } = valid;
  cases.push(
    { name: 'Metadata v32767', bytes: withApi(metadata12, apis.Metadata.apiKey, 0x7fff), expect: 'close' },
    { name: 'Fetch v3 (below the versions served)', bytes: withApi(fetch12, apis.Fetch.apiKey, 3), expect: 'close' },
    // Advertised, for librdkafka's sake, but refused (see handlers/api-versions.ts).
    { name: 'Produce v2', bytes: withApi(produce3, apis.Produce.apiKey, 2), expect: 'close' },
    { name: 'Produce v-1', bytes: withApi(produce9, apis.Produce.apiKey, -1), expect: 'close' },
    { name: 'api key 30000', bytes: withApi(metadata12, 30000, 0), expect: 'close' },
    { name: 'api key -1', bytes: withApi(metadata12, -1, 0), expect: 'close' },
    { name: 'api key 1000, version 12', bytes: withApi(produce3, 1000, 12), expect: 'close' },
  );
  return cases;
}

function apiNameOf(frame: Buffer): string {
  const key = frame.readInt16BE(API_KEY_AT);
  const api = Object.values(apis).find((a) => a.apiKey === key);
  return `${api?.name ?? `api ${key}`} v${frame.readInt16BE(API_VERSION_AT)}`;
}

/** Long enough for a loaded machine; the broker acts within milliseconds. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * A connection from a local port none of `taken` had: the broker's log names connections by
 * their client's address and port, and the kernel may hand a port out again once its last
 * connection is gone (other tests' connections move the same port counter). A connection
 * given up unused costs the broker no log line.
 */
async function openOnFreshPort(port: number, taken: Set<number>): Promise<RawConnection> {
  for (;;) {
    const conn = await RawConnection.open(port);
    if (!taken.has(conn.localPort)) {
      taken.add(conn.localPort);
      return conn;
    }
    conn.destroy();
  }
}

/** Plays one case; returns how many "closing connection" lines the broker owes its connection. */
async function play(port: number, c: BadCase, taken: Set<number>): Promise<{ localPort: number; loggedLines: number }> {
  const conn = await openOnFreshPort(port, taken);
  try {
    conn.send(c.bytes);
    switch (c.expect) {
      case 'close':
        assert.ok(await conn.closedByPeer(CLOSE_TIMEOUT_MS), `${c.name}: the broker left the connection open`);
        return { localPort: conn.localPort, loggedLines: 1 };
      case 'close-after-end':
        assert.equal(await conn.closedByPeer(200), false, `${c.name}: closed before the frame could be finished`);
        conn.end();
        assert.ok(await conn.closedByPeer(CLOSE_TIMEOUT_MS), `${c.name}: not closed after the end of the stream`);
        return { localPort: conn.localPort, loggedLines: 1 };
      case 'answer-or-close': {
        const answer = await conn.nextFrame(2000);
        const refused = answer === null && conn.peerClosed;
        conn.end();
        assert.ok(await conn.closedByPeer(CLOSE_TIMEOUT_MS), `${c.name}: not closed after the end of the stream`);
        return { localPort: conn.localPort, loggedLines: refused ? 1 : 0 };
      }
    }
  } finally {
    conn.destroy();
  }
}

/** Runs `work` over `items`, `parallel` at a time. */
async function inParallel<T, R>(items: T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
}

describe('bad frames against a broker process serving a steady client', { timeout: 300_000 }, () => {
  let temp: ReturnType<typeof tempDir>;
  let broker: BrokerProcess;
  let log: ReturnType<typeof collectLog>;
  /** Connection (client port) to the number of "closing connection" lines the broker owes it. */
  const owed = new Map<number, { name: string; lines: number }>();
  let stopped = false;

  before(async () => {
    temp = tempDir('bad-frames');
    broker = await startBrokerProcess(temp.dir, { 'socket.request.max.bytes': String(MAX_FRAME) });
    log = collectLog(broker.child);
  });

  after(async () => {
    if (broker && !stopped) await broker.stop();
    temp.cleanup();
  });

  test('ApiVersions in a version too new is answered in v0 with UNSUPPORTED_VERSION, on an open connection', async () => {
    const conn = await RawConnection.open(broker.port);
    try {
      const frame = withApi(encodeRequestFrame({ correlationId: 41, clientId: 'from-the-future' }, apis.ApiVersions.apiKey, 4, createApiVersionsRequest()), apis.ApiVersions.apiKey, 0x7fff);
      conn.send(frame);
      const answer = await conn.nextFrame(CLOSE_TIMEOUT_MS);
      assert.ok(answer, 'no response: the connection was closed or left silent');
      const { correlationId, body } = decodeResponseFrame(answer, apis.ApiVersions.apiKey, 0);
      assert.equal(correlationId, 41);
      const res = body as ApiVersionsResponse;
      assert.equal(res.errorCode, ErrorCode.UNSUPPORTED_VERSION);
      const own = res.apiKeys.find((k) => k.apiKey === apis.ApiVersions.apiKey);
      assert.ok(own && own.minVersion === 0 && own.maxVersion >= 3, `ApiVersions range ${JSON.stringify(own)}`);

      // The client retries in a version the broker has, on the same connection.
      const retry = await conn.request(apis.ApiVersions, 3, createApiVersionsRequest());
      assert.equal(retry.errorCode, ErrorCode.NONE);
      assert.equal(conn.peerClosed, false);
      owed.set(conn.localPort, { name: 'ApiVersions v32767', lines: 0 });
    } finally {
      conn.destroy();
    }
  });

  test('bad connections are closed while a client keeps producing and reading offsets without a loss', async (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`FUZZ_SEED=${seed}`);
    const cases = badCases(new Prng(seed));
    const client = new SteadyClient(broker.bootstrap);
    await client.start();
    try {
      await client.waitForAcks(200, 30_000);
      const taken = new Set(owed.keys());
      const played = await inParallel(cases, 8, (c) => play(broker.port, c, taken));
      played.forEach((p, i) => owed.set(p.localPort, { name: cases[i].name, lines: p.loggedLines }));
      assert.equal(owed.size, cases.length + 1, 'every connection had a port of its own');
      // Still serving, after all of that.
      await client.waitForAcks(client.acked.length + 200, 30_000);
    } finally {
      await client.stop();
    }
    assert.deepEqual(client.errors, []);
    assert.ok(client.offsetReads > 10, `only ${client.offsetReads} offset reads`);
    const answered = [...owed.values()].filter((o) => o.lines === 0).length - 1;
    t.diagnostic(`${cases.length} bad connections (${answered} corrupted frames still decoded and were answered); the client had ${client.acked.length} messages acknowledged, ${client.offsetReads} offset reads`);

    const stored = await readPartition(broker.port, STEADY_TOPIC);
    assert.deepEqual(
      stored.map((r) => r.value),
      client.acked,
    );
    assert.equal(broker.child.exitCode, null, 'the broker is still running');
  });

  test('the broker logged one line per bad connection, none for good ones, and stops cleanly', async () => {
    stopped = true;
    assert.equal(await broker.stop(), 0);
    await log.drained;
    const closing = new Map<string, LogLine[]>();
    for (const line of log.lines.filter((l) => l.msg === 'closing connection')) {
      closing.set(line.client ?? '?', [...(closing.get(line.client ?? '?') ?? []), line]);
    }
    const wrong = [...owed].flatMap(([port, { name, lines }]) => {
      const logged = closing.get(`127.0.0.1:${port}`) ?? [];
      return logged.length === lines ? [] : [`${name}: ${logged.length} lines (${logged.map((l) => l.reason).join(' | ')}), ${lines} expected`];
    });
    assert.deepEqual(wrong, []);
    const errors = log.lines.filter((l) => l.level >= 50);
    assert.deepEqual(errors, [], 'the broker logged errors');
  });
});
