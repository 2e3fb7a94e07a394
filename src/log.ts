import { pino, type Logger } from 'pino';

/**
 * Sluice's logger: structured JSON lines (pino). SLUICE_LOG_LEVEL sets the level; tests and
 * embedded brokers usually set it to "silent" or "warn".
 */
export const log: Logger = pino({
  name: 'sluice',
  // Under the test runner only warnings and errors show, unless asked otherwise.
  level: process.env.SLUICE_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'warn' : 'info'),
});
