import assert from 'node:assert/strict';
import { existsSync, fdatasync, mkdirSync, read, readdirSync, readlinkSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CachedFile, DescriptorCache, descriptorBudget } from '../../src/storage/descriptor-cache.js';
import { StorageError } from '../../src/storage/storage-error.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { tempDir } from '../support/storage-fixtures.js';

const EXHAUSTION_CHILD = new URL('../support/descriptor-exhaustion-child.ts', import.meta.url).pathname;

describe('DescriptorCache', () => {
  let temp: ReturnType<typeof tempDir>;
  let cases = 0;
  /** The current test's directory: counting descriptors under it sees that test's files only. */
  let dir: string;

  before(() => {
    temp = tempDir('descriptors');
  });
  after(() => temp.cleanup());

  function freshDir(): string {
    dir = join(temp.dir, `case-${cases++}`);
    mkdirSync(dir);
    return dir;
  }

  const contentOf = (name: string): string => `the bytes of ${name}`;

  /** Files `name-0` .. `name-(count-1)` holding contentOf(their name), under the budget of `cache`. */
  function makeFiles(cache: DescriptorCache, count: number, name = 'f'): CachedFile[] {
    const d = freshDir();
    return Array.from({ length: count }, (_, i) => {
      const path = join(d, `${name}-${i}`);
      writeFileSync(path, contentOf(`${name}-${i}`));
      return cache.file(path, false);
    });
  }

  /** What the kernel has open for this process among the current test's files. */
  function openPaths(): string[] {
    const out: string[] = [];
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        if (target.startsWith(`${dir}/`)) out.push(target);
      } catch {
        // The descriptor readdir used for the listing is gone by now.
      }
    }
    return out.sort();
  }

  function readText(fd: number): string {
    const buf = Buffer.alloc(256);
    return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
  }

  function readTextAsync(fd: number): Promise<string> {
    const buf = Buffer.alloc(256);
    return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, 0, (err, n) => (err ? reject(err) : resolve(buf.toString('utf8', 0, n)))));
  }

  test('never holds more descriptors than its limit, whatever the number of files used', () => {
    const limit = 8;
    const cache = new DescriptorCache(limit);
    const files = makeFiles(cache, 300);
    // A fixed pseudo-random order: hot files come back while cold ones go by.
    let seed = 7;
    for (let step = 0; step < 1500; step++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const i = seed % (step % 3 === 0 ? files.length : 12);
      const text = files[i].use((fd) => {
        assert.ok(openPaths().length <= limit, `descriptors open during a use: ${openPaths().length}`);
        return readText(fd);
      });
      assert.equal(text, contentOf(`f-${i}`));
      const open = openPaths().length;
      assert.ok(open <= limit, `step ${step}: ${open} descriptors open`);
      assert.equal(cache.open, open, 'the cache counts what the kernel has open');
    }
    assert.equal(cache.open, limit, 'idle descriptors are kept up to the limit');
    assert.ok(cache.stats.evicted >= files.length - limit, `every file was opened, so most were closed again: ${cache.stats.evicted} evictions`);
    for (const f of files) f.close();
    assert.deepEqual(openPaths(), []);
    assert.equal(cache.open, 0);
  });

  test('closes the least recently used file first', () => {
    const cache = new DescriptorCache(3);
    const [a, b, c, d] = makeFiles(cache, 4);
    const name = (f: CachedFile): string => f.path;
    for (const f of [a, b, c, a]) f.use(() => undefined);
    d.use(() => undefined);
    assert.deepEqual(openPaths(), [a, c, d].map(name).sort(), 'b, used longest ago, made room for d');
    b.use(() => undefined);
    assert.deepEqual(openPaths(), [a, d, b].map(name).sort(), 'then c, as a was used after it');
    a.use(() => undefined);
    c.use(() => undefined);
    assert.deepEqual(openPaths(), [a, b, c].map(name).sort(), 'a stays open: it was just used');
  });

  test('nested uses may pass the limit while they run, and fall back under it afterwards', () => {
    const cache = new DescriptorCache(2);
    const files = makeFiles(cache, 5);
    const nest = (i: number): number => (i === files.length ? openPaths().length : files[i].use(() => nest(i + 1)));
    assert.equal(nest(0), 5, 'five files in use at once are five descriptors');
    assert.ok(openPaths().length <= 2, `after the uses: ${openPaths().join(', ')}`);
    assert.equal(cache.open, openPaths().length);
  });

  test('loans beyond the limit wait, and each release lets the next one in', async () => {
    const limit = 4;
    const cache = new DescriptorCache(limit);
    const files = makeFiles(cache, 24);
    const granted: { index: number; fd: number }[] = [];
    const loans = files.map((f, index) => f.acquire().then((fd) => granted.push({ index, fd })));
    await nextTurn();
    assert.equal(granted.length, limit);
    assert.equal(cache.waiters, files.length - limit);
    let released = 0;
    while (released < files.length) {
      const { index, fd } = granted[released];
      // The descriptor lent is the file's own, even for files that waited.
      assert.equal(await readTextAsync(fd), contentOf(`f-${index}`));
      files[index].release();
      released++;
      await nextTurn();
      assert.equal(granted.length, Math.min(files.length, limit + released), `after ${released} releases`);
      assert.ok(openPaths().length <= limit, `after ${released} releases: ${openPaths().length} open`);
    }
    await Promise.all(loans);
    assert.deepEqual(granted.map((g) => g.index).sort((x, y) => x - y), files.map((_, i) => i));
    assert.equal(cache.waiters, 0);
  });

  test('a lower limit closes idle files at once; a higher one lets waiting loans in', async () => {
    const cache = new DescriptorCache(6);
    const files = makeFiles(cache, 8);
    for (const f of files.slice(0, 6)) f.use(() => undefined);
    const lent = files[0];
    await lent.acquire();
    assert.equal(openPaths().length, 6);
    cache.setLimit(2);
    assert.equal(cache.open, 2, 'idle files closed down to the limit, least recently used first');
    assert.deepEqual(openPaths(), [files[0].path, files[5].path].sort(), 'the lent file stays open');
    const granted: number[] = [];
    const loans = files.slice(6).map((f, i) => f.acquire().then(() => granted.push(6 + i)));
    await nextTurn();
    assert.deepEqual(granted, [6], 'one loan took the room of the idle file; the next waits');
    cache.setLimit(6);
    await nextTurn();
    assert.deepEqual(granted, [6, 7], 'the raised limit let the waiting loan in');
    await Promise.all(loans);
    for (const f of [lent, files[6], files[7]]) f.release();
    assert.equal(cache.open, openPaths().length);
  });

  test('waiting loans are served in the order they came, each counted as one wait', async () => {
    const limit = 3;
    const cache = new DescriptorCache(limit);
    const files = makeFiles(cache, 12);
    const order: number[] = [];
    const loans = files.map((f, i) => f.acquire().then(() => order.push(i)));
    await nextTurn();
    for (let released = 0; released < files.length; released++) {
      files[order[released]].release();
      await nextTurn();
    }
    await Promise.all(loans);
    assert.deepEqual(order, files.map((_, i) => i));
    assert.equal(cache.stats.waits, files.length - limit);
  });

  test('a second loan of a file already lent needs no descriptor of its own', async () => {
    const cache = new DescriptorCache(1);
    const [a, b] = makeFiles(cache, 2);
    const fd1 = await a.acquire();
    let bLent = false;
    const loanB = b.acquire().then(() => (bLent = true));
    const fd2 = await a.acquire();
    assert.equal(fd2, fd1);
    await nextTurn();
    assert.equal(bLent, false, 'b waits while a is lent');
    a.release();
    await nextTurn();
    assert.equal(bLent, false, 'a is still lent once');
    a.release();
    await loanB;
    assert.deepEqual(openPaths(), [b.path]);
    b.release();
  });

  test('many concurrent loans with real I/O are all served, within the limit', async () => {
    const limit = 5;
    const cache = new DescriptorCache(limit);
    const files = makeFiles(cache, 40);
    let peak = 0;
    const loan = async (i: number): Promise<void> => {
      const f = files[(i * 7) % files.length];
      const fd = await f.acquire();
      try {
        peak = Math.max(peak, openPaths().length);
        assert.equal(await readTextAsync(fd), contentOf(`f-${(i * 7) % files.length}`));
        await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      } finally {
        f.release();
      }
      // Synchronous uses run between loans, as appends do between fetches.
      files[(i * 3) % files.length].use(readText);
    };
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => loan(i)));
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected'),
      [],
    );
    assert.ok(peak <= limit, `peak ${peak}`);
    assert.ok(cache.stats.waits > 0, 'some loans had to wait');
    assert.equal(cache.waiters, 0);
    assert.ok(openPaths().length <= limit);
    assert.equal(cache.open, openPaths().length);
  });

  test('a file closed while lent stays readable until the loan ends, even deleted', async () => {
    const cache = new DescriptorCache(4);
    const [a] = makeFiles(cache, 1);
    const fd = await a.acquire();
    a.close();
    unlinkSync(a.path);
    assert.equal(await readTextAsync(fd), contentOf('f-0'));
    assert.deepEqual(openPaths(), [`${a.path} (deleted)`]);
    a.release();
    assert.deepEqual(openPaths(), []);
    assert.equal(cache.open, 0);
    assert.throws(
      () => a.use(() => undefined),
      (e: unknown) => e instanceof StorageError && e.kind === 'log-closed',
    );
    await assert.rejects(a.acquire(), (e: unknown) => e instanceof StorageError && e.kind === 'log-closed');
  });

  test('a renamed file reopens under its new name', () => {
    const cache = new DescriptorCache(1);
    const [a, b] = makeFiles(cache, 2);
    a.use(() => undefined);
    // Renamed while open, then closed to make room: the reopen must take the new name.
    const renamed = `${a.path}.deleted`;
    renameSync(a.path, renamed);
    a.path = renamed;
    b.use(() => undefined);
    assert.deepEqual(openPaths(), [b.path], 'a was closed');
    const opened = cache.stats.opened;
    assert.equal(a.use(readText), contentOf('f-0'));
    assert.equal(cache.stats.opened, opened + 1, 'a was opened again');
    assert.deepEqual(openPaths(), [renamed]);
    // Renamed while closed.
    const again = `${renamed}.again`;
    b.use(() => undefined);
    renameSync(renamed, again);
    a.path = again;
    assert.equal(a.use(readText), contentOf('f-0'));
    assert.deepEqual(openPaths(), [again]);
  });

  test('creates a file at once when asked to, and opens nothing for one that is not', () => {
    const cache = new DescriptorCache(4);
    const created = cache.file(join(freshDir(), 'new'), true);
    assert.ok(existsSync(created.path));
    assert.deepEqual(openPaths(), [created.path], 'kept open while the budget allows');
    const missing = cache.file(join(dir, 'missing'), false);
    assert.equal(cache.open, 1);
    assert.throws(() => missing.use(() => undefined), { code: 'ENOENT' });
    assert.equal(cache.open, 1, 'a failed open is not counted');
    created.close();
    assert.equal(cache.open, 0);
  });

  test('survives EMFILE from the operating system by closing idle descriptors', async () => {
    const run = await runCommand('prlimit', ['--nofile=64:64', process.execPath, '--import', 'tsx', EXHAUSTION_CHILD, freshDir()], { timeoutMs: 60_000 });
    assertSucceeded(run, 'the descriptor exhaustion child');
    const line = run.stdout.split('\n').find((l) => l.startsWith('{"result"'));
    assert.ok(line, run.stdout);
    const r = (JSON.parse(line) as { result: Record<string, unknown> }).result as {
      openBefore: number;
      reads: boolean[];
      asyncRead: boolean;
      stats: DescriptorCache['stats'];
      cacheOpen: number;
      realOpen: number;
      failure: string | null;
      openAfterFailure: number;
      readAfterRoom: boolean;
      openAfterRoom: number;
    };
    assert.equal(r.openBefore, 16);
    assert.equal(r.reads.length, 24);
    assert.ok(r.reads.every(Boolean), `reads: ${JSON.stringify(r.reads)}`);
    assert.equal(r.asyncRead, true);
    assert.ok(r.stats.exhausted > 0, 'the operating system did refuse descriptors');
    assert.ok(r.stats.evicted > 0);
    assert.equal(r.cacheOpen, r.realOpen, 'the cache still counts what is open');
    assert.match(run.stdout, /the process ran out of descriptors: closed idle log files/);
    // With nothing idle to give back, the error reaches the caller and nothing is miscounted.
    assert.equal(r.failure, 'EMFILE');
    assert.equal(r.openAfterFailure, 0);
    assert.equal(r.readAfterRoom, true);
    assert.equal(r.openAfterRoom, 1);
  });

  test('the budget is the configured one, or three quarters of the process limit', () => {
    assert.equal(descriptorBudget(20_000, -1), 15_000);
    assert.equal(descriptorBudget(20_000, 500), 500);
    assert.equal(descriptorBudget(256, -1), 192);
    assert.equal(descriptorBudget(40, -1), 64);
    assert.equal(descriptorBudget(-1, -1), 65_536);
  });
});
