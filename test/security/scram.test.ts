import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdProcess } from '../../src/cli/etcd-process.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { BrokerConnection } from '../../src/client/connection.js';
import { authenticate } from '../../src/client/sasl.js';
import { describeBrokerConfigs } from '../../src/config/describe-configs.js';
import { buildBrokerConfig, ConfigError } from '../../src/config/load-config.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { AuthenticationFailure } from '../../src/security/sasl/exchange.js';
import { parseJaasConfig } from '../../src/security/sasl/jaas.js';
import { credentialOf, saltPassword, scramMechanismNamed } from '../../src/security/scram/mechanisms.js';
import { ScramServerExchange } from '../../src/security/scram/server.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { etcd, skipUnlessPresent } from '../support/tools.js';

const SHA256 = scramMechanismNamed('SCRAM-SHA-256')!;
const SHA512 = scramMechanismNamed('SCRAM-SHA-512')!;

test('SCRAM-SHA-256 server: RFC 7677 section 3, word for word', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const credential = credentialOf(SHA256, salt, saltPassword(SHA256, 'pencil', salt, 4096), 4096);
  const server = new ScramServerExchange(SHA256, (user) => (user === 'user' ? credential : undefined), 'authentication', () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  const first = server.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  assert.equal(first.response.toString(), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  assert.equal(first.user, null);
  const final = server.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
  assert.equal(final.response.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  assert.equal(final.user, 'user');

  const wrong = new ScramServerExchange(SHA256, () => credential, 'authentication', () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  wrong.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  assert.throws(
    () => wrong.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAAZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=')),
    (e: unknown) => e instanceof AuthenticationFailure && e.clientMessage === 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256',
  );
  for (const garbage of ['', 'p=tls-unique,,n=user,r=x', 'n,,r=nonce-without-user', 'n,,n=bad=escape,r=x']) {
    assert.throws(() => new ScramServerExchange(SHA256, () => credential, 'authentication').step(Buffer.from(garbage)), AuthenticationFailure, garbage);
  }
});

test('sasl.jaas.config is parsed, not evaluated: PLAIN users per listener, bad entries named, secrets hidden from DescribeConfigs', () => {
  const jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="al\\"ice";';
  assert.deepEqual(parseJaasConfig(jaas).options, { username: 'admin', password: 'admin-secret', user_admin: 'admin-secret', user_alice: 'al"ice' });
  const config = buildBrokerConfig(
    new Map([
      ['listeners', 'SASL_PLAINTEXT://127.0.0.1:0,SCRAMONLY://127.0.0.1:0'],
      ['listener.security.protocol.map', 'SASL_PLAINTEXT:SASL_PLAINTEXT,SCRAMONLY:SASL_PLAINTEXT'],
      ['listener.name.sasl_plaintext.plain.sasl.jaas.config', jaas],
      ['listener.name.scramonly.sasl.enabled.mechanisms', 'SCRAM-SHA-512'],
      ['connections.max.reauth.ms', '60000'],
    ]),
  );
  const plain = config.saslListeners.get('SASL_PLAINTEXT')!;
  assert.deepEqual([...plain.plainUsers], [['admin', 'admin-secret'], ['alice', 'al"ice']]);
  assert.deepEqual(plain.mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
  assert.equal(plain.maxReauthMs, 60_000);
  assert.deepEqual(config.saslListeners.get('SCRAMONLY')!.mechanisms, ['SCRAM-SHA-512']);
  const withGlobal = buildBrokerConfig(new Map([['sasl.jaas.config', jaas]]));
  const [described] = describeBrokerConfigs(withGlobal, { keys: ['sasl.jaas.config'], includeSynonyms: true, includeDocumentation: false });
  assert.equal(described.isSensitive, true);
  assert.ok(!JSON.stringify(described).includes('admin-secret'));

  const problems = (props: [string, string][]): string[] => {
    try {
      buildBrokerConfig(new Map(props));
      return [];
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return [...e.problems];
    }
  };
  assert.deepEqual(problems([['listener.name.plaintext.plain.sasl.jaas.config', 'PlainLoginModule required user_a="x"']]), [
    'listener.name.plaintext.plain.sasl.jaas.config=PlainLoginModule required user_a="x": expected ";" at the end of the login module',
  ]);
  assert.match(problems([['sasl.enabled.mechanisms', 'GSSAPI']]).join(), /^sasl.enabled.mechanisms=GSSAPI: /);
});

describe('SCRAM credentials: AlterUserScramCredentials and DescribeUserScramCredentials', () => {
  let b: InProcessBroker;
  let client: KafkaClient;
  const salt = Buffer.from('0123456789abcdef');
  const upsertion = (name: string, mechanism = SHA256, iterations = 4096, password = 'secret') => ({
    name,
    mechanism: mechanism.type,
    iterations,
    salt,
    saltedPassword: saltPassword(mechanism, password, salt, iterations),
  });
  const alter = async (deletions: { name: string; mechanism: number }[], upsertions: ReturnType<typeof upsertion>[]) =>
    (await client.call(() => client.any(), 'AlterUserScramCredentials', { deletions, upsertions })).results.map((r) => [r.user, r.errorCode, r.errorMessage]);
  const describeUsers = async (users: string[] | null) => (await client.call(() => client.any(), 'DescribeUserScramCredentials', { users: users?.map((name) => ({ name })) ?? null })).results;

  before(async () => {
    b = await startTestBroker({ listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0' });
    client = new KafkaClient({ brokers: [b.bootstrap] });
  });

  after(async () => {
    await client?.close();
    await b?.stop();
    // The restarted broker runs on the first one's directory, which is then no longer removed for us.
    if (b) rmSync(b.dir, { recursive: true, force: true });
  });

  test("Kafka's errors: iterations out of bounds, unknown mechanism, one credential changed twice, deleting what is not there; all or nothing per user", async () => {
    assert.deepEqual(await alter([], [upsertion('few', SHA256, 4095), upsertion('many', SHA512, 16385), { ...upsertion('mech'), mechanism: 3 }]), [
      ['few', ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations: 4095 (at least 4096)'],
      ['many', ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations: 16385 (at most 16384)'],
      ['mech', ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism (type 3)'],
    ]);
    assert.deepEqual(await alter([{ name: 'twice', mechanism: SHA256.type }, { name: 'gone', mechanism: SHA512.type }], [upsertion('twice'), upsertion('ok', SHA512, 8192), upsertion('ok')]), [
      ['twice', ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request: twice SCRAM-SHA-256'],
      ['gone', ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist: gone SCRAM-SHA-512'],
      ['ok', ErrorCode.NONE, null],
    ]);
    const all = await describeUsers(null);
    assert.deepEqual(all.map((r) => [r.user, r.errorCode, r.credentialInfos.map((c) => [c.mechanism, c.iterations]).sort()]), [['ok', 0, [[1, 4096], [2, 8192]]]]);
    assert.deepEqual((await describeUsers(['ok', 'nobody', 'nobody'])).map((r) => [r.user, r.errorCode, r.errorMessage]), [
      ['ok', ErrorCode.NONE, null],
      ['nobody', ErrorCode.DUPLICATE_RESOURCE, 'Cannot describe SCRAM credentials for the same user twice in a single request: nobody'],
    ]);
    assert.deepEqual((await describeUsers(['missing'])).map((r) => r.errorCode), [ErrorCode.RESOURCE_NOT_FOUND]);
    assert.deepEqual(await alter([{ name: 'ok', mechanism: SHA512.type }], []), [['ok', ErrorCode.NONE, null]]);
    assert.deepEqual((await describeUsers(['ok']))[0].credentialInfos, [{ mechanism: 1, iterations: 4096 }]);
  });

  test('credentials are kept as salted keys only, survive a restart, and a changed password applies at the next login', async () => {
    assert.deepEqual(await alter([], [upsertion('carol', SHA512, 4096, 'first')]), [['carol', 0, null]]);
    const stored = readFileSync(join(b.dir, 'sluice-metadata.json'), 'utf8');
    const carol = saltPassword(SHA512, 'first', salt, 4096);
    assert.ok(!stored.includes('first') && !stored.includes(carol.toString('base64')), 'neither the password nor the salted password is stored');
    assert.ok(stored.includes(credentialOf(SHA512, salt, carol, 4096).storedKey.toString('base64')));

    const dir = b.dir;
    await client.close();
    await b.broker.stop();
    b = await startTestBroker({ listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0' }, dir);
    client = new KafkaClient({ brokers: [b.bootstrap] });
    const saslPort = b.broker.listeners.find((l) => l.name === 'SASL_PLAINTEXT')!.port;
    const login = async (password: string) => {
      const conn = await BrokerConnection.open('127.0.0.1', saslPort, 'scram-test');
      try {
        await authenticate(conn, { mechanism: 'SCRAM-SHA-512', username: 'carol', password });
      } finally {
        conn.close();
      }
    };
    await login('first');
    assert.deepEqual(await alter([], [upsertion('carol', SHA512, 4096, 'second')]), [['carol', 0, null]]);
    await assert.rejects(login('first'), /invalid credentials with SASL mechanism SCRAM-SHA-512/);
    await login('second');
  });
});

test('in a cluster the credentials live in etcd: another broker logs the user in', { skip: skipUnlessPresent(etcd) }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-scram-etcd-'));
  const store = await EtcdProcess.start({ dataDir: join(dir, 'etcd') });
  const brokers: InProcessBroker[] = [];
  try {
    const start = async (nodeId: number) => {
      const b = await startTestBroker({
        'node.id': String(nodeId),
        listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
        'inter.broker.listener.name': 'PLAINTEXT',
        'sluice.metadata.store': `etcd://${store.endpoint}/scram-test`,
        'log.dirs': join(dir, `broker-${nodeId}`),
      });
      brokers.push(b);
      return b;
    };
    const first = await start(1);
    const second = await start(2);
    const client = new KafkaClient({ brokers: [first.bootstrap] });
    try {
      const salt = Buffer.from('salt-of-erin');
      const upsertion = { name: 'erin', mechanism: SHA256.type, iterations: 4096, salt, saltedPassword: saltPassword(SHA256, 'pw', salt, 4096) };
      const res = await client.call(() => client.any(), 'AlterUserScramCredentials', { deletions: [], upsertions: [upsertion] });
      assert.deepEqual(res.results.map((r) => r.errorCode), [0]);
    } finally {
      await client.close();
    }
    // The other broker hears of it through its etcd watch.
    while (!second.broker.metadata.scramCredentials.has('erin')) await new Promise((resolve) => setTimeout(resolve, 50));
    const conn = await BrokerConnection.open('127.0.0.1', second.broker.listeners.find((l) => l.name === 'SASL_PLAINTEXT')!.port, 'scram-etcd');
    try {
      await authenticate(conn, { mechanism: 'SCRAM-SHA-256', username: 'erin', password: 'pw' });
    } finally {
      conn.close();
    }
  } finally {
    for (const b of brokers.reverse()) await b.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
