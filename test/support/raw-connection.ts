import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/network/frame-decoder.js';
import type { ApiEntry } from '../../src/protocol/api-entry.js';
import { decodeResponseFrame, encodeRequestFrame } from '../../src/protocol/headers.js';

/** Responses can be large (Fetch); this only guards the test against a runaway size prefix. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/**
 * A bare TCP connection to a broker that sends whatever bytes it is given and splits what comes
 * back into response frames: for requests no client would send, and for watching how the broker
 * ends a connection.
 */
export class RawConnection {
  private readonly decoder = new FrameDecoder(MAX_RESPONSE_BYTES);
  private readonly frames: Buffer[] = [];
  private readonly listeners = new Set<() => void>();
  private nextCorrelationId = 1;
  private destroyedHere = false;
  /** The broker ended or reset the connection (not this side). */
  peerClosed = false;
  readonly localPort: number;

  private constructor(private readonly socket: Socket) {
    this.localPort = socket.localPort!;
    socket.on('data', (data: Buffer) => {
      this.decoder.push(data, this.frames);
      this.changed();
    });
    const peerGone = (): void => {
      if (!this.destroyedHere) this.peerClosed = true;
      this.changed();
    };
    socket.on('end', peerGone);
    // A broker that destroys a socket with unread bytes in it resets the connection.
    socket.on('error', peerGone);
    socket.on('close', peerGone);
  }

  static open(port: number, timeoutMs = 5000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to port ${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RawConnection(socket));
      });
    });
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Resolves with `check()`'s first non-undefined value, or with `onTimeout()` after `timeoutMs`. */
  private until<T>(check: () => T | undefined, timeoutMs: number, onTimeout: () => T): Promise<T> {
    return new Promise((resolve) => {
      const finish = (value: T): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(value);
      };
      const listener = (): void => {
        const value = check();
        if (value !== undefined) finish(value);
      };
      const timer = setTimeout(() => finish(onTimeout()), timeoutMs);
      this.listeners.add(listener);
      listener();
    });
  }

  /** Writes bytes as they are; a write after the broker hung up is dropped, as a client's would be. */
  send(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Half-closes: the broker sees the end of the stream and may still answer. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.destroyedHere = true;
    this.socket.destroy();
  }

  /** Whether the broker closed the connection within `timeoutMs`. */
  closedByPeer(timeoutMs: number): Promise<boolean> {
    return this.until(() => (this.peerClosed ? true : undefined), timeoutMs, () => false);
  }

  /** The next response frame (size prefix removed), or null if the connection closed (either side) or time ran out first. */
  nextFrame(timeoutMs: number): Promise<Buffer | null> {
    return this.until(
      () => this.frames.shift() ?? (this.peerClosed || this.socket.destroyed ? null : undefined),
      timeoutMs,
      () => null,
    );
  }

  /** Sends a request and decodes its response. */
  async request<Req, Res>(api: ApiEntry<Req, Res>, version: number, body: Req, timeoutMs = 10_000): Promise<Res> {
    const correlationId = this.nextCorrelationId++;
    this.send(encodeRequestFrame({ correlationId, clientId: 'sluice-raw' }, api.apiKey, version, body));
    const frame = await this.nextFrame(timeoutMs);
    if (frame === null) throw new Error(`no ${api.name} v${version} response (connection ${this.peerClosed ? 'closed' : 'silent'})`);
    const response = decodeResponseFrame(frame, api.apiKey, version);
    if (response.correlationId !== correlationId) throw new Error(`response to correlation id ${response.correlationId}, expected ${correlationId}`);
    return response.body as Res;
  }
}
