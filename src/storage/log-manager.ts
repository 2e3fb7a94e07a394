import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { copyFile, readdir, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { log } from '../log.js';
import { fsyncPath, fsyncPathOffLoop, OffsetCheckpointFile, partitionKey, type PartitionOffset } from './checkpoint-file.js';
import type { LogConfig } from './log-config.js';
import { LogCleaner } from './log-cleaner.js';
import { freeBytes } from './free-space.js';
import { PartitionLog, type LogHealthListener } from './partition-log.js';
import { fileSystemFailure, StorageError } from './storage-error.js';

const CLEAN_SHUTDOWN_MARKER = '.kafka_cleanshutdown';
const LOCK_FILE = '.lock';
const RECOVERY_POINTS = 'recovery-point-offset-checkpoint';
const LOG_START_OFFSETS = 'log-start-offset-checkpoint';
const CLEANER_OFFSETS = 'cleaner-offset-checkpoint';
const HIGH_WATERMARKS = 'replication-offset-checkpoint';


export interface TopicPartition {
  topic: string;
  partition: number;
}

interface ManagedLog extends TopicPartition {
  log: PartitionLog;
}

/** `<topic>-<partition>`: the topic may itself contain dashes, the partition is after the last. */
export function parsePartitionDir(name: string): TopicPartition | null {
  const m = /^(.+)-(\d+)$/.exec(name);
  return m ? { topic: m[1], partition: Number(m[2]) } : null;
}

export interface LogManagerOptions {
  /** log.dirs; partitions are placed on the directory holding the fewest. */
  logDirs: string[];
  /** The config of a partition's log, by topic (topic overrides over broker defaults). */
  configFor: (topic: string) => LogConfig;
  /** log.retention.check.interval.ms. */
  retentionCheckIntervalMs: number;
  /** log.flush.offset.checkpoint.interval.ms (also used for log start offsets). */
  checkpointIntervalMs: number;
  /** log.cleaner.backoff.ms: how often compacted logs are checked for cleaning. */
  cleanerBackoffMs: number;
  /** A partition's high watermark, for the checkpoint of them and as where cleaning must stop (later records may still go). */
  highWatermarkOf?: (topic: string, partition: number) => number | undefined;
  /**
   * Where cleaning must stop: the last stable offset (records past the high watermark may still
   * be truncated away, and a transaction still open may yet abort). Default: the log end.
   */
  cleanableEndOf?: (topic: string, partition: number) => number | undefined;
}

/**
 * A partition log on its way to another log directory (AlterReplicaLogDirs): Kafka's future
 * replica, `<topic>-<partition>.<uuid>-future` in the target directory.
 */
export interface LogMove extends TopicPartition {
  /** The target log directory. */
  dir: string;
  /** The future replica's directory. */
  future: string;
  /** The source files copied so far, with how they looked before the copy. */
  copied: Map<string, Stats>;
  /** Bytes copied so far: the future replica's size in DescribeLogDirs. */
  bytes: number;
}

/** In a moved partition's directory from its commit until its source copy is gone: this copy wins. */
const MOVED_MARKER = '.sluice-moved-in';
const FUTURE_SUFFIX = '-future';

/**
 * Finishes or undoes AlterReplicaLogDirs moves a crash interrupted, before anything is loaded:
 * a future replica not committed yet is deleted (its source is whole); a committed one (its
 * directory renamed into place, with the marker) wins over any copy of the partition left in
 * another directory, which is deleted. So each partition is in exactly one directory.
 */
function finishInterruptedMoves(dirs: readonly string[]): void {
  const movedIn = new Map<string, string>();
  const listings = new Map<string, string[]>();
  for (const dir of dirs) {
    try {
      listings.set(dir, readdirSync(dir));
    } catch {
      // An unreadable directory is dealt with when it is loaded.
    }
  }
  for (const [dir, names] of listings) {
    for (const name of names) {
      if (name.endsWith(FUTURE_SUFFIX)) {
        rmSync(join(dir, name), { recursive: true, force: true });
        log.info({ dir, replica: name }, 'a log directory move that did not finish was undone: the partition stays where it was');
      } else if (parsePartitionDir(name) && existsSync(join(dir, name, MOVED_MARKER))) movedIn.set(name, dir);
    }
  }
  for (const [name, target] of movedIn) {
    for (const [dir, names] of listings) {
      if (dir === target || !names.includes(name)) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
      fsyncPath(dir);
      log.info({ from: dir, to: target, partition: name }, 'a log directory move was finished: the old copy is deleted');
    }
    rmSync(join(target, name, MOVED_MARKER), { force: true });
  }
}

/**
 * Tests kill the process at a named step of a move (SLUICE_TEST_KILL_IN_MOVE), to check that a
 * crash there leaves the partition whole in one directory. `source-partly-deleted` removes one
 * file of the old copy first, as a crash in the middle of its deletion would.
 */
function testKillPoint(step: string, source?: string): void {
  if (process.env.SLUICE_TEST_KILL_IN_MOVE !== step) return;
  if (source !== undefined) {
    const first = readdirSync(source).find((n) => n.endsWith('.log'));
    if (first) unlinkSync(join(source, first));
  }
  process.kill(process.pid, 'SIGKILL');
}

const runFile = promisify(execFile);

/**
 * syncfs(2) of the file system holding `dir`, which Node does not offer: one system call makes
 * every file written there durable, where an fsync per file costs a journal commit each. A
 * `sync` without -f (not GNU coreutils) complains of the option, and sync(2) of every file
 * system does the same; any other failure is the file system's (a write-back error) and fails.
 */
async function syncFileSystem(dir: string): Promise<void> {
  try {
    await runFile('sync', ['-f', dir]);
  } catch (e) {
    if (!/option/i.test(String((e as { stderr?: unknown }).stderr ?? ''))) throw e;
    await runFile('sync', []);
  }
}

/** Why a directory cannot be used: another process holds it. */
export class LogDirLockedError extends Error {}

/**
 * Every partition log of the broker across its log directories: opening them at start (with
 * recovery after an unclean stop), creating and deleting them, the background work (retention,
 * checkpoints), and a clean shutdown that lets the next start skip recovery.
 */
export class LogManager {
  private readonly logs = new Map<string, ManagedLog>();
  /** High watermarks as the last checkpoint before this start had them. */
  private readonly checkpointedHighWatermarks = new Map<string, number>();
  private readonly dirOf = new Map<string, string>();
  /** Logs per directory: new ones go where there are fewest. */
  private readonly counts = new Map<string, number>();
  /**
   * Kafka's log directory failure model: a directory whose disk fails (an I/O error) goes
   * offline with every log in it, until a restart; the others keep serving. Why, by directory.
   */
  private readonly offline = new Map<string, string>();
  /** Told of each directory that goes offline (the replica manager gives up its leaderships there). */
  private readonly offlineListeners: ((dir: string) => void)[] = [];
  /** By directory: what hears of its logs' failures, and whether it is full. */
  private readonly health = new Map<string, LogHealthListener & { roomNeeded: number; lowestFree: number }>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly cleaner = new LogCleaner();
  /** The cleaner passes running now, if any: one log at a time. */
  private cleaning: Promise<number> | null = null;
  /** The last checkpoint write begun or waiting; the next one starts after it. */
  private checkpointTail: Promise<unknown> = Promise.resolve();
  /** A writeCheckpoints waiting for its turn, which later calls join. */
  private checkpointsQueued: Promise<string[]> | null = null;

  private constructor(private readonly opts: LogManagerOptions) {}

  /** Opens the directories, locking them unless the caller already has (`locked`). */
  static open(options: LogManagerOptions, locked = LockedLogDirs.lock(options.logDirs)): LogManager {
    const opts = { ...options, logDirs: locked.dirs };
    const manager = new LogManager(opts);
    try {
      finishInterruptedMoves(opts.logDirs);
      for (const dir of opts.logDirs) manager.loadDirOrFail(dir);
    } catch (e) {
      locked.release();
      throw e;
    }
    manager.startBackgroundWork();
    return manager;
  }

  /**
   * Loads a directory; one whose disk fails while loading goes offline, as in Kafka, unless it
   * is the last one: a broker with no working directory cannot serve.
   */
  private loadDirOrFail(dir: string): void {
    try {
      this.loadDir(dir);
    } catch (e) {
      const failure = fileSystemFailure(e, dir);
      const working = this.opts.logDirs.filter((d) => d !== dir && !this.offline.has(d));
      if (failure === null || working.length === 0) throw e;
      for (const [key, l] of this.logs) {
        if (this.dirOf.get(key) === dir) l.log.goOffline(failure.message);
      }
      this.takeOffline(dir, failure);
    }
  }

  private loadDir(dir: string): void {
    const clean = existsSync(join(dir, CLEAN_SHUTDOWN_MARKER));
    const recoveryPoints = new OffsetCheckpointFile(join(dir, RECOVERY_POINTS)).read();
    const startOffsets = new OffsetCheckpointFile(join(dir, LOG_START_OFFSETS)).read();
    const cleanerOffsets = new OffsetCheckpointFile(join(dir, CLEANER_OFFSETS)).read();
    for (const [key, hw] of new OffsetCheckpointFile(join(dir, HIGH_WATERMARKS)).read()) this.checkpointedHighWatermarks.set(key, hw);
    const started = Date.now();
    let recovered = 0;
    // A topic's partitions share its config: worked out once per topic, not 5,000 times.
    const configs = new Map<string, LogConfig>();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const name = entry.name;
      const path = join(dir, name);
      if (name.endsWith('-delete')) {
        // A topic deletion that did not finish: finish it.
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      const tp = parsePartitionDir(name);
      if (!tp || !(entry.isDirectory() || (entry.isSymbolicLink() && statSync(path).isDirectory()))) continue;
      const key = partitionKey(tp.topic, tp.partition);
      let config = configs.get(tp.topic);
      if (!config) configs.set(tp.topic, (config = this.opts.configFor(tp.topic)));
      const partitionLog = new PartitionLog(path, config, {
        cleanShutdown: clean,
        recoveryPoint: recoveryPoints.get(key) ?? 0,
        logStartOffset: startOffsets.get(key) ?? 0,
      });
      partitionLog.cleanerCheckpoint = Math.min(cleanerOffsets.get(key) ?? 0, partitionLog.logEndOffset);
      partitionLog.health = this.healthOf(dir);
      if (partitionLog.loadReport.recoveredSegments > 0) recovered++;
      if (partitionLog.loadReport.truncatedBytes > 0) {
        log.warn({ partition: key, truncatedBytes: partitionLog.loadReport.truncatedBytes }, 'recovery truncated a torn tail');
      }
      this.place(key, { ...tp, log: partitionLog }, dir);
    }
    // From here on a crash must be treated as unclean.
    if (clean) unlinkSync(join(dir, CLEAN_SHUTDOWN_MARKER));
    log.info({ dir, partitions: this.countIn(dir), clean, recovered, ms: Date.now() - started }, 'log directory loaded');
  }

  /** How a directory hears of its logs' failures: one listener per directory, shared by its logs. */
  private healthOf(dir: string): LogHealthListener {
    let health = this.health.get(dir);
    if (health) return health;
    const manager = this;
    health = {
      roomNeeded: 0,
      lowestFree: 0,
      failed(error, bytes) {
        if (error.kind === 'io-error') manager.takeOffline(dir, error);
        else if (error.kind === 'no-descriptors') log.warn({ dir, err: error.message }, 'out of file descriptors: the request got KAFKA_STORAGE_ERROR');
        else if (error.kind === 'disk-full') {
          const free = freeBytes(dir);
          if (this.roomNeeded === 0) {
            log.warn({ dir }, 'log directory full: produce answers KAFKA_STORAGE_ERROR; no partial batch was kept, so writes resume by themselves once space is freed');
            this.lowestFree = free ?? 0;
          } else if (free !== null) this.lowestFree = Math.min(this.lowestFree, free);
          this.roomNeeded = this.roomNeeded === 0 ? Math.max(1, bytes) : Math.min(this.roomNeeded, Math.max(1, bytes));
        }
      },
      // Small writes may still fit in the last free bytes, and the logs' own cuts give blocks
      // back: there is room again only once the free space has risen by what the failed writes
      // needed above its lowest since the logs last gave any back.
      appendedWhileFull() {
        // The append itself went through: a failure to measure must not undo its answer.
        const free = freeBytes(dir);
        if (free === null) return;
        if (free < this.lowestFree + this.roomNeeded) {
          this.lowestFree = Math.min(this.lowestFree, free);
          return;
        }
        this.roomNeeded = 0;
        log.info({ dir, freeBytes: free }, 'log directory has space again: writes resumed');
      },
      released() {
        this.lowestFree = freeBytes(dir) ?? this.lowestFree;
      },
    };
    this.health.set(dir, health);
    return health;
  }

  /**
   * Kafka's answer to a failed disk: every log in the directory stops serving (its partitions
   * answer KAFKA_STORAGE_ERROR and show offline) and the directory stays offline until a
   * restart, which recovers it; writing on could fork or tear what is already there.
   */
  private takeOffline(dir: string, error: StorageError): void {
    if (this.offline.has(dir)) return;
    this.offline.set(dir, error.message);
    let partitions = 0;
    for (const [key, l] of this.logs) {
      if (this.dirOf.get(key) !== dir) continue;
      l.log.goOffline(error.message);
      partitions++;
    }
    log.error(
      { dir, partitions, err: error.message },
      'log directory failed and is offline until a restart: its partitions answer KAFKA_STORAGE_ERROR, other directories keep serving',
    );
    for (const l of this.offlineListeners) l(dir);
  }

  onDirOffline(listener: (dir: string) => void): void {
    this.offlineListeners.push(listener);
  }

  /** The high watermark the last checkpoint recorded for a partition, if any. */
  checkpointedHighWatermark(topic: string, partition: number): number | undefined {
    return this.checkpointedHighWatermarks.get(partitionKey(topic, partition));
  }

  /** Offline directories and why. */
  offlineDirs(): ReadonlyMap<string, string> {
    return this.offline;
  }

  /** The directory holding a partition's log. */
  dirOfLog(topic: string, partition: number): string | undefined {
    return this.dirOf.get(partitionKey(topic, partition));
  }

  private countIn(dir: string): number {
    return this.counts.get(dir) ?? 0;
  }

  private place(key: string, entry: ManagedLog, dir: string): void {
    this.logs.set(key, entry);
    this.dirOf.set(key, dir);
    this.counts.set(dir, this.countIn(dir) + 1);
  }

  private unplace(key: string): void {
    const dir = this.dirOf.get(key);
    this.logs.delete(key);
    this.dirOf.delete(key);
    if (dir !== undefined) this.counts.set(dir, this.countIn(dir) - 1);
  }


  private startBackgroundWork(): void {
    const every = (ms: number, task: () => unknown): void => {
      const failed = (e: unknown): void => log.error({ err: e }, 'background log task failed');
      const t = setInterval(() => {
        try {
          const done = task();
          if (done instanceof Promise) done.catch(failed);
        } catch (e) {
          failed(e);
        }
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.retentionCheckIntervalMs, () => this.applyRetention(Date.now()));
    every(this.opts.checkpointIntervalMs, () => this.writeCheckpoints());
    every(this.opts.cleanerBackoffMs, () => this.cleanLogs(Date.now()));
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionKey(topic, partition))?.log;
  }

  all(): ManagedLog[] {
    return [...this.logs.values()];
  }

  /** The log of a partition, created empty on the least loaded directory when missing. */
  getOrCreate(topic: string, partition: number): PartitionLog {
    const existing = this.logs.get(partitionKey(topic, partition));
    if (existing) return existing.log;
    const { log: created, dir } = this.create(topic, partition);
    fsyncPath(dir);
    return created;
  }

  /**
   * Creates the logs of some partitions of a topic (a new topic, new partitions, new replicas
   * here), each directory made durable once for all: all of them, or (the first failure thrown)
   * none. `config` serves a topic the metadata does not name yet.
   */
  createLogs(topic: string, partitions: readonly number[], config = this.opts.configFor(topic)): void {
    const dirs = new Set<string>();
    const made: number[] = [];
    try {
      for (const p of partitions) {
        dirs.add(this.create(topic, p, config).dir);
        made.push(p);
      }
      for (const dir of dirs) fsyncPath(dir);
    } catch (e) {
      for (const p of made) this.delete(topic, p);
      throw fileSystemFailure(e, topic) ?? e;
    }
  }

  private create(topic: string, partition: number, config = this.opts.configFor(topic)): { log: PartitionLog; dir: string } {
    const key = partitionKey(topic, partition);
    const online = this.opts.logDirs.filter((d) => !this.offline.has(d));
    if (online.length === 0) throw new StorageError('log-dir-offline', 'every log directory is offline');
    const dir = online.reduce((best, d) => (this.countIn(d) < this.countIn(best) ? d : best));
    const path = join(dir, key);
    // Something already in the way (a stray file of that name) is not ours to remove.
    const ours = !existsSync(path);
    let partitionLog: PartitionLog;
    try {
      // Made here when free: listing a directory that is not there first would cost an exception.
      if (ours) mkdirSync(path);
      partitionLog = new PartitionLog(path, config, { cleanShutdown: true, recoveryPoint: 0, logStartOffset: 0, madeEmpty: ours });
    } catch (e) {
      // Nothing of a log that could not be made stays behind.
      if (ours) rmSync(path, { recursive: true, force: true });
      throw fileSystemFailure(e, path) ?? e;
    }
    partitionLog.health = this.healthOf(dir);
    this.place(key, { topic, partition, log: partitionLog }, dir);
    return { log: partitionLog, dir };
  }

  /** Deletes a partition's log and its directory. */
  delete(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    const entry = this.logs.get(key);
    if (!entry) return;
    this.unplace(key);
    try {
      entry.log.deleteAll();
    } catch (e) {
      // An offline directory may not let go of the files: its next start removes them, since
      // the metadata no longer names the partition.
      if (fileSystemFailure(e, key) === null) throw e;
      log.warn({ partition: key, err: e }, 'could not remove a deleted partition log; the next start will');
    }
  }

  /** Applies a topic's new config to its logs (AlterConfigs). */
  reconfigure(topic: string): void {
    const config = this.opts.configFor(topic);
    for (const l of this.logs.values()) if (l.topic === topic) l.log.config = config;
  }

  /** The logs that serve, and `work` applied to each; a log that fails is reported and skipped. */
  private forEachOnline(what: string, work: (l: ManagedLog) => void): void {
    for (const l of this.logs.values()) {
      if (l.log.offline) continue;
      try {
        work(l);
      } catch (e) {
        reportFailure(l, what, e);
      }
    }
  }

  applyRetention(now: number): number {
    let deleted = 0;
    this.forEachOnline('retention', (l) => (deleted += l.log.applyRetention(now)));
    if (deleted > 0) void this.writeCheckpoints().catch((e: unknown) => log.error({ err: e }, 'could not write the log checkpoints'));
    return deleted;
  }

  /**
   * Compacts the logs of cleanup.policy=compact topics whose dirty share has grown past
   * min.cleanable.dirty.ratio, one log at a time and each pass in slices, so the event loop
   * keeps serving. A call while passes run joins them. Resolves to how many logs were cleaned.
   */
  cleanLogs(now: number): Promise<number> {
    this.cleaning ??= this.cleanEachLog(now).finally(() => (this.cleaning = null));
    return this.cleaning;
  }

  private async cleanEachLog(now: number): Promise<number> {
    let cleaned = 0;
    for (const l of [...this.logs.values()]) {
      if (this.closed) break;
      if (l.log.offline || this.logs.get(partitionKey(l.topic, l.partition)) !== l) continue;
      try {
        const end = this.opts.cleanableEndOf;
        const endOf = end ? () => end(l.topic, l.partition) ?? l.log.recoveryPoint : undefined;
        const stats = await this.cleaner.cleanIfNeeded(l.log, now, endOf, () => this.closed);
        if (stats) {
          cleaned++;
          log.info({ partition: partitionKey(l.topic, l.partition), ...stats }, 'log cleaned');
        }
      } catch (e) {
        reportFailure(l, 'log cleaning', e);
      }
    }
    if (cleaned > 0 && !this.closed) await this.writeCheckpoints();
    return cleaned;
  }

  /**
   * Recovery points, log start offsets, cleaner offsets and high watermarks of every partition,
   * per directory, atomically and off the event loop. The offsets are taken when the write
   * starts; a call while one waits to start joins it, since it will write the same. Resolves to
   * the directories where that failed (a full or failing disk).
   */
  writeCheckpoints(): Promise<string[]> {
    this.checkpointsQueued ??= this.inCheckpointOrder(() => {
      this.checkpointsQueued = null;
      return this.writeEveryCheckpoint();
    });
    return this.checkpointsQueued;
  }

  /** Runs checkpoint writes one at a time: two writes of one file would share its temp file. */
  private inCheckpointOrder<T>(write: () => Promise<T>): Promise<T> {
    const done = this.checkpointTail.then(write);
    this.checkpointTail = done.catch(() => undefined);
    return done;
  }

  private async writeEveryCheckpoint(): Promise<string[]> {
    const failed: string[] = [];
    const writes = this.opts.logDirs.filter((dir) => !this.offline.has(dir)).map((dir) => ({ dir, write: this.checkpointsOf(dir, []) }));
    for (const { dir, write } of writes) {
      try {
        await write();
      } catch (e) {
        const failure = fileSystemFailure(e, dir);
        if (failure === null) throw e;
        // A disk that refuses writes for any reason but space has failed, as for a log.
        if (failure.kind === 'io-error') this.takeOffline(dir, failure);
        else log.warn({ dir, err: failure.message }, 'could not write the log checkpoints');
        failed.push(dir);
      }
    }
    return failed;
  }

  /** The checkpoint files of one directory, with `extra` logs added (a partition moving in): the offsets of now, written when called. */
  private checkpointsOf(dir: string, extra: ManagedLog[]): () => Promise<void> {
    const here = [...[...this.logs].filter(([key]) => this.dirOf.get(key) === dir).map(([, l]) => l), ...extra];
    const offsets = (pick: (l: ManagedLog) => number): PartitionOffset[] => here.map((l) => ({ topic: l.topic, partition: l.partition, offset: pick(l) }));
    const files: [string, PartitionOffset[]][] = [
      [RECOVERY_POINTS, offsets((l) => l.log.recoveryPoint)],
      [LOG_START_OFFSETS, offsets((l) => l.log.logStartOffset)],
      [CLEANER_OFFSETS, offsets((l) => l.log.cleanerCheckpoint)],
    ];
    const hw = this.opts.highWatermarkOf;
    if (hw) files.push([HIGH_WATERMARKS, offsets((l) => hw(l.topic, l.partition) ?? 0)]);
    return async () => {
      for (const [name, entries] of files) await new OffsetCheckpointFile(join(dir, name)).write(entries);
    };
  }

  /** log.dirs, resolved. */
  get logDirs(): readonly string[] {
    return this.opts.logDirs;
  }

  private readonly moves = new Map<string, LogMove>();

  /** The future replicas being made (DescribeLogDirs lists them with isFutureKey). */
  futureLogs(): LogMove[] {
    return [...this.moves.values()];
  }

  /**
   * AlterReplicaLogDirs, first half, while the log keeps serving: makes the future replica in
   * `dir` and copies the closed segments' record files into it (they only ever change by
   * truncation, which changes their size, or by being replaced or deleted, which
   * completeMove sees).
   */
  async startMove(topic: string, partition: number, dir: string): Promise<LogMove> {
    const key = partitionKey(topic, partition);
    const entry = this.logs.get(key);
    if (!entry) throw new StorageError('log-closed', `${key} has no log here`);
    if (this.moves.has(key)) throw new Error(`${key} is already moving`);
    const future = join(dir, `${key}.${randomUUID().replace(/-/g, '')}${FUTURE_SUFFIX}`);
    const move: LogMove = { topic, partition, dir, future, copied: new Map(), bytes: 0 };
    this.moves.set(key, move);
    try {
      mkdirSync(future);
      const source = entry.log.dir;
      const bases = entry.log.segmentBaseOffsets();
      const active = bases[bases.length - 1];
      for (const name of await readdir(source)) {
        const base = /^(\d{20})\.log$/.exec(name);
        if (!base || Number(base[1]) === active) continue;
        try {
          const before = await stat(join(source, name));
          await copyFile(join(source, name), join(future, name));
          move.copied.set(name, before);
          move.bytes += before.size;
        } catch (e) {
          // Deleted meanwhile (retention, compaction): completeMove copies what is there then.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    } catch (e) {
      this.moves.delete(key);
      rmSync(future, { recursive: true, force: true });
      throw fileSystemFailure(e, future) ?? e;
    }
    return move;
  }

  /** Gives up a move started with startMove, before completeMove. */
  abandonMove(move: LogMove): void {
    this.moves.delete(partitionKey(move.topic, move.partition));
    rmSync(move.future, { recursive: true, force: true });
  }

  /**
   * AlterReplicaLogDirs, second half, once nothing appends to the partition any more (the
   * replica manager has taken it out of service): the log is closed (flushed, producer
   * snapshot written), whatever changed since startMove is copied, every file and the future
   * directory are fsynced, the target directory's checkpoints name the partition, and the
   * future directory is renamed into place with a marker: the commit. Then the source goes and
   * the log is opened again from the target. A crash before the rename leaves the source whole
   * (the future replica is deleted at start); after it, the marked copy wins at start.
   * Whatever fails before the commit reopens the log where it was, and throws.
   */
  async completeMove(move: LogMove): Promise<void> {
    const key = partitionKey(move.topic, move.partition);
    const entry = this.logs.get(key);
    const sourceDir = this.dirOf.get(key);
    if (!entry || sourceDir === undefined) {
      this.abandonMove(move);
      throw new StorageError('log-closed', `${key} has no log here`);
    }
    const old = entry.log;
    const config = old.config;
    const target = join(move.dir, key);
    let committed = false;
    try {
      await old.close();
      const names = await readdir(old.dir);
      for (const name of names) {
        const from = join(old.dir, name);
        const now = await stat(from);
        if (!now.isFile()) continue;
        const before = move.copied.get(name);
        const same = before && before.size === now.size && before.ino === now.ino && before.mtimeMs === now.mtimeMs;
        if (!same) {
          await copyFile(from, join(move.future, name));
          move.bytes += now.size;
        }
        await fsyncPathOffLoop(join(move.future, name));
      }
      for (const name of await readdir(move.future)) if (!names.includes(name)) rmSync(join(move.future, name), { force: true });
      await this.inCheckpointOrder(() => this.checkpointsOf(move.dir, [{ topic: move.topic, partition: move.partition, log: old }])());
      const fd = openSync(join(move.future, MOVED_MARKER), 'w');
      fsyncSync(fd);
      closeSync(fd);
      fsyncPath(move.future);
      if (existsSync(target)) throw new StorageError('io-error', `${target} is in the way`);
      // A broker stopping meanwhile keeps the partition where its checkpoints say it is.
      if (this.closed) throw new StorageError('log-closed', 'the broker is stopping');
      testKillPoint('before-commit');
      renameSync(move.future, target);
      fsyncPath(move.dir);
      committed = true;
      testKillPoint('after-commit');
      testKillPoint('source-partly-deleted', old.dir);
    } catch (e) {
      this.moves.delete(key);
      if (!committed) {
        rmSync(move.future, { recursive: true, force: true });
        // Reopened where it was, unless that directory failed (its partitions stay offline) or the broker is stopping.
        if (this.offline.has(sourceDir)) old.goOffline(this.offline.get(sourceDir)!);
        else if (!this.closed) this.reopen(key, entry, sourceDir, old.dir, old, config);
      }
      throw fileSystemFailure(e, move.future) ?? e;
    } finally {
      this.moves.delete(key);
    }
    let sourceGone = true;
    try {
      rmSync(old.dir, { recursive: true, force: true });
      fsyncPath(sourceDir);
    } catch (e) {
      sourceGone = false;
      log.warn({ partition: key, dir: old.dir, err: (e as Error).message }, 'the old copy of a moved partition could not be deleted: the next start deletes it');
    }
    this.unplace(key);
    this.reopen(key, entry, move.dir, target, old, config);
    if (sourceGone) rmSync(join(target, MOVED_MARKER), { force: true });
    log.info({ partition: key, from: sourceDir, to: move.dir }, 'partition moved to another log directory');
  }

  /** Opens a closed log again at `path` in `dir`, where it is placed, trusted as it was closed cleanly. */
  private reopen(key: string, entry: ManagedLog, dir: string, path: string, old: PartitionLog, config: LogConfig): void {
    const reopened = new PartitionLog(path, config, { cleanShutdown: true, recoveryPoint: old.recoveryPoint, logStartOffset: old.logStartOffset });
    reopened.cleanerCheckpoint = Math.min(old.cleanerCheckpoint, reopened.logEndOffset);
    reopened.health = this.healthOf(dir);
    if (this.logs.has(key)) this.unplace(key);
    this.place(key, { topic: entry.topic, partition: entry.partition, log: reopened }, dir);
  }

  /**
   * Flushes every log, writes the checkpoints and the clean-shutdown marker, and releases the
   * directories: the next start trusts the segments instead of checking every batch. A
   * directory where any of that failed gets no marker, so its next start recovers it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    // A pass in progress stops at its next slice, leaving no output behind.
    await this.cleaning;
    const logs = [...this.logs.entries()];
    const closing = await Promise.allSettled(logs.map(([, l]) => l.log.close(false)));
    // Closing logs neither flush their segments nor write their producer snapshots with an
    // fsync each: one sync of each file system makes all of it durable, and only then do the
    // recovery points of the logs that closed move to their log ends, and the marker say that
    // the directory's logs can be trusted.
    const unsynced = new Set<string>();
    for (const dir of this.opts.logDirs) {
      if (this.offline.has(dir)) continue;
      await syncFileSystem(dir).catch((e: unknown) => {
        log.warn({ dir, err: (e as Error).message }, 'could not sync the log directory at shutdown');
        unsynced.add(dir);
      });
    }
    const unclean = new Set(unsynced);
    closing.forEach((result, i) => {
      const [key, l] = logs[i];
      const dir = this.dirOf.get(key)!;
      if (result.status === 'fulfilled') {
        if (!unsynced.has(dir)) l.log.markDurable();
        return;
      }
      log.warn({ partition: key, err: (result.reason as Error).message }, 'could not close a log at shutdown');
      unclean.add(dir);
    });
    for (const dir of await this.writeCheckpoints()) unclean.add(dir);
    for (const dir of this.opts.logDirs) {
      if (this.offline.has(dir) || unclean.has(dir)) {
        releaseLock(dir, true);
        continue;
      }
      const fd = openSync(join(dir, CLEAN_SHUTDOWN_MARKER), 'w');
      closeSync(fd);
      fsyncPath(dir);
      releaseLock(dir);
    }
  }
}

/**
 * Log directories taken by this process, before anything in them is read or written: a broker
 * joining a cluster takes them before it registers, so a second broker on the same directories
 * stops there.
 */
export class LockedLogDirs {
  private constructor(readonly dirs: string[]) {}

  static lock(dirs: readonly string[]): LockedLogDirs {
    const resolved = dirs.map((d) => resolve(d));
    const locked: string[] = [];
    try {
      for (const dir of resolved) {
        mkdirSync(dir, { recursive: true });
        acquireLock(dir);
        locked.push(dir);
      }
    } catch (e) {
      for (const dir of locked) releaseLock(dir);
      throw e;
    }
    return new LockedLogDirs(resolved);
  }

  release(): void {
    for (const dir of this.dirs) releaseLock(dir, true);
  }
}

/** A log's background task failed: a failed directory is reported (it goes offline elsewhere), anything else is a bug. */
function reportFailure(l: ManagedLog, what: string, e: unknown): void {
  if (fileSystemFailure(e, l.log.dir) === null) throw e;
  log.warn({ partition: partitionKey(l.topic, l.partition), err: (e as Error).message }, `${what} failed`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Directories locked by this process, so a second broker in the same process is refused too. */
const lockedHere = new Set<string>();

/**
 * Takes a directory for this process: a lock file holding our pid, created exclusively. A lock
 * left by a process that no longer runs (killed) is taken over.
 */
function acquireLock(dir: string): void {
  if (lockedHere.has(dir)) throw new LogDirLockedError(`${dir} is already in use by a broker in this process`);
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      lockedHere.add(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new LogDirLockedError(`${dir} is in use by process ${holder}: another broker runs on this data directory`);
      }
      unlinkSync(path);
    }
  }
  throw new LogDirLockedError(`could not lock ${dir}`);
}

/** Releases a directory; a failed one may refuse to lose its lock file, which the next start takes over. */
function releaseLock(dir: string, failed = false): void {
  lockedHere.delete(dir);
  try {
    rmSync(join(dir, LOCK_FILE), { force: true });
  } catch (e) {
    if (!failed) throw e;
  }
}
