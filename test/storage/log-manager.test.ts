import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createInterface } from 'node:readline';
import { LogDirLockedError, LogManager, parsePartitionDir } from '../../src/storage/log-manager.js';
import { makeBatch, readAll, tempDir, testConfig } from '../support/storage-fixtures.js';

const CHILD = new URL('../support/log-manager-child.ts', import.meta.url).pathname;

function openManager(dir: string, overrides = {}): LogManager {
  return LogManager.open({
    logDirs: [dir],
    configFor: () => testConfig({ segmentBytes: 4096, ...overrides }),
    retentionCheckIntervalMs: 60_000,
    checkpointIntervalMs: 60_000,
    cleanerBackoffMs: 60_000,
  });
}

const appendTo = (m: LogManager, topic: string, partition: number, tag: string) =>
  m.getOrCreate(topic, partition).append(makeBatch(tag, 4, Date.now(), { valueBytes: 50 }), { leaderEpoch: 0, now: Date.now(), assignOffsets: true });

/** Starts the child; resolves once it has its log open, with a way to read its acks. */
function startChild(dir: string, mode: 'append' | 'hold') {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acked = -1;
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve();
      const m = /^acked (\d+)$/.exec(line);
      if (m) acked = Number(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)));
  });
  return { child, ready, acked: () => acked };
}

test('partition directory names split at the last dash', () => {
  assert.deepEqual(parsePartitionDir('my-topic-12'), { topic: 'my-topic', partition: 12 });
  assert.equal(parsePartitionDir('meta.properties'), null);
});

test('a clean shutdown writes checkpoints and a marker, and the next start trusts the logs', async () => {
  const { dir, cleanup } = tempDir('manager');
  try {
    const m = openManager(dir);
    for (let i = 0; i < 20; i++) appendTo(m, 'a-topic', i % 3, `x${i}`);
    m.get('a-topic', 1)!.deleteRecordsBefore(6);
    await m.close();
    assert.ok(existsSync(join(dir, '.kafka_cleanshutdown')));
    assert.ok(!existsSync(join(dir, '.lock')));
    const recovery = readFileSync(join(dir, 'recovery-point-offset-checkpoint'), 'utf8');
    assert.match(recovery, /^0\n3\n/);
    assert.match(recovery, /^a-topic 0 28$/m);
    assert.match(readFileSync(join(dir, 'log-start-offset-checkpoint'), 'utf8'), /^a-topic 1 6$/m);

    const again = openManager(dir);
    assert.ok(!existsSync(join(dir, '.kafka_cleanshutdown')), 'the marker goes once the logs are open');
    assert.equal(again.all().length, 3);
    for (const l of again.all()) assert.equal(l.log.loadReport.recoveredSegments, 0);
    assert.equal(again.get('a-topic', 1)!.logStartOffset, 6);
    assert.equal(readAll(again.get('a-topic', 0)!).length, 28);
    await again.close();
  } finally {
    cleanup();
  }
});

test('checkpoint writes run one at a time off the loop, each with the offsets of when it began', async () => {
  const { dir, cleanup } = tempDir('checkpoints');
  try {
    const m = openManager(dir);
    appendTo(m, 'a-topic', 0, 'first');
    const running = m.writeCheckpoints();
    assert.equal(m.writeCheckpoints(), running, 'a call before a write begins joins it');
    await new Promise(setImmediate);
    // Calls made while one write runs share a single write that starts after it.
    const waiting = [m.writeCheckpoints(), m.writeCheckpoints(), m.writeCheckpoints()];
    assert.notEqual(waiting[0], running);
    assert.ok(waiting.every((w) => w === waiting[0]));
    m.get('a-topic', 0)!.deleteRecordsBefore(2);
    assert.deepEqual(await running, []);
    assert.deepEqual(await waiting[0], []);
    assert.match(readFileSync(join(dir, 'log-start-offset-checkpoint'), 'utf8'), /^0\n1\na-topic 0 2\n$/);
    assert.ok(!existsSync(join(dir, 'log-start-offset-checkpoint.tmp')));
    await m.close();
  } finally {
    cleanup();
  }
});

test('a second broker on the same directory is refused, in this process or another', async () => {
  const { dir, cleanup } = tempDir('lock');
  try {
    const m = openManager(dir);
    assert.throws(() => openManager(dir), LogDirLockedError);
    await m.close();
    const { child, ready } = startChild(dir, 'hold');
    await ready;
    assert.throws(() => openManager(dir), (e) => e instanceof LogDirLockedError && /process \d+/.test(e.message));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The holder is gone: its lock is stale and is taken over.
    const after = openManager(dir);
    await after.close();
  } finally {
    cleanup();
  }
});

