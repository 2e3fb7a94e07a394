/**
 * The process test/storage/crash-recovery.test.ts kills: it appends generated batches to a
 * partition log as fast as it can until SIGKILL. Runs under `node --import tsx` or compiled.
 *
 * Start-up costs far more than a kill cycle, so it loads everything first, says "ready", and
 * only opens the log once a line of JSON { dir, recoveryPoint, config } arrives on stdin: the
 * parent starts the next child while the previous one is still appending. Reports on stdout,
 * one line each, written only once what they claim is true:
 *   opened <logEndOffset> <truncatedBytes>   the log as this process recovered it
 *   appending                                from now on it is in its append loop
 *   flushed <recoveryPoint>                  every offset below is on disk
 *   acked <lastOffset>                       (sync flush) durable resolved for the batches up to it
 *   done                                     it appended all it may and waits to be killed
 */
import { createInterface } from 'node:readline';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LogConfig } from '../../src/storage/log-config.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { generatedBatch, testConfig, type GeneratedBatch } from './storage-fixtures.js';

export interface AppendChildStart {
  dir: string;
  recoveryPoint: number;
  config: Partial<LogConfig>;
}

/**
 * Batches are encoded (and compressed) this many at a time ahead of appending them, so that a
 * kill lands inside append far more often than inside the encoder.
 */
const POOL = 256;
/** Appends per turn of the event loop; between turns flush timers and group commits run. */
const BURST = 4;
/** Pools appended at most: should the parent be slow to kill, the log still stays small. */
const MAX_POOLS = 6;

// Writes to a pipe are synchronous on Linux: a line is in the pipe before the next append.
const say = (line: string): void => void process.stdout.write(`${line}\n`);

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
say('ready');
const start = JSON.parse((await lines.next()).value as string) as AppendChildStart;
// The parent never closes stdin: it is gone, and so is anyone to kill this process.
input.once('close', () => process.exit(1));
const config = testConfig(start.config);
const log = new PartitionLog(start.dir, config, { cleanShutdown: false, recoveryPoint: start.recoveryPoint, logStartOffset: 0 });
say(`opened ${log.logEndOffset} ${log.loadReport.truncatedBytes}`);

let acked = -1;
let reportedAck = -1;
let reportedFlush = -1;
function report(): void {
  if (acked > reportedAck) say(`acked ${(reportedAck = acked)}`);
  if (log.recoveryPoint > reportedFlush) say(`flushed ${(reportedFlush = log.recoveryPoint)}`);
}

let next = log.logEndOffset;
for (let round = 0; round < MAX_POOLS; round++) {
  const pool: GeneratedBatch[] = [];
  for (let i = 0; i < POOL; i++) {
    const batch = generatedBatch(next);
    pool.push(batch);
    next += batch.count;
  }
  if (round === 0) say('appending');
  for (let i = 0; i < pool.length; i++) {
    const { bytes, timestamp } = pool[i];
    const result = log.append(bytes, { leaderEpoch: 1, now: timestamp, assignOffsets: true });
    // A failed flush rejects: unhandled, it ends the process, which the parent reports.
    if (config.flushMode === 'sync') void result.durable.then(() => (acked = Math.max(acked, result.lastOffset)));
    if (i % BURST < BURST - 1) continue;
    await nextTurn();
    report();
  }
}
say('done');
// Stay alive for the kill, still reporting flushes: the parent counts a child that got this far
// as killed too late.
setInterval(report, 5);
