import { InvalidArgumentError, Option, type Command } from 'commander';
import { createAcls, deleteAcls, describeAcls, type AclBinding } from '../client/acls.js';
import type { KafkaClient } from '../client/kafka-client.js';
import { AclOperation, CLUSTER_NAME, codeOf, nameOf, PatternType, Permission, ResourceType } from '../security/acl/acl-codes.js';
import type { AclFilter } from '../security/acl/acl-filter.js';
import { collector, withBrokersOption, withClient, type BrokerOptions } from './common.js';
import { UsageError } from './errors.js';
import { formatTable, plural } from './output.js';

interface ResourceOptions extends BrokerOptions {
  topic?: string[];
  group?: string[];
  transactionalId?: string[];
  cluster?: boolean;
  resourcePatternType: number;
}

interface BindingOptions extends ResourceOptions {
  allowPrincipal?: string[];
  denyPrincipal?: string[];
  operation?: number[];
  host: string;
}

interface ListOptions extends ResourceOptions {
  principal?: string;
}

function operationParser(value: string, previous: number[] = []): number[] {
  const code = codeOf('operation', value);
  if (code === undefined || code === AclOperation.ANY) throw new InvalidArgumentError(`unknown operation "${value}": expected one of ${Object.keys(AclOperation).filter((o) => o !== 'ANY').join(', ')}`);
  return [...previous, code];
}

function patternParser(value: string): number {
  const code = codeOf('patternType', value);
  if (code === undefined) throw new InvalidArgumentError('expected literal, prefixed, match or any');
  return code;
}

function principalCollector(value: string, previous: string[] = []): string[] {
  if (!/^[^:]+:.+$/.test(value)) throw new InvalidArgumentError(`expected a principal such as User:alice, got "${value}"`);
  return [...previous, value];
}

/** The resources the options name, as [type, name]. */
function resourcesOf(o: ResourceOptions): [number, string][] {
  return [
    ...(o.topic ?? []).map((n): [number, string] => [ResourceType.TOPIC, n]),
    ...(o.group ?? []).map((n): [number, string] => [ResourceType.GROUP, n]),
    ...(o.transactionalId ?? []).map((n): [number, string] => [ResourceType.TRANSACTIONAL_ID, n]),
    ...(o.cluster ? [[ResourceType.CLUSTER, CLUSTER_NAME] as [number, string]] : []),
  ];
}

function principalsOf(o: BindingOptions): [string, number][] {
  return [...(o.allowPrincipal ?? []).map((p): [string, number] => [p, Permission.ALLOW]), ...(o.denyPrincipal ?? []).map((p): [string, number] => [p, Permission.DENY])];
}

/** The bindings `add` creates: every resource × principal × operation. */
function bindingsOf(o: BindingOptions): AclBinding[] {
  const resources = resourcesOf(o);
  if (resources.length === 0) throw new UsageError('name a resource: --topic, --group, --transactional-id or --cluster');
  if (o.resourcePatternType !== PatternType.LITERAL && o.resourcePatternType !== PatternType.PREFIXED) throw new UsageError('--resource-pattern-type of new ACLs is literal or prefixed');
  const principals = principalsOf(o);
  if (principals.length === 0) throw new UsageError('name a principal: --allow-principal or --deny-principal');
  if (!o.operation?.length) throw new UsageError('name an operation: --operation');
  return resources.flatMap(([resourceType, resourceName]) =>
    principals.flatMap(([principal, permission]) => o.operation!.map((operation) => ({ resourceType, resourceName, patternType: o.resourcePatternType, principal, host: o.host, operation, permission }))),
  );
}

/** Filters for `list` and `remove`: what is not named matches anything. */
function filtersOf(o: ResourceOptions, principals: [string | null, number][], operations: number[], host: string | null): AclFilter[] {
  const resources: [number, string | null][] = resourcesOf(o);
  if (resources.length === 0) resources.push([ResourceType.ANY, null]);
  const ops = operations.length > 0 ? operations : [AclOperation.ANY];
  return resources.flatMap(([resourceType, resourceName]) =>
    principals.flatMap(([principal, permission]) => ops.map((operation) => ({ resourceType, resourceName, patternType: o.resourcePatternType, principal, host, operation, permission }))),
  );
}

