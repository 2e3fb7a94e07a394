/**
 * The serving benchmark's client process: fetches a file from the server and discards it.
 * It reads into one reused buffer (`onread`), so the client spends as little CPU as it can and
 * the server, not the client, sets the pace.
 *
 *   (forked by serve.ts)
 */
import { connect } from 'node:net';
import { MiB, since, snapshot } from '../support/resources.js';
import { SERVE_MODES, type ClientMessage, type FetchCommand } from './serve-protocol.js';

const buffer = Buffer.allocUnsafe(MiB);

function report(message: ClientMessage): void {
  process.send!(message);
}

function fetch(command: FetchCommand): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const socket = connect({
      host: '127.0.0.1',
      port: command.port,
      onread: {
        buffer,
        callback: (n) => {
          received += n;
          if (received >= command.bytes) {
            socket.end();
            resolve(received);
          }
          return true;
        },
      },
    });
    socket.on('connect', () => socket.write(Buffer.of(SERVE_MODES.indexOf(command.mode))));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${received} of ${command.bytes} bytes`)));
  });
}

process.on('message', (command: FetchCommand) => {
  const start = snapshot();
  fetch(command).then(
    (bytes) => report({ type: 'fetched', bytes, usage: since(start) }),
    (e: unknown) => {
      console.error('fetch failed:', e);
      process.exit(1);
    },
  );
});
process.on('disconnect', () => process.exit(0));
report({ type: 'ready' });
