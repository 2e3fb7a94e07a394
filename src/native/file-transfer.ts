import { read } from 'node:fs';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ExternalBytes } from '../protocol/primitives/writer.js';
import { nativeAddon, type NativeAddon } from './addon.js';

/**
 * A file whose descriptor is lent out on demand: the storage layer may close descriptors of
 * idle files to stay within its budget, so whoever reads holds the descriptor only while it
 * reads. A file deleted meanwhile stays readable while a loan lasts.
 */
export interface LentFile {
  /** Runs `work` with the descriptor open. */
  use<T>(work: (fd: number) => T): T;
  /** Lends the descriptor for asynchronous work, once the budget has room; release() ends the loan. */
  acquire(): Promise<number>;
  release(): void;
}

/** A descriptor the caller keeps open itself, lent as it is. */
export function heldOpen(fd: number): LentFile {
  return { use: (work) => work(fd), acquire: () => Promise.resolve(fd), release: () => {} };
}

/** A span of a file: what a Fetch response carries instead of record bytes. */
export interface FileRegion extends ExternalBytes {
  readonly file: LentFile;
  readonly position: number;
  readonly byteLength: number;
}

export type TransferMode = 'sendfile' | 'copy';

/** Bytes sent to sockets by each path since start, for metrics. */
export const transferStats = { sendfileBytes: 0, copiedBytes: 0 };

/**
 * Sends file regions to a socket. The caller must be the socket's only writer while a send is
 * under way (the connection's response queue): bytes it wrote before stay before the region.
 */
export interface FileSender {
  readonly mode: TransferMode;
  send(socket: Socket, region: FileRegion): Promise<void>;
}

function writeDone(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

/**
 * The kernel-level descriptor of a plain TCP socket; -1 for anything else. A TLS socket's handle
 * shows the descriptor beneath too, but bytes sent there would skip the encryption.
 */
function socketFd(socket: Socket): number {
  if (socket instanceof TLSSocket) return -1;
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

const COPY_CHUNK = 1 << 20;
const COPY_BUFFERS = 4;

/** pread into a few pooled 1 MiB buffers, then socket.write with backpressure. */
class CopySender implements FileSender {
  readonly mode = 'copy' as const;
  private readonly pool: Buffer[] = [];
  private allocated = 0;
  private readonly waiting: ((b: Buffer) => void)[] = [];

  private take(): Promise<Buffer> {
    const b = this.pool.pop();
    if (b) return Promise.resolve(b);
    if (this.allocated < COPY_BUFFERS) {
      this.allocated++;
      return Promise.resolve(Buffer.allocUnsafeSlow(COPY_CHUNK));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private give(b: Buffer): void {
    const next = this.waiting.shift();
    if (next) next(b);
    else this.pool.push(b);
  }

  async send(socket: Socket, region: FileRegion): Promise<void> {
    // Every wait below also ends when the socket closes, so a vanished peer cannot strand a send.
    let onClose!: () => void;
    const closed = new Promise<never>((_, reject) => {
      onClose = () => reject(Object.assign(new Error('socket closed during transfer'), { code: 'ECONNRESET' }));
      if (socket.destroyed) onClose();
      else socket.once('close', onClose);
    });
    closed.catch(() => {});
    // No race with `closed` here: a loan granted after the race was lost would never end.
    const fd = await region.file.acquire();
    try {
      let position = region.position;
      let left = region.byteLength;
      while (left > 0) {
        const taking = this.take();
        const buf = await Promise.race([taking, closed]).catch((e: unknown) => {
          // The buffer still arrives later: back to the pool with it.
          void taking.then((b) => this.give(b));
          throw e;
        });
        let n: number;
        try {
          // Not raced with `closed`: the descriptor must stay lent until the read is over.
          n = await readAt(fd, buf, Math.min(left, COPY_CHUNK), position);
          if (n === 0) throw Object.assign(new Error('file shorter than the region to send'), { code: 'ENODATA' });
        } catch (e) {
          this.give(buf);
          throw e;
        }
        // The buffer goes back to the pool only once the socket is done with it.
        const flushed = socket.write(buf.subarray(0, n), () => this.give(buf));
        transferStats.copiedBytes += n;
        position += n;
        left -= n;
        if (!flushed && left > 0) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
      }
    } finally {
      region.file.release();
      socket.off('close', onClose);
    }
  }
}

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

let nextTransferId = 1;

/**
 * sendfile(2) through the addon: file pages go to the socket without entering the process. TLS
 * sockets take the copying path, since their bytes must be encrypted in the process.
 */
class SendfileSender implements FileSender {
  readonly mode = 'sendfile' as const;

  constructor(
    private readonly addon: NativeAddon,
    private readonly fallback: FileSender,
  ) {}

  async send(socket: Socket, region: FileRegion): Promise<void> {
    const fd = socketFd(socket);
    if (fd < 0) return this.fallback.send(socket, region);
    // sendfile writes below libuv: whatever socket.write queued must reach the kernel first.
    while (socket.writableLength > 0) await writeDone(socket, Buffer.alloc(0));
    if (region.byteLength === 0) return;
    const file = await region.file.acquire();
    const id = nextTransferId++ >>> 0;
    const cancel = (): void => this.addon.cancel(id);
    socket.once('close', cancel);
    try {
      await new Promise<void>((resolve, reject) => {
        let done: number | null;
        try {
          done = this.addon.sendfile(id, fd, file, region.position, region.byteLength, (err, sent) => {
            transferStats.sendfileBytes += sent;
            if (err) reject(err);
            else resolve();
          });
        } catch (e) {
          reject(e);
          return;
        }
        if (done !== null) {
          transferStats.sendfileBytes += done;
          resolve();
        }
      });
    } finally {
      region.file.release();
      socket.removeListener('close', cancel);
    }
  }
}

/**
 * The sender for a mode: 'sendfile' needs the addon and falls back to copying when it is
 * missing; the fallback is reported through `mode`, which the broker logs once at start.
 */
export function createFileSender(preferred: TransferMode): FileSender {
  const copy = new CopySender();
  if (preferred === 'sendfile' && nativeAddon) return new SendfileSender(nativeAddon, copy);
  return copy;
}
