/**
 * A process appending to a partition log in mmap mode until its next segment reaches `phase`,
 * then printing one line of JSON and waiting to be killed (test/storage/next-segment.test.ts).
 *   preparing: right after the first append, while the next segment is being prepared
 *   prepared:  once it is ready and waiting in the directory
 *   taken:     once a roll has taken it, with batches appended into it
 */
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { nextSegmentsSettled, nextSegmentStats } from '../../src/storage/next-segment.js';
import { appendGenerated, openLog, testConfig } from './storage-fixtures.js';

const [dir, phase, segmentBytes] = process.argv.slice(2);
const log = openLog(dir, testConfig({ appendMode: 'mmap', segmentBytes: Number(segmentBytes) }), false);
appendGenerated(log, 1);
if (phase !== 'preparing') await nextSegmentsSettled();
if (phase === 'taken') {
  while (nextSegmentStats.taken === 0) appendGenerated(log, 1);
  appendGenerated(log, 3);
  // The segment after it is under way from the first of these appends: on a busy machine its
  // file may not exist yet.
  await nextSegmentsSettled();
}
process.stdout.write(`${JSON.stringify({ logEndOffset: log.logEndOffset, files: readdirSync(dir), stats: nextSegmentStats })}\n`);
await sleep(60_000);
