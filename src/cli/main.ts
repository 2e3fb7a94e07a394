#!/usr/bin/env node
import { Command } from 'commander';
import { apis } from '../protocol/generated/api-table.js';

const program = new Command('sluice').description('A Kafka-compatible streaming broker');

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

await program.parseAsync();
