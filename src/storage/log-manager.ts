import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { log } from '../log.js';
import { fsyncDirectory, OffsetCheckpointFile, partitionKey, type PartitionOffset } from './checkpoint-file.js';
import type { LogConfig } from './log-config.js';
import { LogCleaner } from './log-cleaner.js';
import { PartitionLog } from './partition-log.js';

const CLEAN_SHUTDOWN_MARKER = '.kafka_cleanshutdown';
const LOCK_FILE = '.lock';
const RECOVERY_POINTS = 'recovery-point-offset-checkpoint';
const LOG_START_OFFSETS = 'log-start-offset-checkpoint';
const CLEANER_OFFSETS = 'cleaner-offset-checkpoint';

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
  /** Where cleaning must stop in a partition (its high watermark): later records may still go. */
  cleanableEnd?: (topic: string, partition: number, log: PartitionLog) => number;
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
  private readonly dirOf = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly cleaner = new LogCleaner();

  private constructor(private readonly opts: LogManagerOptions) {}

  static open(options: LogManagerOptions): LogManager {
    const opts = { ...options, logDirs: options.logDirs.map((d) => resolve(d)) };
    const manager = new LogManager(opts);
    const locked: string[] = [];
    try {
      for (const dir of opts.logDirs) {
        mkdirSync(dir, { recursive: true });
        acquireLock(dir);
        locked.push(dir);
      }
      for (const dir of opts.logDirs) manager.loadDir(dir);
    } catch (e) {
      for (const dir of locked) releaseLock(dir);
      throw e;
    }
    manager.startBackgroundWork();
    return manager;
  }

  private loadDir(dir: string): void {
    const clean = existsSync(join(dir, CLEAN_SHUTDOWN_MARKER));
    const recoveryPoints = new OffsetCheckpointFile(join(dir, RECOVERY_POINTS)).read();
    const startOffsets = new OffsetCheckpointFile(join(dir, LOG_START_OFFSETS)).read();
    const cleanerOffsets = new OffsetCheckpointFile(join(dir, CLEANER_OFFSETS)).read();
    const started = Date.now();
    let recovered = 0;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name.endsWith('-delete')) {
        // A topic deletion that did not finish: finish it.
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      const tp = parsePartitionDir(name);
      if (!tp || !statSync(path).isDirectory()) continue;
      const key = partitionKey(tp.topic, tp.partition);
      const partitionLog = new PartitionLog(path, this.opts.configFor(tp.topic), {
        cleanShutdown: clean,
        recoveryPoint: recoveryPoints.get(key) ?? 0,
        logStartOffset: startOffsets.get(key) ?? 0,
      });
      partitionLog.cleanerCheckpoint = Math.min(cleanerOffsets.get(key) ?? 0, partitionLog.logEndOffset);
      if (partitionLog.loadReport.recoveredSegments > 0) recovered++;
      if (partitionLog.loadReport.truncatedBytes > 0) {
        log.warn({ partition: key, truncatedBytes: partitionLog.loadReport.truncatedBytes }, 'recovery truncated a torn tail');
      }
      this.logs.set(key, { ...tp, log: partitionLog });
      this.dirOf.set(key, dir);
    }
    // From here on a crash must be treated as unclean.
    if (clean) unlinkSync(join(dir, CLEAN_SHUTDOWN_MARKER));
    log.info({ dir, partitions: this.countIn(dir), clean, recovered, ms: Date.now() - started }, 'log directory loaded');
  }

  private countIn(dir: string): number {
    let n = 0;
    for (const d of this.dirOf.values()) if (d === dir) n++;
    return n;
  }

  private startBackgroundWork(): void {
    const every = (ms: number, task: () => void): void => {
      const t = setInterval(() => {
        try {
          task();
        } catch (e) {
          log.error({ err: e }, 'background log task failed');
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
    const key = partitionKey(topic, partition);
    const existing = this.logs.get(key);
    if (existing) return existing.log;
    const dir = this.opts.logDirs.reduce((best, d) => (this.countIn(d) < this.countIn(best) ? d : best));
    const partitionLog = new PartitionLog(join(dir, key), this.opts.configFor(topic), { cleanShutdown: true, recoveryPoint: 0, logStartOffset: 0 });
    fsyncDirectory(dir);
    this.logs.set(key, { topic, partition, log: partitionLog });
    this.dirOf.set(key, dir);
    return partitionLog;
  }

  /** Deletes a partition's log and its directory. */
  delete(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    const entry = this.logs.get(key);
    if (!entry) return;
    this.logs.delete(key);
    this.dirOf.delete(key);
    entry.log.deleteAll();
  }

  /** Applies a topic's new config to its logs (AlterConfigs). */
  reconfigure(topic: string): void {
    const config = this.opts.configFor(topic);
    for (const l of this.logs.values()) if (l.topic === topic) l.log.config = config;
  }

  applyRetention(now: number): number {
    let deleted = 0;
    for (const l of this.logs.values()) deleted += l.log.applyRetention(now);
    if (deleted > 0) this.writeCheckpoints();
    return deleted;
  }

  /**
   * Compacts the logs of cleanup.policy=compact topics whose dirty share has grown past
   * min.cleanable.dirty.ratio. Returns how many logs were cleaned.
   */
  cleanLogs(now: number): number {
    let cleaned = 0;
    for (const l of this.logs.values()) {
      const upTo = this.opts.cleanableEnd?.(l.topic, l.partition, l.log);
      const stats = this.cleaner.cleanIfNeeded(l.log, now, upTo);
      if (stats) {
        cleaned++;
        log.info({ partition: partitionKey(l.topic, l.partition), ...stats }, 'log cleaned');
      }
    }
    if (cleaned > 0) this.writeCheckpoints();
    return cleaned;
  }

  /** Recovery points, log start offsets and cleaner offsets of every partition, per directory, atomically. */
  writeCheckpoints(): void {
    for (const dir of this.opts.logDirs) {
      const here = [...this.logs].filter(([key]) => this.dirOf.get(key) === dir).map(([, l]) => l);
      const offsets = (pick: (l: PartitionLog) => number): PartitionOffset[] =>
        here.map((l) => ({ topic: l.topic, partition: l.partition, offset: pick(l.log) }));
      new OffsetCheckpointFile(join(dir, RECOVERY_POINTS)).write(offsets((l) => l.recoveryPoint));
      new OffsetCheckpointFile(join(dir, LOG_START_OFFSETS)).write(offsets((l) => l.logStartOffset));
      new OffsetCheckpointFile(join(dir, CLEANER_OFFSETS)).write(offsets((l) => l.cleanerCheckpoint));
    }
  }

  /**
   * Flushes every log, writes the checkpoints and the clean-shutdown marker, and releases the
   * directories: the next start trusts the segments instead of checking every batch.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.logs.values()].map((l) => l.log.close()));
    this.writeCheckpoints();
    for (const dir of this.opts.logDirs) {
      const fd = openSync(join(dir, CLEAN_SHUTDOWN_MARKER), 'w');
      closeSync(fd);
      fsyncDirectory(dir);
      releaseLock(dir);
    }
  }
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

function releaseLock(dir: string): void {
  lockedHere.delete(dir);
  rmSync(join(dir, LOCK_FILE), { force: true });
}
