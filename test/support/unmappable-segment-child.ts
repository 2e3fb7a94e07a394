/**
 * A process that opens `count` partition logs in mmap mode with segments of `segmentBytes`,
 * then caps its own address space (prlimit) at what it uses plus `headroom` bytes, so that only
 * some of the logs' first appends can map their segment. It appends `batches` generated batches
 * to each, checks every log reads back exactly what was written, closes and reopens them and
 * checks again, then prints one JSON line: how many segments were mapped, and each log's end
 * and segment file length after the close
 * (test/storage/next-segment.test.ts: a segment that cannot be mapped takes positional writes).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendGenerated, assertGeneratedPrefix, openLog, readBatches, testConfig } from './storage-fixtures.js';

const [count, segmentBytes, headroom, batches] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'sluice-unmappable-'));
try {
  const config = testConfig({ appendMode: 'mmap', segmentBytes });
  const paths = Array.from({ length: count }, (_, i) => join(dir, `p-${i}`));
  const logs = paths.map((p) => openLog(p, config));
  const used = Number(/VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  execFileSync('prlimit', ['--pid', String(process.pid), `--as=${used + headroom}`]);
  for (const log of logs) appendGenerated(log, batches);
  const mapped = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir) && l.endsWith('.log')).length;
  for (const log of logs) assertGeneratedPrefix(readBatches(log));
  const ends = logs.map((log) => log.logEndOffset);
  for (const log of logs) await log.close();
  const fileLengths = paths.map((p) => statSync(join(p, readdirSync(p).find((f) => f.endsWith('.log'))!)).size);
  const reopened = paths.map((p) => openLog(p, config, true));
  for (const log of reopened) assertGeneratedPrefix(readBatches(log));
  const reopenedEnds = reopened.map((log) => log.logEndOffset);
  for (const log of reopened) await log.close();
  process.stdout.write(`${JSON.stringify({ mapped, ends, reopenedEnds, fileLengths })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
