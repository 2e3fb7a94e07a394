import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, mock, test } from 'node:test';
import kafkajs from 'kafkajs';
import type { Broker } from '../../src/broker/broker.js';
import { BrokerConnection } from '../../src/client/connection.js';
import { authenticate } from '../../src/client/sasl.js';
import { SaslSession } from '../../src/security/sasl/session.js';
import { log } from '../../src/log.js';
import { encodeRequestFrame } from '../../src/protocol/headers.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { makeTestCertificates, openssl, type TestCertificates } from '../support/certificates.js';
import { findNodeForPlatformatic, runPlatformaticScript } from '../support/platformatic-runner.js';
import { RawConnection } from '../support/raw-connection.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { confluentKafka, kafkaPython, kcat, librdkafkaClient, PYTHON, skipUnlessPresent } from '../support/tools.js';
import { sluice } from '../cli/sluice-cli.js';

const skip = skipUnlessPresent(openssl, kcat, confluentKafka, kafkaPython);
const platformaticNode = findNodeForPlatformatic();
if (platformaticNode.path === null && process.env.CI) throw new Error(platformaticNode.reason);

const LIBRDKAFKA_SASL_CHILD = fileURLToPath(new URL('../support/librdkafka-sasl-child.mjs', import.meta.url));

const PLAIN_USERS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the loop the in-process broker serves on. */
function run(command: string, args: string[], timeout = 30_000, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}

function portOf(broker: Broker, listener: string): number {
  const l = broker.listeners.find((x) => x.name === listener);
  assert.ok(l, `listener ${listener}`);
  return l.port;
}

const bootstrapOf = (broker: Broker, listener: string): string => `127.0.0.1:${portOf(broker, listener)}`;

const kcatSasl = (bootstrap: string, mechanism: string, user: string, password: string, ...more: string[]): string[] => [
  '-b',
  bootstrap,
  '-X',
  'security.protocol=SASL_PLAINTEXT',
  '-X',
  `sasl.mechanisms=${mechanism}`,
  '-X',
  `sasl.username=${user}`,
  '-X',
  `sasl.password=${password}`,
  ...more,
];

/** The "closing connection" lines the broker logs while `work` runs, by connection id. */
async function closings<T>(work: () => Promise<T>): Promise<{ result: T; reasons: Map<number, string[]> }> {
  const reasons = new Map<number, string[]>();
  const spy = mock.method(log, 'info', function (this: unknown, ...args: unknown[]) {
    const fields = args[0] as { connection?: number; reason?: string };
    if (args[1] === 'closing connection' && fields.connection !== undefined) reasons.set(fields.connection, [...(reasons.get(fields.connection) ?? []), String(fields.reason)]);
  });
  try {
    return { result: await work(), reasons };
  } finally {
    spy.mock.restore();
  }
}

/** Every connection closed during `work` was closed once, for a reason matching `pattern`; returns how many. */
function assertOneLineEach(reasons: Map<number, string[]>, pattern: RegExp): number {
  assert.ok(reasons.size > 0, 'the broker logged the refusal');
  for (const [id, lines] of reasons) {
    assert.equal(lines.length, 1, `connection ${id}: ${lines.join(' | ')}`);
    assert.match(lines[0], pattern);
  }
  return reasons.size;
}

/**
 * SaslHandshakes by connection while `work` runs (two or more on one connection: it logged in
 * again), and the connections closed for an expired session.
 */
async function reauthentications<T>(work: () => Promise<T>): Promise<{ result: T; handshakes: Map<number, number>; closed: string[] }> {
  const handshakes = new Map<number, number>();
  const handshake = SaslSession.prototype.handshake;
  const spy = mock.method(SaslSession.prototype, 'handshake', function (this: SaslSession, ...args: Parameters<SaslSession['handshake']>) {
    const id = (this as unknown as { connection: { id: number } }).connection.id;
    handshakes.set(id, (handshakes.get(id) ?? 0) + 1);
    return handshake.apply(this, args);
  });
  try {
    const { result, reasons } = await closings(work);
    return { result, handshakes, closed: [...reasons.values()].flat().filter((r) => r.includes('expired')) };
  } finally {
    spy.mock.restore();
  }
}

