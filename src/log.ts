import { pino, type Logger } from 'pino';

/**
 * Sluice's logger: structured JSON lines (pino). SLUICE_LOG_LEVEL sets the level; tests and
 * embedded brokers usually set it to "silent" or "warn".
 */
export const log: Logger = pino({
  name: 'sluice',
  level: process.env.SLUICE_LOG_LEVEL ?? 'info',
});
