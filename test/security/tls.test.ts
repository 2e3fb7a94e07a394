import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { connect, type ConnectionOptions } from 'node:tls';
import kafkajs from 'kafkajs';
import type { Broker } from '../../src/broker/broker.js';
import { describeBrokerConfigs } from '../../src/config/describe-configs.js';
import { securityProtocolOf } from '../../src/config/listeners.js';
import { buildBrokerConfig, ConfigError } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { transferStats } from '../../src/native/file-transfer.js';
import type { ConnectionInfo } from '../../src/network/connection.js';
import { certificatePrincipal } from '../../src/security/tls/principal.js';
import { makeTestCertificates, openssl, type TestCertificates } from '../support/certificates.js';
import { findNodeForPlatformatic, runPlatformaticScript } from '../support/platformatic-runner.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { confluentKafka, kafkaPython, kcat, PYTHON, skipUnlessPresent } from '../support/tools.js';

const skip = skipUnlessPresent(openssl, kcat, confluentKafka, kafkaPython);
const platformaticNode = findNodeForPlatformatic();
if (platformaticNode.path === null && process.env.CI) throw new Error(platformaticNode.reason);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the loop the in-process broker serves on. */
function run(command: string, args: string[], input?: string, timeout = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

const kcatTls = (bootstrap: string, ca: string, ...more: string[]): string[] => ['-b', bootstrap, '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${ca}`, ...more];

function bootstrapOf(broker: Broker, listener: string): string {
  const l = broker.listeners.find((b) => b.name === listener);
  assert.ok(l, `listener ${listener}`);
  return `127.0.0.1:${l.port}`;
}

/** The log lines the broker writes at a level while `work` runs, as [fields, message]. */
async function logged<T>(level: 'warn' | 'info', work: () => Promise<T>): Promise<{ result: T; lines: [Record<string, unknown>, string][] }> {
  const lines: [Record<string, unknown>, string][] = [];
  const spy = mock.method(log, level, function (this: unknown, ...args: unknown[]) {
    if (typeof args[0] === 'object' && typeof args[1] === 'string') lines.push([args[0] as Record<string, unknown>, args[1]]);
  });
  try {
    return { result: await work(), lines };
  } finally {
    spy.mock.restore();
  }
}

/** Whether a bare TLS handshake with the listener succeeds. */
function handshake(port: number, options: ConnectionOptions): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      socket.end();
      resolve(null);
    });
    socket.on('error', (e) => resolve(e.message));
  });
}

