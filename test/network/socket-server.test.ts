import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { createFileSender } from '../../src/native/file-transfer.js';
import type { RequestRouter } from '../../src/network/connection.js';
import { SocketServer } from '../../src/network/socket-server.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { createApiVersionsRequest } from '../../src/protocol/generated/messages/api-versions-request.js';
import { encodeRequestFrame } from '../../src/protocol/headers.js';

const LIMITS = { maxFrameBytes: 64 << 20, maxInFlight: 100, idleTimeoutMs: 600_000, frameTimeoutMs: 60_000 };

/** A handler that answers every request with an empty ApiVersions body, `delayMs` later. */
const answerAfter =
  (delayMs: number): RequestRouter['handle'] =>
  async () => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { ...apis.ApiVersions.response.create() };
  };

/** A server whose router serves every request with `handle`. */
async function serve(handle: RequestRouter['handle']): Promise<{ server: SocketServer; port: number }> {
  const router = { supports: () => true, unsupportedApiVersionsResponse: () => ({}), handle };
  const server = new SocketServer(router, createFileSender('copy'), LIMITS, 100);
  const [bound] = await server.listen([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0 }]);
  server.serve();
  return { server, port: bound.port };
}

const apiVersions = (correlationId: number): Buffer =>
  encodeRequestFrame({ correlationId, clientId: 'close-test' }, apis.ApiVersions.apiKey, 3, { ...createApiVersionsRequest(), clientSoftwareName: 'close-test', clientSoftwareVersion: '1' });

async function connected(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/** The bytes a socket receives until it closes. */
function received(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

// The grace is far beyond the test's timeout: close() can only return in time by seeing each client go.
const GRACE_MS = 600_000;

/** Runs `body` with a server, which is closed at once afterwards whatever happened, so that no failure leaves the test process running. */
async function withServer(handle: RequestRouter['handle'], body: (server: SocketServer, port: number, sockets: Socket[]) => Promise<void>): Promise<void> {
  const { server, port } = await serve(handle);
  const sockets: Socket[] = [];
  try {
    await body(server, port, sockets);
  } finally {
    for (const s of sockets) s.destroy();
    await server.close(0);
  }
}

test('a stopping server answers what it read, ends, and sees a client that hung up without waiting out the grace', { timeout: 20_000 }, () =>
  withServer(answerAfter(200), async (server, port, sockets) => {
    const answered = await connected(port);
    sockets.push(answered);
    const response = received(answered);
    answered.write(apiVersions(7));
    // One client hangs up just before the stop, before the server has read its end.
    const gone = await connected(port);
    sockets.push(gone);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(server.connectionCount, 2);
    gone.destroy();
    const closing = server.close(GRACE_MS);
    const bytes = await response;
    assert.equal(bytes.readInt32BE(0), bytes.length - 4, 'one whole response frame');
    assert.equal(bytes.readInt32BE(4), 7, 'the answer to the request read before the stop');
    await closing;
    assert.equal(server.connectionCount, 0);
  }),
);

test('frames split at every byte, and frames far larger than one read, are all answered in order', { timeout: 20_000 }, () =>
  withServer(answerAfter(0), async (_server, port, sockets) => {
    const socket = await connected(port);
    sockets.push(socket);
    const response = received(socket);
    const small = Buffer.concat([1, 2, 3].map(apiVersions));
    for (const byte of small) {
      socket.write(Buffer.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
    // A request of 3 MiB: its client software name is the padding (the router does not look).
    const big = encodeRequestFrame({ correlationId: 4, clientId: 'close-test' }, apis.ApiVersions.apiKey, 3, {
      ...createApiVersionsRequest(),
      clientSoftwareName: 'x'.repeat(3 << 20),
      clientSoftwareVersion: '1',
    });
    socket.write(Buffer.concat([big, apiVersions(5)]));
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.end();
    const bytes = await response;
    const ids: number[] = [];
    for (let at = 0; at < bytes.length; at += 4 + bytes.readInt32BE(at)) ids.push(bytes.readInt32BE(at + 4));
    assert.deepEqual(ids, [1, 2, 3, 4, 5]);
  }),
);

/** The correlation ids of the whole response frames in `bytes`. */
function answeredIds(bytes: Buffer): number[] {
  const ids: number[] = [];
  for (let at = 0; at + 8 <= bytes.length && at + 4 + bytes.readInt32BE(at) <= bytes.length; at += 4 + bytes.readInt32BE(at)) ids.push(bytes.readInt32BE(at + 4));
  return ids;
}

test('a handler that fails closes its connection after the answers before it, whether it throws or rejects, and before they are ready', { timeout: 20_000 }, async () => {
  // 1 answers late; 2 rejects at once, long before 1 is answered; 3 throws as it is called.
  const handle: RequestRouter['handle'] = (header) => {
    if (header.correlationId === 3) throw new Error('handler threw');
    if (header.correlationId === 2) return Promise.reject(new Error('handler rejected'));
    return answerAfter(300)(header, null, null as never);
  };
  await withServer(handle, async (_server, port, sockets) => {
    const rejecting = await connected(port);
    const throwing = await connected(port);
    sockets.push(rejecting, throwing);
    const [rejected, thrown] = [received(rejecting), received(throwing)];
    rejecting.write(Buffer.concat([apiVersions(1), apiVersions(2), apiVersions(4)]));
    throwing.write(Buffer.concat([apiVersions(3), apiVersions(5)]));
    assert.deepEqual(answeredIds(await thrown), [], 'nothing was ahead of the request that threw');
    assert.deepEqual(answeredIds(await rejected), [1], 'the answer ahead of the failed request went out, nothing after it');
    // The server goes on serving others.
    const other = await connected(port);
    sockets.push(other);
    const answer = received(other);
    other.end(apiVersions(6));
    assert.deepEqual(answeredIds(await answer), [6]);
  });
});
