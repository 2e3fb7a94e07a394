#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { apis } from '../protocol/generated/api-table.js';
import { registerAcl } from './acl.js';
import { registerCluster } from './cluster.js';
import { registerConsume } from './consume.js';
import { registerDelayed } from './delayed.js';
import { registerDevCluster } from './dev-cluster.js';
import { registerDlq } from './dlq.js';
import { describeError, exitCodeOf, UsageError } from './errors.js';
import { registerGroup } from './group.js';
import { registerShareGroup } from './share-group.js';
import { registerProduce } from './produce.js';
import { registerQuota } from './quota.js';
import { registerTopic } from './topic.js';
import { registerTransactions } from './transactions.js';
import { registerUser } from './user.js';

const program = new Command('sluice')
  .description('A Kafka-compatible streaming broker, and a command line client for any Kafka cluster')
  // Subcommands inherit this: usage errors reach the catch below instead of exiting with 1.
  .exitOverride()
  .showSuggestionAfterError();

// The broker is a large module graph that the client commands never use (it doubles their
// start-up time): it is loaded for `serve` and for the overall help only.
const CLIENT_COMMANDS = new Set(['apis', 'topic', 'produce', 'consume', 'group', 'share-group', 'cluster', 'dev-cluster', 'transactions', 'delayed', 'dlq', 'quota', 'user', 'acl']);
if (!CLIENT_COMMANDS.has(process.argv[2] ?? '')) (await import('./serve.js')).registerServe(program);

program
  .command('apis')
  .description('List the Kafka APIs and versions the wire codec speaks')
  .action(() => {
    const rows = Object.values(apis).sort((a, b) => a.apiKey - b.apiKey);
    for (const a of rows) {
      const flexible = a.flexibleFrom === null ? 'never' : `v${a.flexibleFrom}+`;
      console.log(`${String(a.apiKey).padStart(3)}  ${a.name.padEnd(34)} v${a.minVersion}-v${a.maxVersion}  flexible ${flexible}`);
    }
  });

registerTopic(program);
registerProduce(program);
registerConsume(program);
registerGroup(program);
registerShareGroup(program);
registerDlq(program);
registerTransactions(program);
registerDelayed(program);
registerCluster(program);
registerDevCluster(program);
registerQuota(program);
registerUser(program);
registerAcl(program);

program.addHelpText(
  'after',
  `
Commands that talk to a cluster take --brokers host:port[,host:port] (or SLUICE_BROKERS),
default localhost:9092. Exit codes: 0 success, 1 failure (Kafka error, broker down), 2 usage.`,
);

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Commander's usage errors, as one line naming the command and where its help is. */
function configureErrors(cmd: Command): void {
  const path = commandPath(cmd);
  cmd.configureOutput({ outputError: (message, write) => write(`${path}: ${message.trim().replace(/^error: /, '')} — see \`${path} --help\`\n`) });
  for (const sub of cmd.commands) configureErrors(sub);
}
configureErrors(program);

// For usage errors found inside an action, which then name the command like commander does.
let running: Command = program;
program.hook('preAction', (_program, action) => {
  running = action;
});

try {
  await program.parseAsync();
} catch (e) {
  // Commander has already said what was wrong with the command line.
  if (e instanceof UsageError) running.configureOutput().outputError?.(e.message, (s) => process.stderr.write(s));
  else if (!(e instanceof CommanderError)) process.stderr.write(`sluice: ${describeError(e)}\n`);
  process.exitCode = exitCodeOf(e);
}
