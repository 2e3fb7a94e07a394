import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loopbackTcp } from './loadgen.js';

/**
 * What the machine itself manages, measured in the same run as the broker: the ceilings the
 * broker's figures should be read against.
 */

export interface Baseline {
  name: string;
  bytes: number;
  seconds: number;
  mbPerSec: number;
  /** CPU of the process(es) doing the work, user + system. */
  cpuSeconds: number;
}

const BLOCK = 1 << 20;

/**
 * Sequential writeSync of 1 MiB blocks into a new file next to the broker's data, without
 * fsync: the broker's default (async) flush mode also leaves the writing to the page cache.
 * The file stays until `remove()`, so that the phase measured against it cannot reuse its pages.
 */
export function rawDiskWrite(dir: string, bytes: number): Baseline & { remove(): void } {
  const path = join(dir, `raw-write-${bytes}.bin`);
  const block = Buffer.alloc(BLOCK, 0x61);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const fd = openSync(path, 'w');
  try {
    for (let at = 0; at < bytes; ) at += writeSync(fd, block, 0, Math.min(BLOCK, bytes - at));
  } finally {
    closeSync(fd);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return {
    name: 'disk: sequential write, 1 MiB writeSync',
    bytes,
    seconds,
    mbPerSec: bytes / seconds / 1e6,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    remove: () => rmSync(path, { force: true }),
  };
}

/** One TCP stream over 127.0.0.1 between two C processes, 1 MiB writes and reads. */
export async function loopbackTcpBaseline(loadgen: string, bytes: number): Promise<Baseline> {
  const r = await loopbackTcp(loadgen, bytes);
  return {
    name: 'loopback TCP: one stream, 1 MiB write/read (C)',
    bytes: r.bytes,
    seconds: r.seconds,
    mbPerSec: r.bytes / r.seconds / 1e6,
    cpuSeconds: r.cpuUserSeconds + r.cpuSystemSeconds + r.receiverCpuUserSeconds + r.receiverCpuSystemSeconds,
  };
}