function print(bindings: readonly AclBinding[]): void {
  const sorted = [...bindings].sort((a, b) => a.resourceType - b.resourceType || a.resourceName.localeCompare(b.resourceName) || a.principal.localeCompare(b.principal));
  process.stdout.write(
    formatTable(
      ['resource-type', 'name', 'pattern', 'principal', 'host', 'operation', 'permission'],
      sorted.map((b) => [nameOf('resourceType', b.resourceType), b.resourceName, nameOf('patternType', b.patternType), b.principal, b.host, nameOf('operation', b.operation), nameOf('permission', b.permission)]),
    ),
  );
}

async function list(client: KafkaClient, o: ListOptions): Promise<void> {
  const found = new Map<string, AclBinding>();
  for (const f of filtersOf(o, [[o.principal ?? null, Permission.ANY]], [], null)) for (const b of await describeAcls(client, f)) found.set(JSON.stringify(b), b);
  print([...found.values()]);
}

async function add(client: KafkaClient, o: BindingOptions): Promise<void> {
  const bindings = bindingsOf(o);
  await createAcls(client, bindings);
  process.stderr.write(`added ${plural(bindings.length, 'ACL')}\n`);
}

async function remove(client: KafkaClient, o: BindingOptions): Promise<void> {
  if (resourcesOf(o).length === 0) throw new UsageError('name a resource: --topic, --group, --transactional-id or --cluster');
  const principals = principalsOf(o);
  const deleted = await deleteAcls(client, filtersOf(o, principals.length > 0 ? principals : [[null, Permission.ANY]], o.operation ?? [], o.host === '*' ? null : o.host));
  if (deleted.length > 0) print(deleted);
  process.stderr.write(`removed ${plural(deleted.length, 'ACL')}\n`);
}

function withResourceOptions(cmd: Command, patternDefault: string): Command {
  return cmd
    .addOption(new Option('--topic <name>', 'a topic (repeatable)').argParser(collector))
    .addOption(new Option('--group <id>', 'a consumer or share group (repeatable)').argParser(collector))
    .addOption(new Option('--transactional-id <id>', 'a transactional id (repeatable)').argParser(collector))
    .addOption(new Option('--cluster', 'the cluster'))
    .addOption(new Option('--resource-pattern-type <type>', 'literal, prefixed (and for list: match, any)').argParser(patternParser).default(codeOf('patternType', patternDefault), patternDefault));
}

function withBindingOptions(cmd: Command): Command {
  return withResourceOptions(cmd, 'literal')
    .addOption(new Option('--allow-principal <principal>', 'a principal allowed, e.g. User:alice or User:* (repeatable)').argParser(principalCollector))
    .addOption(new Option('--deny-principal <principal>', 'a principal denied (repeatable)').argParser(principalCollector))
    .addOption(new Option('--operation <operation>', 'READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE or ALL (repeatable)').argParser(operationParser))
    .addOption(new Option('--host <host>', 'the client address the ACL applies to').default('*'));
}

/** `sluice acl ...`: ACLs, with kafka-acls.sh's options. */
export function registerAcl(program: Command): void {
  const acl = program.command('acl').description('List, add and remove ACLs (brokers with authorizer.class.name set)');

  withResourceOptions(acl.command('list').description('List ACLs: all, or those of the resources named'), 'any')
    .addOption(new Option('--principal <principal>', 'only the ACLs of this principal'))
    .addHelpText('after', '\nExamples:\n  sluice acl list --topic orders --resource-pattern-type match')
    .action((opts: ListOptions) => withClient(opts, (c) => list(c, opts)));

  withBindingOptions(acl.command('add').description('Add ACLs: each principal gets each operation on each resource'))
    .addHelpText('after', '\nExamples:\n  sluice acl add --allow-principal User:alice --operation READ --operation DESCRIBE --topic orders- --resource-pattern-type prefixed\n  sluice acl add --allow-principal User:alice --operation READ --group billing')
    .action((opts: BindingOptions) => withClient(opts, (c) => add(c, opts)));

  withBindingOptions(acl.command('remove').description('Remove the ACLs of the resources named (only those of the principals and operations named, if any)'))
    .addHelpText('after', '\nExamples:\n  sluice acl remove --allow-principal User:alice --operation READ --topic orders')
    .action((opts: BindingOptions) => withClient(opts, (c) => remove(c, opts)));

  for (const cmd of acl.commands) withBrokersOption(cmd);
}