describe('TLS listeners', { skip }, () => {
  let certs: TestCertificates;
  let b: InProcessBroker;
  const principals: string[] = [];

  before(async () => {
    certs = makeTestCertificates(['alice']);
    b = await startTestBroker({
      listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0,REQUESTED://127.0.0.1:0,EXPIRED://127.0.0.1:0,UNTRUSTED://127.0.0.1:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,REQUESTED:SSL,EXPIRED:SSL,UNTRUSTED:SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.server.keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': certs.ca.cert,
      'listener.name.mtls.ssl.client.auth': 'required',
      'listener.name.requested.ssl.client.auth': 'requested',
      'listener.name.expired.ssl.keystore.location': certs.expiredServer.keystore,
      'listener.name.untrusted.ssl.keystore.location': certs.untrustedServer.keystore,
    });
    const handle = b.broker.router.handle.bind(b.broker.router);
    mock.method(b.broker.router, 'handle', (header: never, body: never, connection: ConnectionInfo) => {
      principals.push(`${connection.listenerName} ${connection.principal}`);
      return handle(header, body, connection);
    });
  });

  after(async () => {
    await b?.stop();
    certs?.remove();
  });

  test('several listeners at once: each has its security protocol, and Metadata names the listener asked on', async () => {
    const config = b.broker.config;
    assert.equal(securityProtocolOf(config, 'PLAINTEXT'), 'PLAINTEXT');
    assert.equal(securityProtocolOf(config, 'mtls'), 'SSL');
    const metadata = await run('kcat', [...kcatTls(bootstrapOf(b.broker, 'SSL'), certs.ca.cert), '-L', '-J']);
    assert.equal(metadata.code, 0, metadata.stderr);
    assert.deepEqual(
      (JSON.parse(metadata.stdout) as { brokers: { name: string }[] }).brokers.map((x) => x.name),
      [bootstrapOf(b.broker, 'SSL')],
    );
    const plain = await run('kcat', ['-b', bootstrapOf(b.broker, 'PLAINTEXT'), '-L', '-J']);
    assert.deepEqual(
      (JSON.parse(plain.stdout) as { brokers: { name: string }[] }).brokers.map((x) => x.name),
      [bootstrapOf(b.broker, 'PLAINTEXT')],
    );
  });

  test('kcat produces and consumes over SSL; fetches over TLS are copied through the process, not sent by sendfile', async () => {
    const bootstrap = bootstrapOf(b.broker, 'SSL');
    const produced = await run('kcat', [...kcatTls(bootstrap, certs.ca.cert), '-P', '-t', 'tls-kcat'], 'one\ntwo\nthree\n');
    assert.equal(produced.code, 0, produced.stderr);
    const before = { ...transferStats };
    const consumed = await run('kcat', [...kcatTls(bootstrap, certs.ca.cert), '-C', '-t', 'tls-kcat', '-o', 'beginning', '-e', '-q']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), ['one', 'two', 'three']);
    assert.ok(transferStats.copiedBytes > before.copiedBytes, 'the records went through the copying path');
    assert.equal(transferStats.sendfileBytes, before.sendfileBytes, 'nothing went out by sendfile');
  });

  for (const library of ['confluent', 'kafka-python'] as const) {
    test(`${library} produces and consumes over SSL`, async () => {
      const topic = `tls-${library}`;
      const r = await run(PYTHON, [join(import.meta.dirname, '../support/python/tls_roundtrip.py'), library, bootstrapOf(b.broker, 'SSL'), topic, '5', certs.ca.cert], undefined, 60_000);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), [0, 1, 2, 3, 4].map((i) => `${library} ${i}`));
    });
  }

  test('confluent-kafka with a client certificate on the ssl.client.auth=required listener: the principal is its subject', async () => {
    principals.length = 0;
    const alice = certs.clients.alice;
    const r = await run(PYTHON, [join(import.meta.dirname, '../support/python/tls_roundtrip.py'), 'confluent', bootstrapOf(b.broker, 'MTLS'), 'tls-mtls', '2', certs.ca.cert, alice.cert, alice.key], undefined, 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), ['confluent 0', 'confluent 1']);
    assert.ok(principals.length > 0);
    assert.deepEqual(new Set(principals), new Set(['MTLS User:CN=alice,OU=eng,O=acme']));
  });

  test('kafkajs produces and consumes over SSL, with a client certificate', async () => {
    const alice = certs.clients.alice;
    const kafka = new kafkajs.Kafka({
      brokers: [bootstrapOf(b.broker, 'MTLS')],
      ssl: { ca: [readFileSync(certs.ca.cert)], cert: readFileSync(alice.cert), key: readFileSync(alice.key) },
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'tls-kafkajs', messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'tls-kafkajs' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'tls-kafkajs', fromBeginning: true });
    const values: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value!.toString());
          if (values.length === 2) resolve();
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(values, ['a', 'b']);
  });

  test('@platformatic/kafka produces and consumes over SSL', { skip: platformaticNode.path === null && platformaticNode.reason }, async () => {
    const out = await runPlatformaticScript(platformaticNode.path!, 'platformatic-tls-child.mjs', [bootstrapOf(b.broker, 'SSL'), 'tls-platformatic', '3', JSON.stringify({ ca: certs.ca.cert })], (s) => s.end(), 60_000);
    assert.deepEqual(JSON.parse(out), ['pf 0', 'pf 1', 'pf 2']);
  });

  test('ssl.client.auth=required: a client without a certificate is refused, with one log line', async () => {
    const { result, lines } = await logged('warn', () => run('kcat', [...kcatTls(bootstrapOf(b.broker, 'MTLS'), certs.ca.cert), '-L', '-m', '3']));
    assert.notEqual(result.code, 0);
    const mine = lines.filter(([f]) => f.listener === 'MTLS');
    for (const [, message] of mine) assert.equal(message, 'TLS handshake failed');
    const reasons = mine.map(([f]) => String(f.reason));
    assert.ok(reasons.some((r) => /certificate/i.test(r)), JSON.stringify(reasons));
    // A connection an earlier test's client opened on this listener and left mid-handshake may
    // reach sluice.ssl.handshake.timeout.ms (10 s) now: logged the same way, as a timeout.
    for (const r of reasons) assert.match(r, /certificate|handshake timeout/i);
  });

  test('ssl.client.auth=requested: without a certificate a client is anonymous, with a trusted one it is its subject, with an untrusted one it is refused', async () => {
    const bootstrap = bootstrapOf(b.broker, 'REQUESTED');
    principals.length = 0;
    const anonymous = await run('kcat', [...kcatTls(bootstrap, certs.ca.cert), '-L']);
    assert.equal(anonymous.code, 0, anonymous.stderr);
    assert.deepEqual(new Set(principals), new Set(['REQUESTED User:ANONYMOUS']));
    principals.length = 0;
    const alice = certs.clients.alice;
    const known = await run('kcat', [...kcatTls(bootstrap, certs.ca.cert, '-X', `ssl.certificate.location=${alice.cert}`, '-X', `ssl.key.location=${alice.key}`), '-L']);
    assert.equal(known.code, 0, known.stderr);
    assert.deepEqual(new Set(principals), new Set(['REQUESTED User:CN=alice,OU=eng,O=acme']));
    principals.length = 0;
    const mallory = certs.issue('mallory', { issuer: certs.otherCa, subject: '/CN=mallory' });
    const { result, lines } = await logged('warn', () => run('kcat', [...kcatTls(bootstrap, certs.ca.cert, '-X', `ssl.certificate.location=${mallory.cert}`, '-X', `ssl.key.location=${mallory.key}`), '-L', '-m', '3']));
    assert.notEqual(result.code, 0);
    assert.deepEqual(principals, []);
    const mine = lines.filter(([f]) => f.listener === 'REQUESTED');
    assert.ok(mine.length > 0);
    for (const [fields, message] of mine) {
      assert.equal(message, 'TLS client certificate refused');
      assert.match(String(fields.reason), /^UNABLE_TO_VERIFY_LEAF_SIGNATURE$/);
    }
  });

  for (const listener of ['EXPIRED', 'UNTRUSTED']) {
    test(`an ${listener.toLowerCase()} server certificate: the client refuses it, and the broker logs one line per attempt`, async () => {
      const { result, lines } = await logged('warn', () => run('kcat', [...kcatTls(bootstrapOf(b.broker, listener), certs.ca.cert), '-L', '-m', '3']));
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /certificate verify failed/);
      const mine = lines.filter(([f]) => f.listener === listener);
      assert.ok(mine.length > 0);
      // librdkafka hangs up without an alert, so the broker can say that the handshake failed, not why.
      for (const [fields, message] of mine) {
        assert.equal(message, 'TLS handshake failed');
        assert.equal(typeof fields.reason, 'string');
      }
    });
  }

  test('plaintext Kafka bytes sent to a TLS listener are refused with one log line, and the broker goes on', async () => {
    const { result, lines } = await logged('warn', () => run('kcat', ['-b', bootstrapOf(b.broker, 'SSL'), '-L', '-m', '2']));
    assert.notEqual(result.code, 0);
    assert.ok(lines.some(([f, m]) => f.listener === 'SSL' && m === 'TLS handshake failed'));
    const ok = await run('kcat', [...kcatTls(bootstrapOf(b.broker, 'SSL'), certs.ca.cert), '-L']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test("a certificate's principal is Kafka's DEFAULT mapping: User: and the subject in RFC 2253 order", () => {
    assert.equal(certificatePrincipal(new X509Certificate(readFileSync(certs.clients.alice.cert))), 'User:CN=alice,OU=eng,O=acme');
    const odd = certs.issue('odd', { subject: '/C=FR/O=acme, inc./CN=bob+UID=42' });
    assert.equal(certificatePrincipal(new X509Certificate(readFileSync(odd.cert))), 'User:CN=bob+UID=42,O=acme\\, inc.,C=FR');
  });
});

/** A broker with one SSL listener on the test certificates' server key. */
const startSslBroker = (certs: TestCertificates, more: Record<string, string>): Promise<InProcessBroker> =>
  startTestBroker({ listeners: 'SSL://127.0.0.1:0', 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': certs.server.keystore, ...more });

test('a TLS connection past max.connections.per.ip is refused before its handshake, with the refusal as its only log line', { skip }, async () => {
  const certs = makeTestCertificates([]);
  const broker = await startSslBroker(certs, { 'max.connections.per.ip': '1' });
  const port = Number(broker.bootstrap.split(':').pop());
  const held = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(certs.ca.cert) });
  try {
    await new Promise<void>((resolve, reject) => {
      held.once('secureConnect', resolve);
      held.once('error', reject);
    });
    const { result, lines } = await logged('warn', async () => ({
      bare: await handshake(port, { ca: readFileSync(certs.ca.cert) }),
      kcat: await run('kcat', [...kcatTls(broker.bootstrap, certs.ca.cert), '-L', '-m', '3']),
    }));
    // The broker closed the socket without a ServerHello: the clients never saw its certificate.
    assert.match(String(result.bare), /disconnected before secure TLS connection|ECONNRESET|socket hang up/);
    assert.notEqual(result.kcat.code, 0);
    assert.deepEqual(
      new Set(lines.map(([, message]) => message.replace(/ from .*/, ''))),
      new Set(['connection refused']),
      'no "TLS handshake failed" beside the refusal',
    );
    held.destroy();
    // The slot frees once the held connection's close is seen.
    let after: Run | null = null;
    for (let attempt = 0; attempt < 20 && after?.code !== 0; attempt++) after = await run('kcat', [...kcatTls(broker.bootstrap, certs.ca.cert), '-L', '-m', '3']);
    assert.equal(after?.code, 0, after?.stderr);
  } finally {
    held.destroy();
    await broker.stop();
    certs.remove();
  }
});

test('TLS connections over max.connection.creation.rate wait before their handshake, and all get through', { skip }, async () => {
  const certs = makeTestCertificates([]);
  const broker = await startSslBroker(certs, { 'max.connection.creation.rate': '2', 'quota.window.num': '2', 'quota.window.size.seconds': '1' });
  const port = Number(broker.bootstrap.split(':').pop());
  const ca = readFileSync(certs.ca.cert);
  try {
    const started = Date.now();
    const secured = await Promise.all(
      Array.from({ length: 6 }, () =>
        handshake(port, { ca }).then((error) => {
          assert.equal(error, null);
          return Date.now() - started;
        }),
      ),
    );
    const metric = (await broker.broker.metrics.registry.getSingleMetric('sluice_throttle_time_ms_total')?.get()) as { values: { labels: Record<string, string>; value: number }[] };
    const throttledMs = metric.values.find((v) => v.labels.quota_type === 'connection_creation')?.value ?? 0;
    // Six at once against 2 a second: the last ones are held back by up to the two windows.
    assert.ok(throttledMs > 0, 'the listener throttled connections');
    assert.ok(Math.max(...secured) >= 400, `handshakes done after ${secured.join(', ')} ms`);
    const kcatAfter = await run('kcat', [...kcatTls(broker.bootstrap, certs.ca.cert), '-L']);
    assert.equal(kcatAfter.code, 0, kcatAfter.stderr);
  } finally {
    await broker.stop();
    certs.remove();
  }
});

describe('TLS key material', { skip }, () => {
  let certs: TestCertificates;
  before(() => {
    certs = makeTestCertificates([]);
  });
  after(() => certs?.remove());

  const tlsListener = (more: Record<string, string>): Record<string, string> => ({ listeners: 'SSL://127.0.0.1:0', 'ssl.keystore.type': 'PEM', ...more });

  test('a missing or unreadable PEM file stops the start with a one-line config error', async () => {
    await assert.rejects(startTestBroker(tlsListener({ 'ssl.keystore.location': join(certs.dir, 'nope.pem') })), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `listener SSL: ssl.keystore.location=${join(certs.dir, 'nope.pem')}: cannot be read (ENOENT)`);
      return true;
    });
    await assert.rejects(startTestBroker(tlsListener({ 'ssl.keystore.location': certs.ca.cert })), /listener SSL: ssl.keystore.location=.*: expected one PEM private key, found 0$/);
  });

  test('an encrypted private key needs ssl.key.password, and the right one', async () => {
    const keystore = join(certs.dir, 'encrypted.keystore.pem');
    writeFileSync(keystore, readFileSync(certs.serverEncryptedKey, 'utf8') + readFileSync(certs.server.cert, 'utf8'));
    await assert.rejects(startTestBroker(tlsListener({ 'ssl.keystore.location': keystore })), /the private key is encrypted: set ssl.key.password$/);
    await assert.rejects(startTestBroker(tlsListener({ 'ssl.keystore.location': keystore, 'ssl.key.password': 'wrong' })), /wrong ssl.key.password/);
    const b = await startTestBroker(tlsListener({ 'ssl.keystore.location': keystore, 'ssl.key.password': certs.serverKeyPassword }));
    try {
      assert.equal(await handshake(b.broker.listeners[0].port, { ca: readFileSync(certs.ca.cert) }), null);
    } finally {
      await b.stop();
    }
  });

  test('inline PEM (ssl.keystore.key, ssl.keystore.certificate.chain), line breaks lost to a properties file continuation', async () => {
    const flat = (file: string): string => readFileSync(file, 'utf8').replace(/\n/g, '');
    const b = await startTestBroker(tlsListener({ 'ssl.keystore.key': flat(certs.server.key), 'ssl.keystore.certificate.chain': flat(certs.server.cert) }));
    try {
      assert.equal(await handshake(b.broker.listeners[0].port, { ca: readFileSync(certs.ca.cert) }), null);
    } finally {
      await b.stop();
    }
  });

  test('certificates are reloaded without a restart: new connections get the new one, open ones go on', async () => {
    const keystore = join(certs.dir, 'reloading.keystore.pem');
    copyFileSync(certs.server.keystore, keystore);
    const b = await startTestBroker({ ...tlsListener({ 'ssl.keystore.location': keystore }), 'sluice.ssl.reload.check.interval.ms': '100' });
    try {
      const port = b.broker.listeners[0].port;
      const kafka = new kafkajs.Kafka({ brokers: [`127.0.0.1:${port}`], ssl: { ca: [readFileSync(certs.ca.cert)] }, logLevel: kafkajs.logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'reload', messages: [{ value: 'before' }] });
      assert.match((await handshake(port, { ca: readFileSync(certs.otherCa.cert) })) ?? '', /self.signed|unable to (get|verify)/);

      const renewed = certs.issue('renewed', { issuer: certs.otherCa, subject: '/CN=localhost', server: true });
      // Written aside and renamed in, as certificate tooling does.
      copyFileSync(renewed.keystore, `${keystore}.new`);
      const { lines } = await logged('info', async () => {
        renameSync(`${keystore}.new`, keystore);
        while ((await handshake(port, { ca: readFileSync(certs.otherCa.cert) })) !== null) await new Promise((r) => setTimeout(r, 50));
      });
      assert.ok(lines.some(([, m]) => m === 'TLS key material reloaded'));
      assert.match((await handshake(port, { ca: readFileSync(certs.ca.cert) })) ?? '', /self.signed|unable to (get|verify)/);
      await producer.send({ topic: 'reload', messages: [{ value: 'after' }] });
      await producer.disconnect();

      // A broken file keeps the material in use, said once.
      const { lines: errors } = await logged('warn', async () => {
        const spy = mock.method(log, 'error');
        try {
          writeFileSync(keystore, 'not a PEM file');
          while (spy.mock.callCount() === 0) await new Promise((r) => setTimeout(r, 50));
          assert.match(String((spy.mock.calls[0].arguments[0] as { problem: string }).problem), /expected one PEM private key, found 0/);
        } finally {
          spy.mock.restore();
        }
      });
      assert.deepEqual(errors, []);
      assert.equal(await handshake(port, { ca: readFileSync(certs.otherCa.cert) }), null);
    } finally {
      await b.stop();
    }
  });
});

