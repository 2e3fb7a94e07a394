import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Sluice's logger: structured JSON lines (pino) for machines, readable coloured lines when
 * stdout is a terminal (SLUICE_LOG_FORMAT=json|pretty forces one). SLUICE_LOG_LEVEL sets the
 * level; under the test runner only warnings and errors show unless asked otherwise.
 */
function createLogger(): Logger {
  const options = { name: 'sluice', level: process.env.SLUICE_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'warn' : 'info') };
  const format = process.env.SLUICE_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') return pino(options, pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', sync: true }));
  return pino(options);
}

export const log: Logger = createLogger();
