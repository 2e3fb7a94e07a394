import { Socket, type OnReadOpts } from 'node:net';
import { TLSSocket } from 'node:tls';
import { FrameDecoder, FramingError, type FrameLimit } from './frame-decoder.js';

/** What adopt() moves from an accepted socket to the one it makes: Node's descriptor wrap, and the server that counts it. */
interface Internals {
  _handle: unknown;
  _server: unknown;
}

/** Where the frames of a connection go. */
export interface FrameSink {
  /** Called after every read, with the frames it completed (maybe none), in an array reused once this returns. */
  frames(frames: Buffer[]): void;
  /** A size prefix over the limit: the connection cannot go on. */
  refused(e: FramingError): void;
}

/**
 * The reading side of a connection, broker or client: its socket's bytes into a FrameDecoder,
 * and the frames out to a sink. A plain TCP socket reads into the decoder's buffers (Node's
 * `onread`), so a frame body goes from the kernel into the frame's own buffer; a TLS socket
 * hands out its decrypted chunks, which are fed in as they come.
 */
export class FrameReader {
  readonly decoder: FrameDecoder;
  private sink: FrameSink | null = null;
  private readonly out: Buffer[] = [];

  /** For `net.connect()` or `new Socket()`: reads land where the decoder says. */
  readonly onread: OnReadOpts = {
    buffer: () => this.decoder.nextBuffer(),
    callback: (n) => {
      this.deliver(n, null);
      return true;
    },
  };

  constructor(maxFrameBytes: number, tighterLimit?: () => FrameLimit | null) {
    this.decoder = new FrameDecoder(maxFrameBytes, tighterLimit);
  }

  /** Where frames go from now on; a socket made with `onread` must be given its sink before it can read. */
  deliverTo(sink: FrameSink): void {
    this.sink = sink;
  }

  /** Takes the 'data' chunks of a socket that does not read into our buffers (TLS). */
  feed(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.deliver(0, chunk));
  }

  /**
   * A plain socket a `net.Server` accepted (with `pauseOnConnect`, so nothing was read yet),
   * made again around the same descriptor with `onread`: Node offers `onread` to sockets it
   * connects, not to those a server accepts. The new socket takes the accepted one's place in
   * the server's count of connections, and the accepted one goes without closing the descriptor.
   * null for a TLS socket, or one already gone: feed() it instead.
   */
  adopt(accepted: Socket): Socket | null {
    const old = accepted as unknown as Internals;
    if (accepted instanceof TLSSocket || !old._handle || accepted.destroyed) return null;
    const socket = new Socket({ handle: old._handle, allowHalfOpen: accepted.allowHalfOpen, readable: true, writable: true, onread: this.onread } as ConstructorParameters<typeof Socket>[0]);
    (socket as unknown as Internals)._server = old._server;
    old._server = null;
    old._handle = null;
    accepted.destroy();
    return socket;
  }

  private deliver(landed: number, chunk: Buffer | null): void {
    const out = this.out;
    try {
      if (chunk === null) this.decoder.landed(landed, out);
      else this.decoder.push(chunk, out);
    } catch (e) {
      out.length = 0;
      if (e instanceof FramingError) return this.sink!.refused(e);
      throw e;
    }
    try {
      this.sink!.frames(out);
    } finally {
      out.length = 0;
    }
  }
}
