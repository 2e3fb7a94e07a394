// Opens many connections to a broker, sends one request on each (so the broker has taken each
// in), and then holds them idle until its stdin closes. A child process so that its sockets
// count neither against the test's descriptors nor in its memory.
//
// argv: <port> <count> <request frame, base64> [<CA file>: connect with TLS]
// stdout: "ready" once every connection has had its answer.
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';

const [port, countText, frameText, caFile] = process.argv.slice(2);
const frame = Buffer.from(frameText, 'base64');
const ca = caFile ? readFileSync(caFile) : null;
const sockets = [];

function open() {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: Number(port) };
    const socket = ca ? connectTls({ ...options, ca, servername: 'localhost' }, () => socket.write(frame)) : connectTcp(options, () => socket.write(frame));
    socket.once('data', () => resolve(socket));
    socket.once('error', reject);
  });
}

// A few at a time, as clients arrive, rather than all handshakes at once.
const count = Number(countText);
for (let i = 0; i < count; i += 50) sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, open))));
process.stdout.write('ready\n');
process.stdin.on('data', () => {});
process.stdin.on('end', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
