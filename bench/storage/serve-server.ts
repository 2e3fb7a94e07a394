/**
 * The serving benchmark's server process: serves one file, warm in the page cache, to each
 * connection in the mode the client asks for, and reports its own resource usage per transfer.
 *
 *   (forked by serve.ts)  serve-server.ts <file>
 */
import { once } from 'node:events';
import { fstatSync, openSync, readSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { nativeAddon } from '../../src/native/addon.js';
import { createFileSender, heldOpen, type FileRegion } from '../../src/native/file-transfer.js';
import { MiB, since, snapshot } from '../support/resources.js';
import { SERVE_MODES, type ServeMode, type ServerMessage } from './serve-protocol.js';

/** Slices as large as the copy sender's chunks, so (a) and (b) differ only in the copy they save. */
const MMAP_SLICE = MiB;

const path = process.argv[2];
const fd = openSync(path, 'r');
const fileBytes = fstatSync(fd).size;
const region: FileRegion = { file: heldOpen(fd), position: 0, byteLength: fileBytes };
const copySender = createFileSender('copy');
const sendfileSender = createFileSender('sendfile');

function report(message: ServerMessage): void {
  process.send!(message);
}

/** Reads the whole file once, so every transfer is served from the page cache. */
function warm(): void {
  const buf = Buffer.allocUnsafe(8 * MiB);
  for (let at = 0, n = 1; at < fileBytes && n > 0; at += n) n = readSync(fd, buf, 0, buf.length, at);
}

function writeDone(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

/**
 * One copy fewer than read+write: the socket copies straight out of the mapping. Each slice is
 * followed by a setImmediate, because writes that complete synchronously resolve through
 * microtasks and would otherwise keep the loop from ever turning.
 */
async function sendMapped(socket: Socket): Promise<void> {
  const addon = nativeAddon!;
  const mapping = addon.mmap(fd, fileBytes, false);
  try {
    const view = Buffer.from(mapping);
    for (let at = 0; at < fileBytes; at += MMAP_SLICE) {
      if (!socket.write(view.subarray(at, Math.min(fileBytes, at + MMAP_SLICE)))) await once(socket, 'drain');
      await yieldToLoop();
    }
    // Unmapping while libuv still holds a slice would fault: wait until the kernel has it all.
    await writeDone(socket, Buffer.alloc(0));
  } finally {
    addon.unmap(mapping);
  }
}

function send(mode: ServeMode, socket: Socket): Promise<void> {
  if (mode === 'mmap') return sendMapped(socket);
  return (mode === 'sendfile' ? sendfileSender : copySender).send(socket, region);
}

async function serve(socket: Socket, mode: ServeMode): Promise<void> {
  const lag = monitorEventLoopDelay();
  lag.enable();
  const start = snapshot();
  await send(mode, socket);
  // The copy sender returns once the last chunk is queued; count until the kernel has it.
  await writeDone(socket, Buffer.alloc(0));
  const usage = since(start);
  lag.disable();
  report({ type: 'served', mode, bytes: fileBytes, usage, loopLagP99Ms: lag.percentile(99) / 1e6, maxLoopLagMs: lag.max / 1e6 });
  socket.end();
}

warm();
// allowHalfOpen: a client that shuts down its side must not cut the transfer short.
const server = createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => {});
  socket.once('data', (request) => {
    const mode = SERVE_MODES[request[0]];
    serve(socket, mode).catch((e: unknown) => {
      console.error(`serve ${mode} failed:`, e);
      socket.destroy();
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  // mmap and sendfile need the native addon; without it only the copy path can be measured.
  report({ type: 'ready', port: address.port, fileBytes, modes: nativeAddon ? [...SERVE_MODES] : ['copy'] });
});
process.on('disconnect', () => process.exit(0));
