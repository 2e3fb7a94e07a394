import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { expectExit, sluice } from './sluice-cli.js';

describe('sluice acl', () => {
  let b: InProcessBroker;
  let dir: string;
  let admin: string[];
  let carol: string[];

  before(async () => {
    b = await startTestBroker({
      listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_carol="carol-secret";',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin',
    });
    dir = mkdtempSync(join(tmpdir(), 'sluice-acl-'));
    const login = (user: string) => {
      const file = join(dir, `${user}.properties`);
      writeFileSync(file, `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=${user}\nsasl.password=${user}-secret\n`);
      return ['-b', b.bootstrap, '--command-config', file];
    };
    admin = login('admin');
    carol = login('carol');
  });

  after(async () => {
    await b?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('add, list and remove, as kafka-acls.sh does', async () => {
    const added = await sluice(['acl', 'add', ...admin, '--allow-principal', 'User:carol', '--operation', 'read', '--operation', 'DESCRIBE', '--topic', 'orders-', '--resource-pattern-type', 'prefixed']);
    expectExit(added, 0, 'add');
    assert.equal(added.stderr, 'added 2 ACLs\n');
    expectExit(await sluice(['acl', 'add', ...admin, '--deny-principal', 'User:carol', '--operation', 'ALL', '--group', 'billing', '--host', '10.1.2.3']), 0, 'add deny');

    const listed = await sluice(['acl', 'list', ...admin]);
    expectExit(listed, 0, 'list');
    assert.match(listed.stdout, /^TOPIC\s+orders-\s+PREFIXED\s+User:carol\s+\*\s+READ\s+ALLOW$/m);
    assert.match(listed.stdout, /^TOPIC\s+orders-\s+PREFIXED\s+User:carol\s+\*\s+DESCRIBE\s+ALLOW$/m);
    assert.match(listed.stdout, /^GROUP\s+billing\s+LITERAL\s+User:carol\s+10\.1\.2\.3\s+ALL\s+DENY$/m);

    // MATCH: the ACLs that apply to one topic name.
    const matching = await sluice(['acl', 'list', ...admin, '--topic', 'orders-eu', '--resource-pattern-type', 'match']);
    expectExit(matching, 0, 'list match');
    assert.equal(matching.stdout.trim().split('\n').length, 3, 'a header and the two prefixed ACLs');

    const removed = await sluice(['acl', 'remove', ...admin, '--allow-principal', 'User:carol', '--operation', 'READ', '--topic', 'orders-', '--resource-pattern-type', 'prefixed']);
    expectExit(removed, 0, 'remove');
    assert.equal(removed.stderr, 'removed 1 ACL\n');
    const after = await sluice(['acl', 'list', ...admin, '--topic', 'orders-', '--resource-pattern-type', 'prefixed']);
    assert.doesNotMatch(after.stdout, /READ/);
    assert.match(after.stdout, /DESCRIBE/);
  });

  test('a principal without ALTER on the cluster is refused; bad options are usage errors', async () => {
    const refused = await sluice(['acl', 'add', ...carol, '--allow-principal', 'User:carol', '--operation', 'ALL', '--cluster']);
    expectExit(refused, 1, 'carol adds');
    assert.match(refused.stderr, /CLUSTER_AUTHORIZATION_FAILED/);
    expectExit(await sluice(['acl', 'add', ...admin, '--allow-principal', 'carol', '--operation', 'READ', '--topic', 't']), 2, 'principal without type');
    expectExit(await sluice(['acl', 'add', ...admin, '--allow-principal', 'User:carol', '--operation', 'FLY', '--topic', 't']), 2, 'unknown operation');
    expectExit(await sluice(['acl', 'add', ...admin, '--allow-principal', 'User:carol', '--operation', 'READ']), 2, 'no resource');
  });
});
