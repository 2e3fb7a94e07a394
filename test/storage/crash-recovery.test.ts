import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { nativeAddon } from '../../src/native/addon.js';
import { batchSizeAt } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import type { AppendMode, FlushMode, LogConfig } from '../../src/storage/log-config.js';
import type { AppendChildStart } from '../support/append-child.js';
import {
  assertGeneratedPrefix,
  assertOnlySegmentFiles,
  assertReadsFind,
  openLog,
  readBatches,
  tempDir,
  testConfig,
} from '../support/storage-fixtures.js';

/**
 * Kills a process appending to a partition log with SIGKILL at random moments, then recovers
 * the log and checks it, again and again on the same directories: the page cache survives a
 * SIGKILL, so this is the crash of a broker process, not of the machine.
 */

/** SLUICE_CRASH_KILLS for a longer hunt; CI's 100 cover every append and flush mode many times. */
const KILLS = Number(process.env.SLUICE_CRASH_KILLS ?? 100);
/** Children starting up while one appends: start-up costs several kill cycles. */
const STARTING_AHEAD = 3;
/** The longest a child appends before it is killed, in ms: about one pool of batches. */
const MAX_RUN_MS = 25;
/** A log past this size starts over in a fresh directory, so checking it stays cheap. */
const MAX_LOG_BYTES = 2 << 20;

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD_SOURCE = fileURLToPath(new URL('../support/append-child.ts', import.meta.url));
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

const modes: { appendMode: AppendMode; flushMode: FlushMode }[] = [
  { appendMode: 'write', flushMode: 'async' },
  { appendMode: 'write', flushMode: 'sync' },
  { appendMode: 'mmap', flushMode: 'async' },
  { appendMode: 'mmap', flushMode: 'sync' },
];

/**
 * The child compiled to JavaScript once, by the project's own tsc: under tsx a child spends
 * about 0.7 s of CPU starting, under plain node about 0.25 s, and 200 of them must fit on two
 * cores. The output directory passes for the package (type module, with node_modules and the
 * native addon linked in), so bare imports and the addon resolve as they do from the sources.
 */
function compileChild(): { script: string; cleanup: () => void } {
  const out = tempDir('append-child');
  try {
    const options = ['--ignoreConfig', '--noCheck', '--module', 'nodenext', '--target', 'es2022', '--rootDir', REPO_ROOT, '--outDir', out.dir];
    execFileSync(process.execPath, [TSC, ...options, CHILD_SOURCE], { stdio: 'pipe' });
    writeFileSync(join(out.dir, 'package.json'), '{ "type": "module" }\n');
    for (const link of ['node_modules', 'native']) symlinkSync(join(REPO_ROOT, link), join(out.dir, link));
  } catch (e) {
    out.cleanup();
    throw e;
  }
  return { script: join(out.dir, 'test/support/append-child.js'), cleanup: out.cleanup };
}

/** What a killed child said before it died. */
interface ChildReport {
  /** Its highest reported recovery point, or 0. */
  flushed: number;
  /** Its highest acknowledged offset, or -1. */
  acked: number;
  /** It had appended all it may before the kill came. */
  done: boolean;
}

/** One append-child process, from start-up to SIGKILL. */
class AppendChild {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines = new EventEmitter();
  private readonly seen = new Map<string, number[]>();
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exit: string | null = null;
  private stderr = '';
  private readonly report: ChildReport = { flushed: 0, acked: -1, done: false };

