import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { expectExit, sluice } from './sluice-cli.js';

describe('sluice user scram', () => {
  let b: InProcessBroker;
  let dir: string;
  let plaintext: string;
  let sasl: string;

  before(async () => {
    b = await startTestBroker({
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";',
    });
    const port = (name: string) => `127.0.0.1:${b.broker.listeners.find((l) => l.name === name)!.port}`;
    plaintext = port('PLAINTEXT');
    sasl = port('SASL_PLAINTEXT');
    dir = mkdtempSync(join(tmpdir(), 'sluice-user-'));
  });

  after(async () => {
    await b?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('set, describe, delete; a user without credentials is RESOURCE_NOT_FOUND', async () => {
    expectExit(await sluice(['user', 'scram', 'set', '-b', plaintext, '--user', 'dave', '--mechanism', 'scram-sha-512', '--password', 'pw']), 0, 'set');
    const described = await sluice(['user', 'scram', 'describe', 'dave', '-b', plaintext]);
    expectExit(described, 0, 'describe');
    assert.match(described.stdout, /^dave\s+SCRAM-SHA-512:iterations=4096$/m);
    const deleted = await sluice(['user', 'scram', 'delete', '-b', plaintext, '--user', 'dave', '--mechanism', 'SCRAM-SHA-512']);
    expectExit(deleted, 0, 'delete');
    assert.equal(deleted.stderr, 'deleted the SCRAM-SHA-512 credential of dave\n');
    const gone = await sluice(['user', 'scram', 'describe', 'dave', '-b', plaintext]);
    expectExit(gone, 1, 'describe after delete');
    assert.match(gone.stderr, /user dave: RESOURCE_NOT_FOUND \(Attempt to describe a user credential that does not exist: dave\)/);
  });

  test('bad arguments are usage errors; a refused login says so', async () => {
    const few = await sluice(['user', 'scram', 'set', '-b', plaintext, '--user', 'x', '--mechanism', 'SCRAM-SHA-256', '--password', 'pw', '--iterations', '100']);
    expectExit(few, 2, 'too few iterations');
    assert.match(few.stderr, /--iterations.*expected 4096 to 16384/);
    expectExit(await sluice(['user', 'scram', 'set', '-b', plaintext, '--user', 'x', '--mechanism', 'PLAIN', '--password', 'pw']), 2, 'not a SCRAM mechanism');

    const config = join(dir, 'wrong.properties');
    writeFileSync(config, 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=admin\nsasl.password=wrong\n');
    const refused = await sluice(['user', 'scram', 'list', '-b', sasl, '--command-config', config]);
    expectExit(refused, 1, 'wrong login');
    assert.match(refused.stderr, /SASL PLAIN authentication as admin failed: Authentication failed: Invalid username or password — check the login in --command-config/);
  });
});