/** A counter's value summed over the series with these labels. */
async function metric(broker: Broker, name: string, labels: Record<string, string>): Promise<number> {
  const m = broker.metrics.registry.getSingleMetric(name);
  assert.ok(m, name);
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

describe('SASL listeners', { skip }, () => {
  let certs: TestCertificates;
  let b: InProcessBroker;
  let dir: string;
  let commandConfig: string;

  before(async () => {
    certs = makeTestCertificates([]);
    dir = mkdtempSync(join(tmpdir(), 'sluice-sasl-'));
    b = await startTestBroker({
      listeners: 'SASL_PLAINTEXT://127.0.0.1:0,PLAINONLY://127.0.0.1:0,REAUTH://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
      'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT,PLAINONLY:SASL_PLAINTEXT,REAUTH:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': PLAIN_USERS,
      'listener.name.plainonly.plain.sasl.jaas.config': PLAIN_USERS,
      'listener.name.plainonly.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.reauth.plain.sasl.jaas.config': PLAIN_USERS,
      'listener.name.reauth.connections.max.reauth.ms': '1500',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.server.keystore,
    });
    commandConfig = join(dir, 'admin.properties');
    writeFileSync(commandConfig, `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=${PLAIN_USERS.replace(/ user_.*;$/, ';')}\n`);
    const bootstrap = bootstrapOf(b.broker, 'SASL_PLAINTEXT');
    for (const [user, mechanism, password] of [
      ['alice', 'SCRAM-SHA-256', 'alice-scram'],
      ['bob', 'SCRAM-SHA-512', 'bob-scram'],
    ]) {
      const set = await sluice(['user', 'scram', 'set', '-b', bootstrap, '--command-config', commandConfig, '--user', user, '--mechanism', mechanism, '--password', password, '--iterations', '8192']);
      assert.equal(set.code, 0, set.stderr);
    }
  });

  after(async () => {
    await b?.stop();
    certs?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the CLI authenticates with --command-config and lists the SCRAM users it set', async () => {
    const listed = await sluice(['user', 'scram', 'list', '-b', bootstrapOf(b.broker, 'SASL_PLAINTEXT'), '--command-config', commandConfig]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /alice\s+SCRAM-SHA-256:iterations=8192/);
    assert.match(listed.stdout, /bob\s+SCRAM-SHA-512:iterations=8192/);
    const anonymous = await sluice(['user', 'scram', 'list', '-b', bootstrapOf(b.broker, 'SASL_PLAINTEXT')]);
    assert.equal(anonymous.code, 1, 'without a login the broker hangs up');
  });

  test('kcat: PLAIN from the JAAS users, SCRAM-SHA-256 and SCRAM-SHA-512 from the stored credentials', async () => {
    const bootstrap = bootstrapOf(b.broker, 'SASL_PLAINTEXT');
    const produced = await run('kcat', [...kcatSasl(bootstrap, 'SCRAM-SHA-256', 'alice', 'alice-scram'), '-P', '-t', 'sasl-kcat'], 30_000, 'one\ntwo\n');
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await run('kcat', [...kcatSasl(bootstrap, 'SCRAM-SHA-512', 'bob', 'bob-scram'), '-C', '-t', 'sasl-kcat', '-e', '-f', '%s\n']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), ['one', 'two']);
    const plain = await run('kcat', [...kcatSasl(bootstrap, 'PLAIN', 'alice', 'alice-secret'), '-L', '-t', 'sasl-kcat']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /topic "sasl-kcat" with 1 partitions/);
  });

  test('kcat: a wrong password or an unknown user gets Kafka\'s message, and the broker logs one line per connection', async () => {
    const bootstrap = bootstrapOf(b.broker, 'SASL_PLAINTEXT');
    const cases: [string, string, string, RegExp][] = [
      ['SCRAM-SHA-256', 'alice', 'wrong', /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256/],
      ['SCRAM-SHA-512', 'nobody', 'x', /Authentication failed: Invalid user credentials/],
      ['PLAIN', 'alice', 'wrong', /Authentication failed: Invalid username or password/],
    ];
    for (const [mechanism, user, password, expected] of cases) {
      const before = await metric(b.broker, 'sluice_authentication_failures_total', { listener: 'SASL_PLAINTEXT', mechanism });
      const { result, reasons } = await closings(() => run('kcat', [...kcatSasl(bootstrap, mechanism, user, password), '-L', '-m', '2']));
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, expected);
      const failures = assertOneLineEach(reasons, /^SASL authentication failed: /);
      assert.ok((await metric(b.broker, 'sluice_authentication_failures_total', { listener: 'SASL_PLAINTEXT', mechanism })) >= before + failures);
    }
  });

  test('kcat: a mechanism the listener does not offer is UNSUPPORTED_SASL_MECHANISM with the enabled list', async () => {
    const { result, reasons } = await closings(() => run('kcat', [...kcatSasl(bootstrapOf(b.broker, 'PLAINONLY'), 'SCRAM-SHA-256', 'alice', 'alice-scram'), '-L', '-m', '2']));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /SASL SCRAM-SHA-256 mechanism handshake failed: Broker: Unsupported SASL mechanism: broker's supported mechanisms: PLAIN/);
    assertOneLineEach(reasons, /SASL mechanism "SCRAM-SHA-256" is not enabled \(PLAIN\)/);
  });

  test('kafkajs: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; a wrong password and an unknown mechanism get their Kafka errors', async () => {
    const client = (listener: string, sasl: kafkajs.SASLOptions) =>
      new kafkajs.Kafka({ brokers: [bootstrapOf(b.broker, listener)], sasl, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 } });
    const logins: kafkajs.SASLOptions[] = [
      { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
      { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-scram' },
      { mechanism: 'scram-sha-512', username: 'bob', password: 'bob-scram' },
    ];
    for (const sasl of logins) {
      const producer = client('SASL_PLAINTEXT', sasl).producer({ allowAutoTopicCreation: true });
      await producer.connect();
      await producer.send({ topic: 'sasl-kafkajs', messages: [{ value: sasl.mechanism }] });
      await producer.disconnect();
    }
    const wrong = client('SASL_PLAINTEXT', { mechanism: 'scram-sha-256', username: 'alice', password: 'nope' }).admin();
    await assert.rejects(wrong.connect(), (e: Error) => {
      assert.equal(e.name, 'KafkaJSSASLAuthenticationError');
      assert.match(e.message, /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256/);
      return true;
    });
    const unsupported = client('PLAINONLY', { mechanism: 'scram-sha-512', username: 'bob', password: 'bob-scram' }).admin();
    await assert.rejects(unsupported.connect(), (e: Error & { type?: string }) => {
      assert.equal(e.type, 'UNSUPPORTED_SASL_MECHANISM');
      return true;
    });
  });

  test('confluent-kafka (librdkafka) and kafka-python (SaslHandshake v0 with bare tokens) log in with SCRAM and PLAIN', async () => {
    const bootstrap = bootstrapOf(b.broker, 'SASL_PLAINTEXT');
    const confluent = `
import sys
from confluent_kafka import Producer
def produce(mechanism, user, password):
    errors = []
    p = Producer({'bootstrap.servers': sys.argv[1], 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': mechanism,
                  'sasl.username': user, 'sasl.password': password, 'message.timeout.ms': 5000, 'error_cb': lambda e: errors.append(e.str())})
    delivered = []
    p.produce('sasl-python', b'confluent ' + mechanism.encode(), on_delivery=lambda err, msg: delivered.append(err is None))
    p.flush(10)
    return delivered == [True], errors
print(produce('SCRAM-SHA-512', 'bob', 'bob-scram')[0])
ok, errors = produce('SCRAM-SHA-512', 'bob', 'wrong')
print(ok, any('invalid credentials with SASL mechanism SCRAM-SHA-512' in e for e in errors))
`;
    const c = await run(PYTHON, ['-c', confluent, bootstrap], 60_000);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(c.stdout.trim().split('\n'), ['True', 'False True']);

    const kafkaPythonScript = `
import sys
from kafka import KafkaProducer
from kafka.errors import KafkaError
for mechanism, user, password in [('PLAIN', 'alice', 'alice-secret'), ('SCRAM-SHA-256', 'alice', 'alice-scram')]:
    p = KafkaProducer(bootstrap_servers=sys.argv[1], security_protocol='SASL_PLAINTEXT', sasl_mechanism=mechanism,
                      sasl_plain_username=user, sasl_plain_password=password, api_version=(2, 5, 0))
    p.send('sasl-python', b'kafka-python ' + mechanism.encode()).get(timeout=10)
    p.close()
    print(mechanism, 'sent')
p = KafkaProducer(bootstrap_servers=sys.argv[1], security_protocol='SASL_PLAINTEXT', sasl_mechanism='PLAIN',
                  sasl_plain_username='alice', sasl_plain_password='wrong', api_version=(2, 5, 0), max_block_ms=3000)
try:
    p.send('sasl-python', b'refused').get(timeout=3)
    print('no error')
except KafkaError:
    print('refused')
p.close(timeout=1)
`;
    const { result: k, reasons } = await closings(() => run(PYTHON, ['-c', kafkaPythonScript, bootstrap], 60_000));
    assert.equal(k.code, 0, k.stderr);
    assert.deepEqual(k.stdout.trim().split('\n'), ['PLAIN sent', 'SCRAM-SHA-256 sent', 'refused']);
    const refused = [...reasons.values()].flat().filter((r) => r.startsWith('SASL'));
    assert.ok(refused.length > 0 && refused.every((r) => r === 'SASL authentication failed: PLAIN: wrong password for user "alice"'), refused.join(' | '));

    const consumed = await run('kcat', [...kcatSasl(bootstrap, 'PLAIN', 'admin', 'admin-secret'), '-C', '-t', 'sasl-python', '-e', '-f', '%s\n']);
    assert.deepEqual(consumed.stdout.trim().split('\n').sort(), ['confluent SCRAM-SHA-512', 'kafka-python PLAIN', 'kafka-python SCRAM-SHA-256']);
  });

  test('@platformatic/kafka: SCRAM-SHA-256 logs in, a wrong password is refused', { skip: platformaticNode.path === null ? platformaticNode.reason : false }, async () => {
    const go = async (password: string) =>
      JSON.parse(
        await runPlatformaticScript(platformaticNode.path!, 'platformatic-sasl-child.mjs', [bootstrapOf(b.broker, 'SASL_PLAINTEXT'), 'sasl-platformatic', JSON.stringify({ mechanism: 'SCRAM-SHA-256', username: 'alice', password })], (s) => s.end(), 60_000),
      ) as { ok?: boolean; error?: string };
    assert.deepEqual(await go('alice-scram'), { ok: true });
    const refused = await go('wrong');
    assert.match(refused.error ?? '', /invalid credentials with SASL mechanism SCRAM-SHA-256/);
  });

  test('before authenticating, a client may send only ApiVersions and SaslHandshake: anything else closes the connection', async () => {
    const port = portOf(b.broker, 'SASL_PLAINTEXT');
    const { reasons } = await closings(async () => {
      const raw = await RawConnection.open(port);
      const versions = await raw.request(apis.ApiVersions, 3, { ...apis.ApiVersions.request.create(), clientSoftwareName: 'test', clientSoftwareVersion: '1' });
      assert.equal(versions.errorCode, 0);
      raw.send(encodeRequestFrame({ correlationId: 9, clientId: 'test' }, apis.Metadata.apiKey, 12, { ...apis.Metadata.request.create(), topics: null }));
      assert.equal(await raw.closedByPeer(10_000), true);
      // A token larger than sasl.server.max.receive.size is not read either.
      const big = await RawConnection.open(port);
      await big.request(apis.SaslHandshake, 1, { mechanism: 'PLAIN' });
      big.send(encodeRequestFrame({ correlationId: 2, clientId: 'test' }, apis.SaslAuthenticate.apiKey, 2, { authBytes: Buffer.alloc(600_000) }));
      assert.equal(await big.closedByPeer(10_000), true);
    });
    const lines = [...reasons.values()].map((r) => r.join(' | ')).sort();
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^frame of \d+ bytes refused \(sasl.server.max.receive.size is 524288\)$/);
    assert.equal(lines[1], 'unexpected Metadata request before SASL authentication');
  });

  test('connections.max.reauth.ms: the session lifetime is told, re-authentication works, and an expired session is closed at its next request', async () => {
    const port = portOf(b.broker, 'REAUTH');
    const conn = await BrokerConnection.open('127.0.0.1', port, 'reauth-test');
    const login = { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' };
    const lifetimes: bigint[] = [];
    const send = conn.send.bind(conn);
    mock.method(conn, 'send', async (...args: Parameters<typeof conn.send>) => {
      const res = await send(...args);
      if (args[0] === 'SaslAuthenticate') lifetimes.push((res as { sessionLifetimeMs: bigint }).sessionLifetimeMs);
      return res;
    });
    await authenticate(conn, login);
    await conn.send('Metadata', { ...apis.Metadata.request.create(), topics: [] });
    await authenticate(conn, login);
    assert.deepEqual(lifetimes, [1500n, 1500n]);
    await conn.send('Metadata', { ...apis.Metadata.request.create(), topics: [] });
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const { reasons } = await closings(() => assert.rejects(conn.send('Metadata', { ...apis.Metadata.request.create(), topics: [] })));
    assert.deepEqual([...reasons.values()], [['the SASL session expired (connections.max.reauth.ms) without re-authentication']]);

    // kafkajs re-authenticates on its own before the session ends (KIP-368).
    const kafka = new kafkajs.Kafka({
      brokers: [bootstrapOf(b.broker, 'REAUTH')],
      sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
      reauthenticationThreshold: 1000,
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const { handshakes, closed } = await reauthentications(async () => {
      await admin.connect();
      for (let i = 0; i < 4; i++) {
        await admin.fetchTopicMetadata({ topics: [] });
        await new Promise((resolve) => setTimeout(resolve, 700));
      }
      await admin.disconnect();
    });
    assert.ok(Math.max(...handshakes.values()) >= 2, 'a connection logged in again');
    assert.deepEqual(closed, []);
    assert.ok((await metric(b.broker, 'sluice_authentication_successes_total', { listener: 'REAUTH', mechanism: 'PLAIN' })) >= 4, 'logins and re-logins are counted');
  });

  test('librdkafka 2.15 re-authenticates with SCRAM before its session ends', { skip: skipUnlessPresent(librdkafkaClient) }, async () => {
    const sasl = JSON.stringify({ mechanism: 'scram-sha-256', username: 'alice', password: 'alice-scram' });
    const { result, handshakes, closed } = await reauthentications(() => run(process.execPath, [LIBRDKAFKA_SASL_CHILD, bootstrapOf(b.broker, 'REAUTH'), 'sasl-reauth', '6', '600', sasl], 60_000));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { delivered: 6 });
    assert.ok(Math.max(...handshakes.values()) >= 2, 'a connection logged in again');
    assert.deepEqual(closed, []);
  });

  test('SASL_SSL: kcat and the CLI log in with SCRAM over TLS', async () => {
    const bootstrap = bootstrapOf(b.broker, 'SASL_SSL');
    const r = await run('kcat', ['-b', bootstrap, '-X', 'security.protocol=SASL_SSL', '-X', `ssl.ca.location=${certs.ca.cert}`, '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', 'sasl.username=bob', '-X', 'sasl.password=bob-scram', '-L']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sasl_ssl:\/\//);
    const config = join(dir, 'ssl.properties');
    writeFileSync(config, `security.protocol=SASL_SSL\nssl.ca.location=${certs.ca.cert}\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=alice\nsasl.password=alice-scram\n`);
    const described = await sluice(['user', 'scram', 'describe', 'alice', '-b', bootstrap, '--command-config', config]);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /alice\s+SCRAM-SHA-256:iterations=8192/);
  });
});
