import type { Command } from 'commander';
import { Broker } from '../broker/broker.js';
import { listenFailure } from '../config/listeners.js';
import { buildBrokerConfig, ConfigError, parseOverride, readPropertiesFile } from '../config/load-config.js';
import { keepFreedMemory } from '../native/allocator.js';
import { LogDirLockedError } from '../storage/log-manager.js';
import { log } from '../log.js';

/** `sluice serve`: a broker in the foreground until SIGTERM or SIGINT. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Start a broker (default: PLAINTEXT://127.0.0.1:9092, data in ./data, node id 1)')
    .option('-c, --config <file>', 'a server.properties file with Kafka broker settings')
    .option('-o, --override <key=value>', 'a single setting, over the file (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (opts: { config?: string; override: string[] }) => {
      const allocator = keepFreedMemory();
      log.info(allocator, allocator.applied ? 'malloc keeps freed memory for the next requests' : 'malloc left at its defaults');
      let broker: Broker;
      try {
        const file = opts.config ? readPropertiesFile(opts.config) : new Map<string, string>();
        const overrides = new Map(opts.override.map(parseOverride));
        broker = await Broker.start(buildBrokerConfig(file, overrides));
      } catch (e) {
        // The console gives way to whatever holds its address: a listen failure is a Kafka listener's.
        const unusable = listenFailure(e);
        const problem = e instanceof ConfigError || e instanceof LogDirLockedError ? e.message : unusable && `listeners: ${unusable}`;
        if (!problem) throw e;
        console.error(`sluice serve: ${problem}`);
        process.exitCode = 2;
        return;
      }
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        broker.stop().then(
          () => process.exit(0),
          (e: unknown) => {
            log.error({ err: e }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
