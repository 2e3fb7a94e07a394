import { renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { log } from '../log.js';
import { nativeAddon, type MappedRegion } from '../native/addon.js';
import { freeBytes } from './free-space.js';

/**
 * The next segment of a partition in mmap append mode, made ready on the threadpool while the
 * active one fills (RocketMQ's AllocateMappedFileService): its file created, its blocks
 * reserved, mapped, and every page faulted in by a write. A roll renames it into place and
 * appends into warm memory, instead of stalling the event loop while segment.bytes are faulted in.
 *
 * Until a roll takes it, the file is named `*.next.tmp`, which a log's load deletes: a crash
 * while one waits leaves nothing that could pass for a segment. It holds no descriptor (the
 * mapping keeps the file open) but does hold segment.bytes of page cache.
 */
interface NextSegment {
  readonly dir: string;
  readonly path: string;
  readonly capacity: number;
  readonly mlock: boolean;
  /** The active segment file it follows: only that one may drop it. */
  owner: object;
  /** Null until ready. */
  mapping: MappedRegion | null;
  dropped: boolean;
}

/**
 * A next segment reserves at most this share of the free space. On a filling disk, the data
 * of the active segments comes first: the roll then creates its segment itself.
 */
const FREE_SPACE_SHARE = 8;

const byDir = new Map<string, NextSegment>();
/**
 * Preparations run one at a time: each holds a threadpool thread for as long as faulting in
 * segment.bytes takes (seconds for 1 GiB), and the other threads serve fdatasync and file I/O.
 */
const queue: NextSegment[] = [];
let running = false;
let named = 0;

/**
 * For tests and metrics: preparations asked for, finished, failed, and not started for want
 * of free space; rolls that found one ready or not (a log's first segment counts as missed).
 */
export const nextSegmentStats = { requested: 0, prepared: 0, taken: 0, missed: 0, failed: 0, lowSpace: 0 };
const settledWaiters: (() => void)[] = [];

/** Resolves once no preparation is queued or running (for tests). */
export function nextSegmentsSettled(): Promise<void> {
  if (!running && queue.length === 0) return Promise.resolve();
  return new Promise((resolve) => settledWaiters.push(resolve));
}

/**
 * Makes sure a next segment for `dir` is prepared or under way, followed by `owner`. One of
 * another size or lock setting (the config changed) is dropped for a new one.
 */
export function prepareNextSegment(dir: string, capacity: number, mlock: boolean, owner: object): void {
  const current = byDir.get(dir);
  if (current && current.capacity === capacity && current.mlock === mlock) {
    current.owner = owner;
    return;
  }
  if (current) drop(current);
  if (!roomFor(dir, capacity)) {
    nextSegmentStats.lowSpace++;
    return;
  }
  nextSegmentStats.requested++;
  // Unique names: a preparation dropped while it runs may finish after the next one started.
  const next: NextSegment = { dir, path: join(dir, `${process.pid}-${++named}.next.tmp`), capacity, mlock, owner, mapping: null, dropped: false };
  byDir.set(dir, next);
  queue.push(next);
  runQueue();
}

function roomFor(dir: string, capacity: number): boolean {
  const free = freeBytes(dir);
  // Unmeasured: the preparation meets whatever is wrong with the directory, and reports it.
  return free === null || free >= capacity * FREE_SPACE_SHARE;
}

/** A new active segment file in `dir` follows whatever next segment is there. */
export function adoptNextSegment(dir: string, owner: object): void {
  const next = byDir.get(dir);
  if (next) next.owner = owner;
}

/**
 * The prepared segment renamed to `path`, with its mapping; null when none is ready (a roll
 * that outran the preparation, a config that changed), and the caller maps a file itself.
 */
export function takeNextSegment(path: string, capacity: number, mlock: boolean): MappedRegion | null {
  const next = byDir.get(dirname(path));
  if (!next?.mapping || next.capacity !== capacity || next.mlock !== mlock) {
    nextSegmentStats.missed++;
    return null;
  }
  byDir.delete(next.dir);
  try {
    renameSync(next.path, path);
  } catch (e) {
    // The caller's own attempt meets the same failure, and reports it as its own.
    log.warn({ path: next.path, err: e }, 'could not take the prepared next segment');
    drop(next);
    nextSegmentStats.missed++;
    return null;
  }
  nextSegmentStats.taken++;
  return next.mapping;
}

/** Drops the next segment of `dir` if `owner` follows it: the owner takes no more appends. */
export function dropNextSegment(dir: string, owner: object): void {
  const next = byDir.get(dir);
  if (next?.owner === owner) drop(next);
}

function drop(next: NextSegment): void {
  next.dropped = true;
  if (byDir.get(next.dir) === next) byDir.delete(next.dir);
  const waiting = queue.indexOf(next);
  if (waiting >= 0) queue.splice(waiting, 1);
  else if (next.mapping) release(next, next.mapping);
  // Else it is being prepared: its callback releases it.
}

function release(next: NextSegment, mapping: MappedRegion | null): void {
  if (mapping) nativeAddon!.unmap(mapping);
  next.mapping = null;
  try {
    rmSync(next.path, { force: true });
  } catch (e) {
    log.warn({ path: next.path, err: e }, 'could not remove an unused next segment; the next start will');
  }
}

function runQueue(): void {
  if (running) return;
  const next = queue.shift();
  if (!next) {
    for (const resolve of settledWaiters.splice(0)) resolve();
    return;
  }
  running = true;
  // Touching each page from the thread measured fastest for the appends that follow, at about
  // the same total cost as the alternatives (bench/storage/mmap-warm.ts, docs/zero-copy.md).
  nativeAddon!.prepareSegment(next.path, next.capacity, 'touch', next.mlock, (err, mapping) => {
    running = false;
    if (err) {
      nextSegmentStats.failed++;
      // The roll then creates the segment itself, and meets the failure where the write path
      // has always reported it: a full disk is logged once there, not once per partition here.
      const space = err.code === 'ENOSPC' || err.code === 'EDQUOT';
      log[space ? 'debug' : 'warn']({ dir: next.dir, err }, 'could not prepare the next segment');
      if (byDir.get(next.dir) === next) byDir.delete(next.dir);
      release(next, mapping);
    } else if (next.dropped) release(next, mapping);
    else {
      nextSegmentStats.prepared++;
      next.mapping = mapping;
    }
    runQueue();
  });
}
