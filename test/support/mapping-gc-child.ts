/**
 * A process (run with --trace-gc) that maps the segments of `count` partition logs in mmap mode,
 * each of `segmentBytes` (an append each: a segment is mapped by its first), closes them, and prints how many bytes it held mapped at once
 * (test/storage/next-segment.test.ts: mappings must not make V8 collect the whole heap).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendGenerated, openLog, testConfig } from './storage-fixtures.js';

const [count, segmentBytes] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'sluice-mapping-gc-'));
try {
  const logs = Array.from({ length: count }, (_, i) => openLog(join(dir, `p-${i}`), testConfig({ appendMode: 'mmap', segmentBytes })));
  for (const log of logs) appendGenerated(log, 1);
  // A cold segment's file is as long as its mapping.
  const mapped = logs.reduce((sum, _, i) => {
    const partition = join(dir, `p-${i}`);
    const segment = readdirSync(partition).find((f) => f.endsWith('.log'))!;
    return sum + statSync(join(partition, segment)).size;
  }, 0);
  for (const log of logs) await log.close();
  process.stdout.write(`mapped ${mapped}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