  constructor(script: string) {
    const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_LOG_LEVEL: 'silent' };
    delete env.NODE_TEST_CONTEXT;
    this.proc = spawn(process.execPath, [script], { cwd: REPO_ROOT, env });
    let partial = '';
    this.proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      // A line cut short by the kill says nothing.
      partial = lines.pop() ?? '';
      for (const line of lines) this.onLine(line);
    });
    this.proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    // A child that died before reading its start line is reported by waitFor, not by EPIPE.
    this.proc.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.proc.on('close', (code, signal) => {
        this.exit = `exited with ${code ?? signal}: ${this.stderr}`;
        if (this.lines.listenerCount('error') > 0) this.lines.emit('error', new Error(`append child ${this.exit}`));
        resolve({ code, signal });
      });
    });
  }

  private onLine(line: string): void {
    const [kind, ...rest] = line.split(' ');
    const args = rest.map(Number);
    if (kind === 'flushed') this.report.flushed = args[0];
    if (kind === 'acked') this.report.acked = args[0];
    if (kind === 'done') this.report.done = true;
    this.seen.set(kind, args);
    this.lines.emit(kind, args);
  }

  private async waitFor(kind: string): Promise<number[]> {
    const args = this.seen.get(kind);
    if (args) return args;
    if (this.exit !== null) throw new Error(`append child ${this.exit}`);
    const [emitted] = (await once(this.lines, kind)) as [number[]];
    return emitted;
  }

  /**
   * Lets the child open the log (once it has loaded everything); resolves with the log as it
   * found it, once the child is appending.
   */
  async start(start: AppendChildStart): Promise<{ logEndOffset: number; truncatedBytes: number }> {
    await this.waitFor('ready');
    this.proc.stdin.write(`${JSON.stringify(start)}\n`);
    const [logEndOffset, truncatedBytes] = await this.waitFor('opened');
    await this.waitFor('appending');
    return { logEndOffset, truncatedBytes };
  }

  /** Resolves once the child has had a batch acknowledged (sync flush). */
  async acked(): Promise<void> {
    await this.waitFor('acked');
  }

  /** SIGKILL, wherever the child is; resolves with what it reported before dying. */
  async kill(): Promise<ChildReport> {
    this.proc.kill('SIGKILL');
    const { code, signal } = await this.exited;
    assert.equal(signal, 'SIGKILL', `the append child ended by itself with ${code}: ${this.stderr}`);
    return this.report;
  }

  /** Ends the child, whatever it is doing, once the test is over. */
  async stop(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** One log directory crashed over and over in one mode, and what is known of it. */
interface Lane {
  mode: (typeof modes)[number];
  config: Partial<LogConfig>;
  dir: string;
  cleanup: () => void;
  /** The log end the last check found; the log was then closed cleanly. */
  verifiedEnd: number;
  stats: {
    kills: number;
    /** Kills that came after the child had appended all it may. */
    late: number;
    /** Kills whose recovery cut off part of a batch (not just zeros past the data). */
    torn: number;
    tornBytes: number;
    /** All bytes recovery cut, mmap preallocation included. */
    truncatedBytes: number;
    recoveredSegments: number;
    acked: number;
    recordsChecked: number;
    freshLogs: number;
  };
}

function newLane(mode: Lane['mode']): Lane {
  const config = { ...mode, segmentBytes: 64 * 1024, indexIntervalBytes: 1024, flushMs: 10, flushMessages: 2000 };
  const stats = { kills: 0, late: 0, torn: 0, tornBytes: 0, truncatedBytes: 0, recoveredSegments: 0, acked: 0, recordsChecked: 0, freshLogs: 0 };
  return { mode, config, ...tempDir('crash'), verifiedEnd: 0, stats };
}

/** Starts the lane over in a fresh directory once its log has grown large. */
function startOver(lane: Lane): void {
  lane.cleanup();
  Object.assign(lane, tempDir('crash'), { verifiedEnd: 0 });
  lane.stats.freshLogs++;
}

/** The newest .log file and its bytes as the kill left them. */
function lastSegment(dir: string): { path: string; bytes: Buffer } | null {
  const name = readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .at(-1);
  return name ? { path: join(dir, name), bytes: readFileSync(join(dir, name)) } : null;
}

function countNonZero(bytes: Buffer): number {
  let n = 0;
  for (const b of bytes) if (b !== 0) n++;
  return n;
}

/** Whether `bytes` start with a whole, valid batch at `offset`, which would continue the log. */
function startsWithBatchAt(bytes: Buffer, offset: number): boolean {
  try {
    return Number(decodeRecordBatch(bytes.subarray(0, batchSizeAt(bytes, 0))).baseOffset) === offset;
  } catch {
    return false;
  }
}

/**
 * Recovers the log a child was killed over, trusting the segments below the child's last
 * recovery point or none, and checks it; leaves it closed cleanly. Returns the log's size.
 */
async function recoverAndCheck(lane: Lane, report: ChildReport, trustFlushed: boolean): Promise<number> {
  // The previous check closed the log cleanly: everything up to verifiedEnd is on disk too.
  const flushed = Math.max(lane.verifiedEnd, report.flushed);
  const killed = lastSegment(lane.dir);
  const log = openLog(lane.dir, testConfig(lane.config), false, trustFlushed ? flushed : 0);
  let size: number;
  try {
    const end = assertGeneratedPrefix(readBatches(log));
    assert.equal(end, log.logEndOffset, 'every offset below the log end is served');
    assert.ok(end >= flushed, `log end ${end} is below the recovery point ${flushed}`);
    if (lane.config.flushMode === 'sync') assert.ok(end > report.acked, `acknowledged offset ${report.acked} is lost: log end ${end}`);
    assertOnlySegmentFiles(log);
    assertReadsFind(log, Array.from({ length: Math.min(end, 20) }, () => randomInt(end)));
    lane.stats.truncatedBytes += log.loadReport.truncatedBytes;
    lane.stats.recoveredSegments += log.loadReport.recoveredSegments;
    lane.stats.recordsChecked += end;
    lane.verifiedEnd = end;
    size = log.size;
  } finally {
    await log.close();
  }
  if (killed) {
    const cut = killed.bytes.subarray(statSync(killed.path, { throwIfNoEntry: false })?.size ?? 0);
    // The page cache outlives the process: a kill loses at most the batch being written.
    assert.ok(!startsWithBatchAt(cut, lane.verifiedEnd), `recovery cut a whole batch at ${lane.verifiedEnd}`);
    const torn = countNonZero(cut);
    if (torn > 0) lane.stats.torn++;
    lane.stats.tornBytes += torn;
  }
  return size;
}

/** One cycle: the child opens the lane's log and appends until killed; then recover and check. */
async function killCycle(lane: Lane, child: AppendChild, trustFlushed: boolean): Promise<void> {
  const opened = await child.start({ dir: lane.dir, recoveryPoint: trustFlushed ? lane.verifiedEnd : 0, config: lane.config });
  assert.deepEqual(opened, { logEndOffset: lane.verifiedEnd, truncatedBytes: 0 }, 'a log closed cleanly reopens unchanged');
  // With sync flush, every other kill waits for an acknowledgement, so that one is at stake.
  if (lane.config.flushMode === 'sync' && lane.stats.kills % 2 === 0) await child.acked();
  await sleep(randomInt(MAX_RUN_MS + 1));
  const report = await child.kill();
  lane.stats.kills++;
  if (report.done) lane.stats.late++;
  lane.stats.acked += Math.max(0, report.acked + 1 - opened.logEndOffset);
  if ((await recoverAndCheck(lane, report, trustFlushed)) > MAX_LOG_BYTES) startOver(lane);
}

test('mmap append mode has the native addon in CI', () => {
  if (process.env.CI) assert.ok(nativeAddon, 'the native addon must be built in CI: without it mmap mode is never exercised');
});

test(`a log killed ${KILLS} times mid-append always recovers to a valid prefix of what was written`, async (t) => {
  const compiled = compileChild();
  const lanes = modes.map(newLane);
  // One child appends at a time, so the checks never fall behind children still appending.
  const starting: AppendChild[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      while (starting.length < STARTING_AHEAD && starting.length < KILLS - k) starting.push(new AppendChild(compiled.script));
      const lane = lanes[k % lanes.length];
      // Every other round trusts the segments below the last recovery point, as a broker with
      // a recovery-point checkpoint would; the rest check everything.
      const trustFlushed = Math.floor(k / lanes.length) % 2 === 1;
      const child = starting.shift()!;
      try {
        await killCycle(lane, child, trustFlushed);
      } catch (e) {
        const { appendMode, flushMode } = lane.mode;
        throw new Error(`${appendMode} append, ${flushMode} flush, cycle ${k + 1} of ${KILLS}: ${(e as Error).message}`, { cause: e });
      } finally {
        await child.stop();
      }
    }
  } finally {
    await Promise.all(starting.map((c) => c.stop()));
    for (const lane of lanes) lane.cleanup();
    compiled.cleanup();
  }
  for (const { mode, stats: s } of lanes) {
    t.diagnostic(
      `${mode.appendMode}/${mode.flushMode}: ${s.kills} kills (${s.late} after the child had finished), ` +
        `${s.torn} cut a partial batch (${s.tornBytes} B), ${s.truncatedBytes} B truncated in all, ` +
        `${s.recoveredSegments} segments recovered, ${s.acked} records acked, ${s.recordsChecked} records checked, ${s.freshLogs} fresh logs`,
    );
  }
  t.diagnostic(`${lanes.reduce((n, l) => n + l.stats.kills, 0)} kills in all${nativeAddon ? '' : ' (no native addon: mmap mode fell back to write mode)'}`);
});
