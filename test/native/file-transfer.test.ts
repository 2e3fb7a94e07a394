import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nativeAddon, nativeAddonError } from '../../src/native/addon.js';
import { createFileSender, heldOpen, transferStats, type TransferMode } from '../../src/native/file-transfer.js';

const FILE_SIZE = 24 << 20;
let dir: string;
let fd: number;
let content: Buffer;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-transfer-'));
  content = randomBytes(FILE_SIZE);
  writeFileSync(join(dir, 'data'), content);
  fd = openSync(join(dir, 'data'), 'r');
});

after(() => {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

test('the native addon is built (CI builds it; elsewhere the fallback is reported)', (t) => {
  if (!nativeAddon) {
    if (process.env.CI) assert.fail(`native addon missing in CI: ${nativeAddonError}`);
    t.diagnostic(`native addon not in use: ${nativeAddonError}`);
  }
});

/** Serves one connection with `serve`, collects everything the client receives. */
async function exchange(serve: (s: Socket) => Promise<void>, opts: { slowReader?: boolean } = {}): Promise<Buffer> {
  const server = createServer({ allowHalfOpen: true });
  let served: Promise<void> = Promise.resolve();
  server.on('connection', (s) => {
    served = serve(s).finally(() => s.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      // A slow reader fills the socket buffers, so sendfile hits EAGAIN and waits for POLLOUT.
      if (opts.slowReader) {
        c.pause();
        setTimeout(() => c.resume(), 1);
      }
    });
    c.on('end', resolve);
    c.on('error', reject);
  });
  await served;
  server.close();
  return Buffer.concat(chunks);
}

for (const mode of ['sendfile', 'copy'] as TransferMode[]) {
  describe(`file transfer by ${mode}`, () => {
    test('regions arrive byte-exact and in order with bytes written before and after', async (t) => {
      if (mode === 'sendfile' && !nativeAddon && !process.env.CI) return t.skip('no native addon');
      const sender = createFileSender(mode);
      assert.equal(sender.mode, mode);
      const regions = [
        { position: 0, length: 1 },
        { position: 7, length: 4093 },
        { position: 123_457, length: 3_000_001 },
        { position: FILE_SIZE - 10, length: 10 },
        { position: 1, length: FILE_SIZE - 1 },
      ];
      const expected: Buffer[] = [];
      const before = mode === 'sendfile' ? transferStats.sendfileBytes : transferStats.copiedBytes;
      const received = await exchange(async (s) => {
        for (const [i, r] of regions.entries()) {
          const frame = Buffer.from(`<frame ${i}>`);
          s.write(frame);
          expected.push(frame, content.subarray(r.position, r.position + r.length));
          await sender.send(s, { file: heldOpen(fd), position: r.position, byteLength: r.length });
        }
        s.write('<end>');
        expected.push(Buffer.from('<end>'));
      }, { slowReader: true });
      assert.ok(received.equals(Buffer.concat(expected)), 'received bytes differ from what was sent');
      const sent = regions.reduce((n, r) => n + r.length, 0);
      const after = mode === 'sendfile' ? transferStats.sendfileBytes : transferStats.copiedBytes;
      assert.equal(after - before, sent);
    });

    test('a client that disconnects mid-transfer fails the send, and the server carries on', async (t) => {
      if (mode === 'sendfile' && !nativeAddon && !process.env.CI) return t.skip('no native addon');
      const sender = createFileSender(mode);
      const server = createServer({ allowHalfOpen: true });
      const outcome = new Promise<unknown>((resolve) => {
        server.on('connection', (s) => {
          s.on('error', () => {});
          sender.send(s, { file: heldOpen(fd), position: 0, byteLength: FILE_SIZE }).then(() => resolve('completed'), resolve);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      const c = createConnection({ port, host: '127.0.0.1' });
      c.once('data', () => c.resetAndDestroy());
      const result = await outcome;
      server.close();
      assert.ok(result instanceof Error, `expected the send to fail, got ${String(result)}`);
    });

    test('a region past the end of the file is an error, not a hang', async (t) => {
      if (mode === 'sendfile' && !nativeAddon && !process.env.CI) return t.skip('no native addon');
      const sender = createFileSender(mode);
      let failure: unknown;
      await exchange(async (s) => {
        try {
          await sender.send(s, { file: heldOpen(fd), position: FILE_SIZE - 5, byteLength: 100 });
        } catch (e) {
          failure = e;
        }
      });
      assert.equal((failure as NodeJS.ErrnoException)?.code, 'ENODATA');
    });
  });
}
