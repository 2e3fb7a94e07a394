import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../../protocol/records/crc32c.js';
import { writeFileAtomically } from '../../storage/checkpoint-file.js';
import { readInt64, writeInt64 } from '../../storage/int64.js';
import { segmentFileName } from '../../storage/segment.js';
import { ProducerEntry, TRACKED_BATCHES } from './producer-entry.js';
import { readBigInt64, writeBigInt64 } from '../../protocol/primitives/int64.js';

/**
 * Producer state snapshots, named as Kafka names them: `<20-digit offset>.snapshot` in the
 * partition directory, holding the state of every producer as of that log offset (all batches
 * below it, none at or after it). The content is Sluice's own, big-endian:
 *
 *   version int16 (3) | crc uint32: CRC32C of everything after it | producer count int32
 *   per producer: id int64 | epoch int16 | last timestamp int64 | last seen (broker ms) int64 |
 *                 current transaction's first offset int64 (-1: none) |
 *                 coordinator epoch of its last marker int32 (-1: none) |
 *                 batch count int8 (0-5), then per batch, oldest first:
 *                 first sequence int32 | last sequence int32 | first offset int64 |
 *                 last offset int64 | timestamp int64
 *
 * Kafka's own format keeps one batch per producer; this one keeps all five that duplicate
 * detection uses, so retries of any batch in flight are still recognised after a restart.
 * Version 1, written before transactions, lacks the transaction's first offset and the
 * coordinator epoch; version 2 lacks the coordinator epoch.
 */

const SUFFIX = '.snapshot';
const NAME = /^(\d{20})\.snapshot$/;
const VERSION = 3;
const CRC_AT = 2;
const BODY_AT = 6;
/** A producer's fixed part, by snapshot version. */
const PRODUCER_SIZES: Record<number, number> = { 1: 8 + 2 + 8 + 8 + 1, 2: 8 + 2 + 8 + 8 + 8 + 1, 3: 8 + 2 + 8 + 8 + 8 + 4 + 1 };
const BATCH_SIZE = 4 + 4 + 8 + 8 + 8;

/** A snapshot that cannot be trusted: the caller falls back to an older one or to the log. */
export class SnapshotError extends Error {}

export function snapshotPath(dir: string, offset: number): string {
  return join(dir, segmentFileName(offset, SUFFIX));
}

/** The offsets of the snapshots in a partition directory, newest first. */
export function listSnapshots(dir: string): number[] {
  const offsets: number[] = [];
  for (const name of readdirSync(dir)) {
    const m = NAME.exec(name);
    if (m) offsets.push(Number(m[1]));
  }
  return offsets.sort((a, b) => b - a);
}

export function deleteSnapshot(dir: string, offset: number): void {
  rmSync(snapshotPath(dir, offset), { force: true });
}

/**
 * Writes the snapshot at `offset` atomically: a crash leaves it whole or absent. `durable`
 * false leaves the fsyncs to the caller (a clean shutdown syncs the file system once).
 */
export function writeSnapshot(dir: string, offset: number, producers: readonly ProducerEntry[], durable = true): void {
  let size = BODY_AT + 4;
  for (const p of producers) size += PRODUCER_SIZES[VERSION] + p.batches.length * BATCH_SIZE;
  const buf = Buffer.alloc(size);
  buf.writeInt16BE(VERSION, 0);
  let at = buf.writeInt32BE(producers.length, BODY_AT);
  for (const p of producers) {
    at = writeBigInt64(buf, p.producerId, at);
    at = buf.writeInt16BE(p.epoch, at);
    writeInt64(buf, p.lastTimestamp, at);
    writeInt64(buf, p.lastSeenMs, at + 8);
    writeInt64(buf, p.currentTxnFirstOffset, at + 16);
    buf.writeInt32BE(p.coordinatorEpoch, at + 24);
    at = buf.writeInt8(p.batches.length, at + 28);
    for (const b of p.batches) {
      at = buf.writeInt32BE(b.firstSequence, at);
      at = buf.writeInt32BE(b.lastSequence, at);
      writeInt64(buf, b.firstOffset, at);
      writeInt64(buf, b.lastOffset, at + 8);
      writeInt64(buf, b.timestamp, at + 16);
      at += 24;
    }
  }
  buf.writeUInt32BE(crc32c(buf.subarray(BODY_AT)), CRC_AT);
  writeFileAtomically(snapshotPath(dir, offset), buf, durable);
}

/** Reads a snapshot; throws SnapshotError when it is damaged or of an unknown version. */
export function readSnapshot(dir: string, offset: number): ProducerEntry[] {
  const buf = readFileSync(snapshotPath(dir, offset));
  const fail = (why: string): never => {
    throw new SnapshotError(`${snapshotPath(dir, offset)}: ${why}`);
  };
  if (buf.length < BODY_AT + 4) fail(`${buf.length} bytes are too few`);
  const version = buf.readInt16BE(0);
  const producerSize = PRODUCER_SIZES[version] ?? fail(`unknown version ${version}`);
  if (buf.readUInt32BE(CRC_AT) !== crc32c(buf.subarray(BODY_AT))) fail('CRC mismatch');
  const count = buf.readInt32BE(BODY_AT);
  let at = BODY_AT + 4;
  const need = (n: number): void => {
    if (at + n > buf.length) fail('truncated');
  };
  const producers: ProducerEntry[] = [];
  for (let i = 0; i < count; i++) {
    need(producerSize);
    const txnFirstOffset = version === 1 ? -1 : readInt64(buf, at + 26);
    const entry = new ProducerEntry(readBigInt64(buf, at), buf.readInt16BE(at + 8), readInt64(buf, at + 10), readInt64(buf, at + 18), txnFirstOffset);
    if (version >= 3) entry.coordinatorEpoch = buf.readInt32BE(at + 34);
    const batches = buf.readInt8(at + producerSize - 1);
    if (batches < 0 || batches > TRACKED_BATCHES) fail(`producer ${entry.producerId} has ${batches} batches`);
    at += producerSize;
    need(batches * BATCH_SIZE);
    for (let b = 0; b < batches; b++, at += BATCH_SIZE) {
      entry.batches.push({
        firstSequence: buf.readInt32BE(at),
        lastSequence: buf.readInt32BE(at + 4),
        firstOffset: readInt64(buf, at + 8),
        lastOffset: readInt64(buf, at + 16),
        timestamp: readInt64(buf, at + 24),
      });
    }
    producers.push(entry);
  }
  if (at !== buf.length) fail(`${buf.length - at} bytes follow the last producer`);
  return producers;
}
