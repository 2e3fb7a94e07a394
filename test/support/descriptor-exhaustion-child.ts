/**
 * The process test/storage/descriptor-cache.test.ts runs under a low `prlimit --nofile`: it
 * fills the process's descriptor table with files opened outside a DescriptorCache, then uses
 * log files through the cache, whose own budget is far from reached, so only the operating
 * system's EMFILE can stop it. Prints one JSON line, `{"result": ...}`, last.
 */
import { closeSync, openSync, readSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescriptorCache } from '../../src/storage/descriptor-cache.js';

const [dir] = process.argv.slice(2);
/** Larger than the process limit: the cache would never evict on its own account. */
const BUDGET = 10_000;
const IDLE_FILES = 16;
const LATER_FILES = 24;

const contentOf = (name: string): string => `contents of ${name}`;

function readAllOf(fd: number): string {
  const buf = Buffer.alloc(256);
  return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
}

/** Descriptors of this process open on files in `dir`. */
function openInDir(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)) n++;
    } catch {
      // The descriptor readdir itself used is closed by now.
    }
  }
  return n;
}

/** Opens /dev/null until the process has no descriptor left; returns them. */
function hoardAll(): number[] {
  const held: number[] = [];
  for (;;) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EMFILE') throw e;
      return held;
    }
  }
}

function makeFiles(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const path = join(dir, `${prefix}-${i}`);
    writeFileSync(path, contentOf(`${prefix}-${i}`));
    return path;
  });
}

// 1. A cache holding idle descriptors: EMFILE makes it give some back, and the use goes on.
const cache = new DescriptorCache(BUDGET);
const idle = makeFiles('idle', IDLE_FILES).map((p) => cache.file(p, false));
const later = makeFiles('later', LATER_FILES).map((p) => cache.file(p, false));
const [loanPath] = makeFiles('loan', 1);
const loaned = cache.file(loanPath, false);
for (const f of idle) f.use(() => undefined);
const openBefore = cache.open;
let held = hoardAll();
const reads = later.map((f, i) => f.use(readAllOf) === contentOf(`later-${i}`));
// An asynchronous loan meets EMFILE the same way.
const asyncRead = readAllOf(await loaned.acquire()) === contentOf('loan-0');
loaned.release();
const sheddingStats = { ...cache.stats };
const cacheOpen = cache.open;
// Counting needs a descriptor of its own.
closeSync(held.pop()!);
const realOpen = openInDir();
for (const fd of held) closeSync(fd);

// 2. A cache with nothing idle to give back: the use fails, and the cache's count stays true.
const empty = new DescriptorCache(BUDGET);
const lone = empty.file(join(dir, 'idle-1'), false);
held = hoardAll();
let failure: string | null = null;
try {
  lone.use(() => undefined);
} catch (e) {
  failure = (e as NodeJS.ErrnoException).code ?? String(e);
}
const openAfterFailure = empty.open;
closeSync(held.pop()!);
const readAfterRoom = lone.use(readAllOf) === contentOf('idle-1');
const openAfterRoom = empty.open;
for (const fd of held) closeSync(fd);

process.stdout.write(
  `${JSON.stringify({
    result: {
      openBefore,
      reads,
      asyncRead,
      stats: sheddingStats,
      cacheOpen,
      realOpen,
      failure,
      openAfterFailure,
      readAfterRoom,
      openAfterRoom,
    },
  })}\n`,
);
