// Opens a LogManager on a directory, appends to one partition until killed, printing each
// acknowledged (flushed) last offset. Used to test unclean stops and the directory lock.
import { LogManager } from '../../src/storage/log-manager.js';
import { makeBatch, testConfig } from './storage-fixtures.js';

const [dir, mode] = process.argv.slice(2);
const manager = LogManager.open({
  logDirs: [dir],
  configFor: () => testConfig({ flushMode: 'sync', segmentBytes: 64 * 1024 }),
  retentionCheckIntervalMs: 60_000,
  checkpointIntervalMs: 50,
    cleanerBackoffMs: 60_000,
});
const log = manager.getOrCreate('events', 0);
process.stdout.write('ready\n');
if (mode === 'append') {
  for (let i = 0; ; i++) {
    const r = log.append(makeBatch(`c${i}`, 5, Date.now(), { valueBytes: 100 }), { leaderEpoch: 0, now: Date.now(), assignOffsets: true });
    await r.durable;
    process.stdout.write(`acked ${r.lastOffset}\n`);
  }
} else {
  setInterval(() => {}, 1000);
}
