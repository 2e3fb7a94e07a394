/**
 * A process appending to a partition log in mmap mode until its next segment reaches `phase`,
 * then printing one line of JSON and waiting to be killed (test/storage/next-segment.test.ts).
 *   preparing: right after the segment asked for it, while the next segment is being prepared
 *   prepared:  once it is ready and waiting in the directory
 *   taken:     once a roll has taken it, with batches appended into it
 */
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { nextSegmentsSettled, nextSegmentStats } from '../../src/storage/next-segment.js';
import { appendGenerated, appendUntilRequested, openLog, testConfig } from './storage-fixtures.js';

const [dir, phase, segmentBytes] = process.argv.slice(2);
const log = openLog(dir, testConfig({ appendMode: 'mmap', segmentBytes: Number(segmentBytes) }), false);
appendUntilRequested(log);
if (phase !== 'preparing') await nextSegmentsSettled();
if (phase === 'taken') {
  while (nextSegmentStats.taken === 0) appendGenerated(log, 1);
  // On until the segment after it is asked for; on a busy machine its file may not exist yet.
  appendUntilRequested(log);
  await nextSegmentsSettled();
}
process.stdout.write(`${JSON.stringify({ logEndOffset: log.logEndOffset, files: readdirSync(dir), stats: nextSegmentStats })}\n`);
await sleep(60_000);
