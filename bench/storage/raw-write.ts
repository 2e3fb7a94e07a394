import { randomFillSync } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { LatencySamples, MiB, nowNs, SpanClock } from '../support/resources.js';
import type { Workspace } from '../support/workspace.js';

/** What the append path is measured against: the machine, not Sluice. */

/** Raw writes go in chunks of this size, the largest batch size measured. */
const RAW_CHUNK = MiB;
const FSYNC_LOOP_BLOCK = 4096;

export interface RawWriteResult {
  bytes: number;
  seconds: number;
  mbPerSec: number;
  cpuSeconds: number;
}

/**
 * Plain sequential writeSync of 1 MiB buffers to a file of its own, driven in steps between
 * the appends it is compared with: both then see the same machine, moment by moment, which
 * back-to-back runs on a shared machine do not.
 */
export class RawWriter {
  private readonly clock = new SpanClock();
  private readonly chunk = randomFillSync(Buffer.allocUnsafe(RAW_CHUNK));
  private readonly fd: number;
  private position = 0;

  constructor(path: string) {
    this.clock.start();
    this.fd = openSync(path, 'w');
    this.clock.stop();
  }

  write(bytes: number): void {
    this.clock.start();
    for (let end = this.position + bytes; this.position < end; ) {
      this.position += writeSync(this.fd, this.chunk, 0, Math.min(RAW_CHUNK, end - this.position), this.position);
    }
    this.clock.stop();
  }

  close(): RawWriteResult {
    closeSync(this.fd);
    const seconds = this.clock.seconds;
    return { bytes: this.position, seconds, mbPerSec: this.position / 1e6 / seconds, cpuSeconds: this.clock.cpuSeconds };
  }
}

/** Writes and deletes a file of `bytes` in one go (see preparePageCache in append.ts). */
export function writeAndDelete(ws: Workspace, bytes: number): void {
  const writer = new RawWriter(ws.path('prime.bin'));
  writer.write(bytes);
  writer.close();
  ws.remove('prime.bin');
}

export interface FsyncLoopResult {
  ops: number;
  /** What the loop achieved: 1 / the mean latency, slow outliers included, as a group commit meets them too. */
  opsPerSec: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
}

/** What one fsync per append would allow: 4 KiB appended and fdatasync'd, over and over. */
export function fdatasyncLoop(ws: Workspace, seconds = 1, maxOps = 20_000): FsyncLoopResult {
  const block = Buffer.alloc(FSYNC_LOOP_BLOCK, 0x5a);
  ws.settle();
  const fd = openSync(ws.path('fsync-loop.bin'), 'w');
  const latency = new LatencySamples();
  const start = nowNs();
  const deadline = start + seconds * 1e9;
  for (let position = 0; latency.count < maxOps && nowNs() < deadline; position += block.length) {
    const t0 = nowNs();
    writeSync(fd, block, 0, block.length, position);
    fdatasyncSync(fd);
    latency.add(nowNs() - t0);
  }
  const meanUs = (nowNs() - start) / 1e3 / latency.count;
  closeSync(fd);
  ws.remove('fsync-loop.bin');
  return { ops: latency.count, opsPerSec: 1e6 / meanUs, meanUs, p50Us: latency.percentileUs(0.5), p99Us: latency.percentileUs(0.99) };
}
