import type { Command } from 'commander';
import { alterClientQuotas, describeClientQuotas, type QuotaEntityPart } from '../client/quotas.js';
import { withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { UsageError } from './errors.js';
import { formatTable, plural } from './output.js';

interface EntityOptions extends BrokerOptions {
  user?: string;
  userDefault?: boolean;
  clientId?: string;
  clientDefault?: boolean;
  ip?: string;
  ipDefault?: boolean;
  validateOnly?: boolean;
}

/** The entity the options name, as kafka-configs' --entity-type/--entity-name/--entity-default do. */
function entityOf(opts: EntityOptions): QuotaEntityPart[] {
  const parts: QuotaEntityPart[] = [];
  const add = (type: string, name: string | undefined, isDefault: boolean | undefined): void => {
    if (name !== undefined && isDefault) throw new UsageError(`give either --${type} or --${type === 'client-id' ? 'client' : type}-default, not both`);
    if (name !== undefined) parts.push({ type, name });
    else if (isDefault) parts.push({ type, name: null });
  };
  add('user', opts.user, opts.userDefault);
  add('client-id', opts.clientId, opts.clientDefault);
  add('ip', opts.ip, opts.ipDefault);
  return parts;
}

const describeEntity = (entity: readonly QuotaEntityPart[]): string => entity.map((p) => `${p.type}=${p.name ?? '<default>'}`).join(', ');

async function list(opts: EntityOptions): Promise<void> {
  const entries = await withClient(opts, (c) => describeClientQuotas(c, entityOf(opts)));
  const rows = entries
    .flatMap((e) => Object.entries(e.values).map(([key, value]) => [describeEntity(e.entity), key, value] as const))
    .sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
  process.stdout.write(formatTable(['entity', 'quota', 'value'], rows));
}

/** `key=value` pairs to set, or bare keys to remove. */
function parseChanges(args: readonly string[], setting: boolean): Record<string, number | null> {
  const changes: Record<string, number | null> = {};
  for (const arg of args.flatMap((a) => a.split(',')).filter((a) => a !== '')) {
    if (!setting) {
      changes[arg] = null;
      continue;
    }
    const m = /^([a-z_]+)=(.+)$/.exec(arg);
    const value = m ? Number(m[2]) : Number.NaN;
    if (!m || !Number.isFinite(value)) throw new UsageError(`"${arg}" is not quota=number (e.g. producer_byte_rate=1048576)`);
    changes[m[1]] = value;
  }
  return changes;
}

async function alter(args: string[], opts: EntityOptions, setting: boolean): Promise<void> {
  const entity = entityOf(opts);
  if (entity.length === 0) throw new UsageError('name the entity: --user, --client-id, --ip or their --*-default');
  const changes = parseChanges(args, setting);
  await withClient(opts, (c) => alterClientQuotas(c, entity, changes, opts.validateOnly));
  const what = `${plural(Object.keys(changes).length, 'quota')} of ${describeEntity(entity)}`;
  process.stderr.write(opts.validateOnly ? `valid: ${what} (nothing changed: --validate-only)\n` : `${setting ? 'set' : 'removed'} ${what}\n`);
}

function withEntityOptions(cmd: Command): Command {
  return cmd
    .option('--user <name>', 'a user (the principal User:<name>)')
    .option('--user-default', 'the default of all users')
    .option('--client-id <id>', 'a client id')
    .option('--client-default', 'the default of all client ids')
    .option('--ip <address>', 'a client address (connection_creation_rate)')
    .option('--ip-default', 'the default of all addresses');
}

/** `sluice quota ...`: client quotas, as kafka-configs.sh --entity-type users/clients/ips keeps them. */
export function registerQuota(program: Command): void {
  const quota = program.command('quota').description('List, set and remove client quotas (producer_byte_rate, consumer_byte_rate, request_percentage, connection_creation_rate)');
  withEntityOptions(quota.command('list').description('List stored quotas: of the entities matching the options (every entity without any)')).action((opts: EntityOptions) => list(opts));
  withEntityOptions(quota.command('set').description('Set quotas of one entity'))
    .argument('<quota=value...>', 'quotas to set, e.g. producer_byte_rate=1048576')
    .option('--validate-only', 'check the change without making it')
    .addHelpText('after', '\nExamples:\n  sluice quota set producer_byte_rate=1048576 --user alice --client-id loader\n  sluice quota set consumer_byte_rate=2097152 --user-default\n  sluice quota set connection_creation_rate=10 --ip 10.0.0.7')
    .action((args: string[], opts: EntityOptions) => alter(args, opts, true));
  withEntityOptions(quota.command('remove').description('Remove quotas of one entity'))
    .argument('<quota...>', 'quota keys to remove, e.g. producer_byte_rate')
    .action((args: string[], opts: EntityOptions) => alter(args, opts, false));
  for (const cmd of quota.commands) withBrokersOption(cmd);
}
