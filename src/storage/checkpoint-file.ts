import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { listedOrExists, type Listing } from './directory-listing.js';

/**
 * Kafka's checkpoint files: a version line, an entry-count line, then one entry per line. They
 * are replaced atomically (temp file, fsync, rename, fsync of the directory), so a crash leaves
 * either the old file or the new one, never a torn one.
 */
export function writeCheckpointFile(path: string, version: number, entries: readonly string[], durable = true): void {
  writeFileAtomically(path, checkpointText(version, entries), durable);
}

function checkpointText(version: number, entries: readonly string[]): string {
  return `${version}\n${entries.length}\n${entries.map((e) => `${e}\n`).join('')}`;
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
  if (durable) fsyncPath(dirname(path));
}

/**
 * writeFileAtomically, durable, with every step on the libuv pool: for files rewritten while the
 * broker serves, whose fsyncs would otherwise stall every client (the periodic checkpoints).
 * Callers must not overlap two writes of one path, which share its temp file.
 */
export async function writeFileAtomicallyOffLoop(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  await fsyncPathOffLoop(dirname(path));
}

/** fsync(2) of a file or a directory (which makes the renames and creations in it durable). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function fsyncPathOffLoop(path: string): Promise<void> {
  const file = await open(path, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

/**
 * The entry lines of a checkpoint file; [] when it does not exist (by `listing`, its directory's,
 * when the caller has one). Malformed files throw.
 */
export function readCheckpointFile(path: string, version: number, listing?: Listing | null): string[] {
  if (!listedOrExists(path, listing)) return [];
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

  write(entries: readonly PartitionOffset[]): Promise<void> {
    return writeFileAtomicallyOffLoop(this.path, checkpointText(0, entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`)));
  }
}