describe('listener security config', () => {
  test('listener.security.protocol.map: Kafka\'s default, custom names, and listeners it does not name', () => {
    const plain = buildBrokerConfig(new Map([['listeners', 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0']]));
    assert.deepEqual([...plain.listenerSecurityProtocols], [['PLAINTEXT', 'PLAINTEXT'], ['SASL_PLAINTEXT', 'SASL_PLAINTEXT']]);
    const custom = buildBrokerConfig(
      new Map([
        ['listeners', 'INTERNAL://127.0.0.1:0,EXTERNAL://0.0.0.0:0'],
        ['listener.security.protocol.map', 'internal:plaintext,EXTERNAL:SASL_SSL'],
        ['ssl.keystore.type', 'PEM'],
        ['ssl.keystore.location', '/etc/sluice/server.pem'],
        ['inter.broker.listener.name', 'INTERNAL'],
      ]),
    );
    assert.equal(securityProtocolOf(custom, 'INTERNAL'), 'PLAINTEXT');
    assert.equal(securityProtocolOf(custom, 'external'), 'SASL_SSL');
    assert.deepEqual([...custom.tlsListeners.keys()], ['EXTERNAL']);
    assert.throws(() => buildBrokerConfig(new Map([['listeners', 'INTERNAL://127.0.0.1:0']])), /listener name INTERNAL has no security protocol: add INTERNAL:PLAINTEXT/);
    assert.throws(() => buildBrokerConfig(new Map([['listener.security.protocol.map', 'PLAINTEXT:TLS']])), /unknown security protocol TLS/);
  });

  test('a TLS listener without PEM key material, or a client auth without CAs, is a config error', () => {
    assert.throws(() => buildBrokerConfig(new Map([['listeners', 'SSL://127.0.0.1:0']])), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems, [
        'listener SSL (TLS): ssl.keystore.type is JKS: set ssl.keystore.type=PEM (Sluice reads PEM key stores only)',
        'listener SSL (TLS): no private key and certificate: set ssl.keystore.location (a PEM file) or ssl.keystore.key and ssl.keystore.certificate.chain',
      ]);
      return true;
    });
    assert.throws(
      () => buildBrokerConfig(new Map([['listeners', 'SSL://127.0.0.1:0'], ['ssl.keystore.type', 'PKCS12'], ['ssl.keystore.location', '/k.p12']])),
      /: listener SSL \(TLS\): ssl.keystore.type is PKCS12: set ssl.keystore.type=PEM \(Sluice reads PEM key stores only\)$/,
    );
    assert.throws(
      () => buildBrokerConfig(new Map([['listeners', 'SSL://127.0.0.1:0'], ['ssl.keystore.type', 'PEM'], ['ssl.keystore.location', '/k.pem'], ['listener.name.ssl.ssl.client.auth', 'required']])),
      /ssl.client.auth=required needs the CAs client certificates chain to/,
    );
    assert.throws(() => buildBrokerConfig(new Map([['listener.name.other.ssl.client.auth', 'required']])), /listener.name.other.ssl.client.auth: there is no listener named OTHER/);
  });

  test('inter.broker.listener.name must name a PLAINTEXT listener', () => {
    assert.throws(
      () =>
        buildBrokerConfig(
          new Map([
            ['listeners', 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0'],
            ['ssl.keystore.type', 'PEM'],
            ['ssl.keystore.location', '/k.pem'],
            ['inter.broker.listener.name', 'SSL'],
          ]),
        ),
      /inter.broker.listener.name=SSL: its security protocol is SSL, and brokers talk to each other over PLAINTEXT only/,
    );
  });

  test('DescribeConfigs never shows ssl.* secrets', () => {
    const config = buildBrokerConfig(new Map([['ssl.key.password', 'hunter2'], ['ssl.keystore.location', '/k.pem']]));
    const described = describeBrokerConfigs(config, { keys: ['ssl.key.password', 'ssl.keystore.location'] });
    assert.deepEqual(
      described.map((c) => [c.name, c.value, c.isSensitive, c.synonyms.map((s) => s.value)]),
      [
        ['ssl.key.password', null, true, [null]],
        ['ssl.keystore.location', '/k.pem', false, ['/k.pem']],
      ],
    );
  });
});
