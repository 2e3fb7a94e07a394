import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeaderField } from '../../../src/protocol/records/batch-layout.js';
import { batchSizeAt } from '../../../src/protocol/records/batch-spans.js';
import { readInt64 } from '../../../src/storage/int64.js';

/** One replica's log as its segment files hold it. */
export interface ReplicaLog {
  broker: number;
  /** The first offset of its first segment. */
  logStart: number;
  /** One past the last offset of its last whole batch. */
  logEnd: number;
  bytes: number;
  /** SHA-256 of the whole batches of every segment, in offset order. */
  sha256: string;
}

/**
 * Reads a replica's `.log` files the way a reader of the directory would (no broker involved):
 * segments in base-offset order, whole batches only. A batch still being written, or the
 * zeroed end of a preallocated segment, ends a segment's share.
 */
export function readReplicaLog(broker: number, partitionDir: string): ReplicaLog | null {
  if (!existsSync(partitionDir)) return null;
  const segments = readdirSync(partitionDir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort();
  const hash = createHash('sha256');
  let logStart = -1;
  let logEnd = -1;
  let bytes = 0;
  for (const name of segments) {
    const base = Number(name.slice(0, 20));
    if (logStart < 0) logStart = base;
    if (logEnd < 0) logEnd = base;
    const data = readFileSync(join(partitionDir, name));
    for (let at = 0; at < data.length; ) {
      let size: number;
      try {
        size = batchSizeAt(data, at, data.length, true);
      } catch {
        size = 0;
      }
      if (size === 0) break;
      hash.update(data.subarray(at, at + size));
      bytes += size;
      logEnd = readInt64(data, at) + data.readInt32BE(at + HeaderField.lastOffsetDelta) + 1;
      at += size;
    }
  }
  return { broker, logStart: Math.max(logStart, 0), logEnd: Math.max(logEnd, 0), bytes, sha256: hash.digest('hex') };
}

/** What the replicas of one partition hold, and whether they agree. */
export interface PartitionReplicas {
  partition: number;
  leader: number;
  isr: number[];
  replicas: ReplicaLog[];
  /** Every replica is in the ISR and their logs end at the same offset. */
  caughtUp: boolean;
  /** Caught up, with the same bytes. */
  identical: boolean;
}

/** The replicas of a partition from their brokers' log directories. */
export function partitionReplicas(
  partition: number,
  state: { leader: number; isr: number[]; replicas: number[] },
  dirOf: (broker: number) => string,
): PartitionReplicas {
  const replicas = state.replicas.flatMap((b) => readReplicaLog(b, dirOf(b)) ?? []);
  const caughtUp =
    state.leader >= 0 &&
    replicas.length === state.replicas.length &&
    state.replicas.every((b) => state.isr.includes(b)) &&
    replicas.every((r) => r.logEnd === replicas[0].logEnd);
  const identical = caughtUp && replicas.every((r) => r.sha256 === replicas[0].sha256 && r.logStart === replicas[0].logStart);
  return { partition, leader: state.leader, isr: state.isr, replicas, caughtUp, identical };
}
