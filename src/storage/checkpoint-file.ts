import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Kafka's checkpoint files: a version line, an entry-count line, then one entry per line. They
 * are replaced atomically (temp file, fsync, rename, fsync of the directory), so a crash leaves
 * either the old file or the new one, never a torn one.
 */
export function writeCheckpointFile(path: string, version: number, entries: readonly string[], durable = true): void {
  writeFileAtomically(path, `${version}\n${entries.length}\n${entries.map((e) => `${e}\n`).join('')}`, durable);
}

/**
 * Replaces a file so that a crash leaves the old content or the new, never a mix. `durable`
 * false skips the fsyncs, for files a broker can do without or rebuild (a partition's topic
 * id, its leader epochs): creating a topic of thousands of partitions must not cost thousands
 * of disk flushes; a process crash still finds the new file, a power loss maybe the old.
 */
export function writeFileAtomically(path: string, data: string | Buffer, durable = true): void {
  const tmp = `${path}.tmp`;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const fd = openSync(tmp, 'w');
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, done);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (durable) fsyncDirectory(dirname(path));
}

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The entry lines of a checkpoint file; [] when it does not exist. Malformed files throw. */
export function readCheckpointFile(path: string, version: number): string[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const name = basename(path);
  if (Number(lines[0]) !== version) throw new Error(`${name}: unsupported checkpoint version ${lines[0]}`);
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count !== lines.length - 2) {
    throw new Error(`${name}: expected ${lines[1]} entries, found ${lines.length - 2}`);
  }
  return lines.slice(2);
}

/** A topic-partition key as Kafka names partition directories. */
export const partitionKey = (topic: string, partition: number): string => `${topic}-${partition}`;

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** Checkpoints of one offset per partition: recovery point, log start offset, high watermark. */
export class OffsetCheckpointFile {
  constructor(readonly path: string) {}

  /** Offsets by partition key (`topic-partition`). */
  read(): Map<string, number> {
    const out = new Map<string, number>();
    for (const line of readCheckpointFile(this.path, 0)) {
      const m = /^(\S+) (\d+) (-?\d+)$/.exec(line);
      if (!m) throw new Error(`${basename(this.path)}: malformed entry "${line}"`);
      out.set(partitionKey(m[1], Number(m[2])), Number(m[3]));
    }
    return out;
  }

  write(entries: readonly PartitionOffset[]): void {
    writeCheckpointFile(this.path, 0, entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`));
  }
}
