import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { RequestOf } from '../client/connection.js';
import { check, type KafkaClient } from '../client/kafka-client.js';
import { MAX_ITERATIONS, MIN_ITERATIONS, saltPassword, SCRAM_MECHANISMS, scramMechanismNamed, scramMechanismOfType, type ScramMechanism } from '../security/scram/mechanisms.js';
import { intParser, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { formatTable } from './output.js';

function mechanismParser(value: string): ScramMechanism {
  const m = scramMechanismNamed(value.toUpperCase());
  if (!m) throw new InvalidArgumentError(`expected ${SCRAM_MECHANISMS.map((x) => x.name).join(' or ')}`);
  return m;
}

async function describe(client: KafkaClient, users: string[] | null): Promise<void> {
  const res = await client.call(() => client.controller(), 'DescribeUserScramCredentials', { users: users?.map((name) => ({ name })) ?? null });
  check(res.errorCode, 'describing SCRAM credentials', res.errorMessage);
  for (const r of res.results) check(r.errorCode, `user ${r.user}`, r.errorMessage);
  const rows = res.results.map((r) => [r.user, r.credentialInfos.map((c) => `${scramMechanismOfType(c.mechanism)?.name ?? c.mechanism}:iterations=${c.iterations}`).join(' ')]);
  process.stdout.write(formatTable(['user', 'credentials'], rows));
}

interface CredentialOptions extends BrokerOptions {
  user: string;
  mechanism: ScramMechanism;
}

interface SetOptions extends CredentialOptions {
  password: string;
  iterations: number;
}

/** The password is salted and hashed here: the broker only ever sees the salted password. */
async function set(client: KafkaClient, o: SetOptions): Promise<void> {
  const salt = randomBytes(32);
  const saltedPassword = saltPassword(o.mechanism, o.password, salt, o.iterations);
  const upsertion = { name: o.user, mechanism: o.mechanism.type, iterations: o.iterations, salt, saltedPassword };
  await alter(client, { deletions: [], upsertions: [upsertion] });
  process.stderr.write(`set the ${o.mechanism.name} credential of ${o.user} (${o.iterations} iterations)\n`);
}

async function remove(client: KafkaClient, o: CredentialOptions): Promise<void> {
  await alter(client, { deletions: [{ name: o.user, mechanism: o.mechanism.type }], upsertions: [] });
  process.stderr.write(`deleted the ${o.mechanism.name} credential of ${o.user}\n`);
}

async function alter(client: KafkaClient, req: RequestOf<'AlterUserScramCredentials'>): Promise<void> {
  const res = await client.call(() => client.controller(), 'AlterUserScramCredentials', req);
  for (const r of res.results) check(r.errorCode, `user ${r.user}`, r.errorMessage);
}

const userOption = () => new Option('--user <name>', 'the user').makeOptionMandatory();
const mechanismOption = () => new Option('--mechanism <mechanism>', 'SCRAM-SHA-256 or SCRAM-SHA-512').argParser(mechanismParser).makeOptionMandatory();

/** `sluice user scram ...`: SCRAM credentials, as kafka-configs.sh --entity-type users manages them. */
export function registerUser(program: Command): void {
  const scram = program.command('user').description('Manage users of SASL listeners').command('scram').description('List, describe, set and delete SCRAM credentials');

  scram.command('list').description('List the users with SCRAM credentials').action((opts: BrokerOptions) => withClient(opts, (c) => describe(c, null)));

  scram
    .command('describe')
    .description("Show users' SCRAM mechanisms and iterations")
    .argument('<user...>', 'user names')
    .action((users: string[], opts: BrokerOptions) => withClient(opts, (c) => describe(c, users)));

  scram
    .command('set')
    .description("Create or change a user's SCRAM credential (salted here; the password never reaches the broker)")
    .addOption(userOption())
    .addOption(mechanismOption())
    .addOption(new Option('--password <password>', 'the password').env('SLUICE_SCRAM_PASSWORD').makeOptionMandatory())
    .addOption(new Option('--iterations <n>', 'PBKDF2 iterations').argParser(intParser(MIN_ITERATIONS, MAX_ITERATIONS)).default(MIN_ITERATIONS))
    .addHelpText('after', '\nExamples:\n  sluice user scram set --user alice --mechanism SCRAM-SHA-256 --password alice-secret --iterations 8192')
    .action((opts: SetOptions) => withClient(opts, (c) => set(c, opts)));

  scram
    .command('delete')
    .description("Delete a user's SCRAM credential for one mechanism")
    .addOption(userOption())
    .addOption(mechanismOption())
    .action((opts: CredentialOptions) => withClient(opts, (c) => remove(c, opts)));

  for (const cmd of scram.commands) withBrokersOption(cmd);
}
