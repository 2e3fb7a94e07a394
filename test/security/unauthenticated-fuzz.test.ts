import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import type { ApiEntry } from '../../src/protocol/api-entry.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { encodeRequestFrame } from '../../src/protocol/headers.js';
import { fuzzSeed, mutate, Prng } from '../support/fuzz.js';
import { startBrokerProcess, type BrokerProcess } from '../support/test-broker.js';

/**
 * Frames from clients that never logged in, sent at a SASL listener: every API in every
 * version, valid or mutated, before the handshake, after a v1 or v0 handshake, and in the middle
 * of a SCRAM exchange. The broker (a child process, so a crash is an exit) must answer or close
 * each connection, keep serving, and show no effect of any of them: no topic, record, group or
 * credential appears. SLUICE_FUZZ_FRAMES sets how many connections (one fuzzed frame each,
 * after its prefix); the million is `SLUICE_FUZZ_FRAMES=1000000`.
 */

const FRAMES = Number(process.env.SLUICE_FUZZ_FRAMES ?? 20_000);
const IN_FLIGHT = 64;
/** A connection the broker neither answered nor closed by then is counted as hung. */
const SETTLE_MS = 5000;
const SEED = fuzzSeed();
const USERS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";';
const VICTIM = 'fuzz-victim';

const API_LIST = Object.values(apis) as unknown as ApiEntry<unknown, unknown>[];
const HEADER = { correlationId: 7, clientId: 'fuzz' };
const frame = (apiKey: number, version: number, body: unknown): Buffer => encodeRequestFrame(HEADER, apiKey, version, body);
const bareToken = (token: string): Buffer => {
  const out = Buffer.alloc(4 + token.length);
  out.writeInt32BE(token.length, 0);
  out.write(token, 4);
  return out;
};

/** What a connection sends before its fuzzed frame: each state the authenticator can be in. */
const PREFIXES: Buffer[] = [
  Buffer.alloc(0),
  frame(apis.ApiVersions.apiKey, 3, { ...apis.ApiVersions.request.create(), clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' }),
  frame(apis.SaslHandshake.apiKey, 1, { mechanism: 'PLAIN' }),
  frame(apis.SaslHandshake.apiKey, 0, { mechanism: 'PLAIN' }),
  Buffer.concat([frame(apis.SaslHandshake.apiKey, 1, { mechanism: 'SCRAM-SHA-256' }), frame(apis.SaslAuthenticate.apiKey, 2, { authBytes: Buffer.from('n,,n=admin,r=fuzznonce') })]),
];

/** Every API at every version with default fields, plus login attempts that must fail. */
function seeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const api of API_LIST) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      try {
        out.push(frame(api.apiKey, v, api.request.create()));
      } catch {
        // Some versions cannot carry a default message (a field only later versions allow null).
      }
    }
  }
  out.push(frame(apis.SaslAuthenticate.apiKey, 2, { authBytes: Buffer.from('\u0000admin\u0000wrong') }));
  out.push(frame(apis.SaslAuthenticate.apiKey, 0, { authBytes: Buffer.from('\u0000admin\u0000') }));
  out.push(bareToken('\u0000admin\u0000wrong'));
  out.push(bareToken('c=biws,r=fuzznonce,p=AAAA'));
  return out;
}

/** Sends prefix + frame on a new connection; resolves once the broker closed it or SETTLE_MS passed with it open. */
function attempt(port: number, bytes: Buffer): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('open');
    }, SETTLE_MS);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve('closed');
    };
    socket.on('error', done);
    socket.on('close', done);
    socket.on('end', done);
    socket.on('data', () => {});
    socket.on('connect', () => {
      socket.write(bytes);
      // Nothing more comes: a frame cut short by a mutation waits for bytes that never arrive.
      socket.end();
    });
  });
}

let dir: string;
let broker: BrokerProcess;
let kafka: kafkajs.Kafka;

async function state(): Promise<{ topics: string[]; victimEnd: string; groups: string[] }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
    const [offsets] = await admin.fetchTopicOffsets(VICTIM);
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
    return { topics, victimEnd: offsets.high, groups };
  } finally {
    await admin.disconnect();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-unauth-fuzz-'));
  broker = await startBrokerProcess(dir, {
    listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': USERS,
    'auto.create.topics.enable': 'true',
  });
  kafka = new kafkajs.Kafka({ brokers: [broker.bootstrap], sasl: { mechanism: 'plain', username: 'admin', password: 'admin-secret' }, logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: VICTIM }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: VICTIM, messages: [{ value: 'before' }] });
  await producer.disconnect();
});

after(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test(`${FRAMES} fuzzed frames from connections that never logged in: no crash, no effect, every connection ended`, { timeout: 60_000 + FRAMES * 5 }, async (t) => {
  t.diagnostic(`seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
  const before = await state();
  const rng = new Prng(SEED);
  const pool = seeds();
  let sent = 0;
  const outcomes = { closed: 0, open: 0 };
  const worker = async (): Promise<void> => {
    while (sent < FRAMES) {
      sent++;
      const seed = rng.pick(pool);
      const fuzzed = rng.chance(0.2) ? seed : mutate(rng, seed);
      outcomes[await attempt(broker.port, Buffer.concat([rng.pick(PREFIXES), fuzzed]))]++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  t.diagnostic(`connections closed by the broker: ${outcomes.closed}, still open after ${SETTLE_MS} ms: ${outcomes.open}`);
  assert.equal(broker.child.exitCode, null, 'the broker is still running');
  assert.equal(outcomes.open, 0, 'every unauthenticated connection was answered and closed, none left hanging');
  assert.deepEqual(await state(), before, 'no topic, record or group came from an unauthenticated frame');
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: VICTIM, messages: [{ value: 'after' }] });
  await producer.disconnect();
  assert.equal(Number((await state()).victimEnd), Number(before.victimEnd) + 1, 'a logged-in client still produces');
});