test('after a kill -9 the logs are recovered and every acknowledged append is there', async () => {
  const { dir, cleanup } = tempDir('unclean');
  try {
    const { child, ready, acked } = startChild(dir, 'append');
    await ready;
    while (acked() < 500) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const m = openManager(dir, { flushMode: 'sync', segmentBytes: 64 * 1024 });
    const log = m.get('events', 0)!;
    assert.ok(log.loadReport.recoveredSegments > 0, 'an unclean stop means recovery');
    assert.ok(log.logEndOffset > acked(), `acked ${acked()} but the log ends at ${log.logEndOffset}`);
    const records = readAll(log);
    assert.deepEqual(records.map((r) => r.offset), [...records.keys()]);
    await m.close();
  } finally {
    cleanup();
  }
});

test('retention runs through the manager; deleting a partition removes its directory', async () => {
  const { dir, cleanup } = tempDir('manager-retention');
  try {
    const m = openManager(dir, { retentionBytes: 0 });
    for (let i = 0; i < 40; i++) appendTo(m, 't', 0, `r${i}`);
    const before = m.get('t', 0)!.segmentCount;
    assert.ok(before > 1);
    assert.equal(m.applyRetention(Date.now()), before - 1);
    m.delete('t', 0);
    assert.equal(m.get('t', 0), undefined);
    assert.ok(!existsSync(join(dir, 't-0')));
    await m.close();
    // A deletion interrupted earlier is finished at the next start.
    mkdirSync(join(dir, 'gone-0.abc-delete'));
    writeFileSync(join(dir, 'gone-0.abc-delete', 'x'), 'x');
    const again = openManager(dir);
    assert.ok(!existsSync(join(dir, 'gone-0.abc-delete')));
    await again.close();
  } finally {
    cleanup();
  }
});

test('compacted logs are cleaned through the manager and the cleaner checkpoint is kept', async () => {
  const { dir, cleanup } = tempDir('manager-compact');
  try {
    const compact = { cleanupCompact: true, cleanupDelete: false, segmentBytes: 2048, minCleanableDirtyRatio: 0.1 };
    const m = openManager(dir, compact);
    const log = m.getOrCreate('state', 0);
    for (let i = 0; i < 60; i++) {
      log.append(makeBatch(`s${i}`, 3, Date.now(), { key: (j) => `key-${j}`, valueBytes: 40 }), { leaderEpoch: 0, now: Date.now(), assignOffsets: true });
    }
    const before = log.size;
    assert.equal(await m.cleanLogs(Date.now()), 1);
    assert.ok(log.size < before / 4, `cleaned from ${before} to ${log.size} bytes`);
    assert.ok(log.cleanerCheckpoint > 0);
    await m.close();
    assert.match(readFileSync(join(dir, 'cleaner-offset-checkpoint'), 'utf8'), new RegExp(`^state 0 ${log.cleanerCheckpoint}$`, 'm'));
    const again = openManager(dir, compact);
    assert.equal(again.get('state', 0)!.cleanerCheckpoint, log.cleanerCheckpoint);
    await again.close();
  } finally {
    cleanup();
  }
});

/** Runs `work` with a `sync` on PATH that answers `-f` as `script` says (a shell body). */
async function withSync<T>(script: string, work: () => Promise<T>): Promise<T> {
  const { dir, cleanup } = tempDir('sync-bin');
  const path = process.env.PATH;
  writeFileSync(join(dir, 'sync'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  process.env.PATH = `${dir}:${path}`;
  try {
    return await work();
  } finally {
    process.env.PATH = path;
    cleanup();
  }
}

test('a clean shutdown makes the logs durable by one sync of the file system; when that fails, no marker, and the next start recovers them', async () => {
  const { dir, cleanup } = tempDir('manager-sync');
  try {
    const m = openManager(dir);
    for (let i = 0; i < 20; i++) appendTo(m, 'a-topic', i % 2, `x${i}`);
    const failing = 'echo "sync: error syncing \'$2\': Input/output error" >&2; exit 1';
    await withSync(failing, () => m.close());
    assert.ok(!existsSync(join(dir, '.kafka_cleanshutdown')), 'no marker without the sync');
    assert.match(readFileSync(join(dir, 'recovery-point-offset-checkpoint'), 'utf8'), /^a-topic 0 0$/m, 'the recovery points stay: nothing was flushed');

    const again = openManager(dir);
    for (const l of again.all()) assert.ok(l.log.loadReport.recoveredSegments > 0, 'recovered, not trusted');
    assert.equal(readAll(again.get('a-topic', 0)!).length, 40);
    // A sync without -f complains of the option: sync(2) of every file system does instead.
    await withSync('[ "$1" = -f ] && { echo "sync: invalid option -- \'f\'" >&2; exit 1; }; exit 0', () => again.close());
    assert.ok(existsSync(join(dir, '.kafka_cleanshutdown')));
    assert.match(readFileSync(join(dir, 'recovery-point-offset-checkpoint'), 'utf8'), /^a-topic 0 40$/m);
  } finally {
    cleanup();
  }
});
