import type { Socket } from 'node:net';
import { log } from '../log.js';
import type { FileRegion, FileSender } from '../native/file-transfer.js';
import { readRequestHeader, writeResponse } from '../protocol/headers.js';
import { Reader } from '../protocol/primitives/reader.js';
import { Writer, chunksLength, type Chunk } from '../protocol/primitives/writer.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { apiByKey } from '../protocol/generated/api-table.js';
import type { RequestHeader } from '../protocol/generated/messages/request-header.js';
import type { FrameLimit } from './frame-decoder.js';
import { FrameReader } from './frame-reader.js';

/** Client id + API + version already warned about: each is logged once, not at every reconnect. */
const warnedUnsupported = new Set<string>();
/** Bounds the set against clients inventing ids; past it, nothing more is warned about. */
const MAX_WARNED_UNSUPPORTED = 10_000;

/** A request in a version Sluice does not serve: a warning, once per client id, API and version. */
function warnUnsupportedOnce(clientId: string | null, api: string, version: number): void {
  const key = `${clientId ?? ''}\u0000${api}\u0000${version}`;
  if (warnedUnsupported.has(key) || warnedUnsupported.size >= MAX_WARNED_UNSUPPORTED) return;
  warnedUnsupported.add(key);
  log.warn({ clientId, api, version }, `${api} v${version} is not supported (client ${clientId === null ? 'without an id' : `"${clientId}"`}): closing its connections`);
}

export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The listener the connection came in on (its name in `listeners`, e.g. PLAINTEXT, SASL_SSL). */
  readonly listenerName: string;
  /**
   * Who the client is, in Kafka's form "User:name": the SASL user once authenticated, the
   * certificate's subject on an SSL listener with client authentication, else User:ANONYMOUS.
   */
  readonly principal: string;
  /** What authenticates the client on a listener that requires it (SASL); null elsewhere. */
  readonly authenticator: ConnectionAuthenticator | null;
  /** Closes the connection (a handler that must drop a client, e.g. a protocol violation). */
  close(reason: string): void;
  /** Stops reading, sends the responses to what was read, then closes (a failed authentication). */
  closeAfterResponses(reason: string): void;
  /** Reads nothing from the client for `ms` (a client over its quota, KIP-219: its channel is muted). */
  throttle(ms: number): void;
  /**
   * Aborted once the client has stopped sending or the connection is closed: a request parked
   * on its behalf (a long poll) answers now instead of at max_wait.
   */
  readonly endedSignal: AbortSignal;
}

/**
 * Authentication a listener requires before serving requests, one per connection. The
 * connection stays protocol-agnostic: it asks before serving each frame, and hands over the
 * frames that are bare authentication tokens rather than requests.
 */
export interface ConnectionAuthenticator {
  /**
   * Why a frame may not be served now (not authenticated yet, a session past its lifetime): the
   * connection is closed with it. null: serve it. apiKey is null for a bare token.
   */
  refusal(apiKey: number | null): string | null;
  /** A frame size limit below the listener's while authenticating, checked before the frame is read. */
  frameLimit(): FrameLimit | null;
  /** The next frame is a bare token, not a request (SASL after SaslHandshake v0). */
  readonly expectsRawToken: boolean;
  /** Answers a bare token: the token to send back (size-prefixed, without a header), or null for none. */
  rawToken(token: Buffer): Promise<Buffer | null>;
}

/** Kafka's principal of a client that has not authenticated. */
export const ANONYMOUS_PRINCIPAL = 'User:ANONYMOUS';

/** What a handler gives back: a body to encode, or nothing to send (acks=0 produce). */
export type HandlerResult = unknown | null;

export interface RequestRouter {
  /** Whether the api and version are served; false closes the connection (except ApiVersions). */
  supports(apiKey: number, apiVersion: number): boolean;
  /** The body of an ApiVersions v0 response that says UNSUPPORTED_VERSION. */
  unsupportedApiVersionsResponse(): unknown;
  handle(header: RequestHeader, body: unknown, connection: ConnectionInfo): Promise<HandlerResult> | HandlerResult;
  /** The authenticator of a new connection, by its listener; absent or null: none needed. */
  readonly authenticatorFor?: ((connection: Connection) => ConnectionAuthenticator | null) | null;
}

export interface ConnectionLimits {
  maxFrameBytes: number;
  /** Requests read but not yet answered before the connection stops reading. */
  maxInFlight: number;
  idleTimeoutMs: number;
  /** How long a request frame may take to arrive once begun: a trickled frame cannot hold a connection forever. */
  frameTimeoutMs: number;
}

/** Bytes queued on the socket beyond which reading pauses until the client catches up. */
const WRITE_HIGH_WATER = 8 * 1024 * 1024;

const API_VERSIONS = 18;

/** A request whose handling threw or rejected: the connection closes when its turn to answer comes. */
class HandlerFailure {
  constructor(readonly error: unknown) {}
}

/** What a request answers: its frame's chunks, nothing (acks=0), or the failure that ends the connection. */
type Answer = Chunk[] | null | HandlerFailure;

/** A failure as a value, so that a response waiting in line never rejects unhandled. */
const asFailure = (e: unknown): HandlerFailure => new HandlerFailure(e);

/**
 * One client connection: splits frames, decodes requests, runs them concurrently (librdkafka
 * pipelines many), and writes the responses strictly in request order. It is the socket's only
 * writer, which is what lets file regions go out by sendfile between buffered writes.
 */
export class Connection implements ConnectionInfo {
  private readonly reader: FrameReader;
  /** The socket it reads and writes: the accepted one, or the one made around its descriptor to read into the frames' buffers. */
  readonly socket: Socket;
  /** Whether responses are being gathered for one write at the end of this turn of the loop (writeCorked). */
  private corked = false;
  /** Responses in request order: chunks to send, null for none, or a promise of either. */
  private readonly pending: (Answer | Promise<Answer>)[] = [];
  private writing = false;
  private closed = false;
  private paused = false;
  /** Finishing (closeAfterResponses, or a broker stopping): nothing more read is served. */
  private closing = false;
  /** Muted by a quota until this timer fires. */
  private unmute: NodeJS.Timeout | null = null;
  private mutedUntil = 0;
  private frameDeadline: NodeJS.Timeout | null = null;
  /** Made on first use: most connections never park a request. */
  private endedController: AbortController | null = null;
  readonly remoteAddress: string;
  readonly remotePort: number;
  principal = ANONYMOUS_PRINCIPAL;
  readonly authenticator: ConnectionAuthenticator | null;

  constructor(
    readonly id: number,
    readonly listenerName: string,
    accepted: Socket,
    private readonly router: RequestRouter,
    private readonly sender: FileSender,
    private readonly limits: ConnectionLimits,
  ) {
    this.reader = new FrameReader(limits.maxFrameBytes, () => this.authenticator?.frameLimit() ?? null);
    this.reader.deliverTo({ frames: (frames) => this.onFrames(frames), refused: (e) => this.close(e.message) });
    this.remoteAddress = accepted.remoteAddress ?? '?';
    this.remotePort = accepted.remotePort ?? 0;
    this.authenticator = router.authenticatorFor?.(this) ?? null;
    const adopted = this.reader.adopt(accepted);
    const socket = (this.socket = adopted ?? accepted);
    if (!adopted) this.reader.feed(socket);
    socket.resume();
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.close('idle timeout'));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => {
      this.closed = true;
      this.reader.decoder.release();
      if (this.frameDeadline) clearTimeout(this.frameDeadline);
      this.endedController?.abort();
    });
  }

  get endedSignal(): AbortSignal {
    this.endedController ??= new AbortController();
    if (this.closed || this.socket.readableEnded) this.endedController.abort();
    return this.endedController.signal;
  }

  private onFrames(frames: Buffer[]): void {
    for (const frame of frames) {
      if (this.closed || this.closing) return;
      this.dispatch(frame);
    }
    this.watchFrameDeadline(frames.length > 0);
    this.applyBackpressure();
  }

  /** Each frame gets frameTimeoutMs from its first byte; idle time between frames is connections.max.idle.ms's. */
  private watchFrameDeadline(framesEnded: boolean): void {
    if (this.frameDeadline && (framesEnded || !this.reader.decoder.insideFrame)) {
      clearTimeout(this.frameDeadline);
      this.frameDeadline = null;
    }
    if (this.frameDeadline || !this.reader.decoder.insideFrame || this.closed) return;
    const expire = (): void => {
      // Reading paused by backpressure holds the rest of the frame back: not the client's doing.
      if (this.paused) this.frameDeadline = setTimeout(expire, this.limits.frameTimeoutMs);
      else this.close(`request frame incomplete after ${this.limits.frameTimeoutMs} ms (${this.reader.decoder.pendingBytes} bytes of it arrived)`);
    };
    this.frameDeadline = setTimeout(expire, this.limits.frameTimeoutMs);
  }

  /**
   * The peer finished sending: answer what it asked, then close our side. A frame the stream
   * ended inside can never be completed: that connection was broken, and is closed as such.
   */
  private onEnd(): void {
    const unfinished = this.reader.decoder.insideFrame;
    this.endedController?.abort();
    void Promise.allSettled(this.pending).then(() => {
      if (this.closed) return;
      if (unfinished) this.close('the stream ended inside a frame');
      else this.socket.end();
    });
  }

  private dispatch(frame: Buffer): void {
    let header: RequestHeader;
    let body: unknown;
    const auth = this.authenticator;
    if (auth?.expectsRawToken) {
      const refusal = auth.refusal(null);
      if (refusal !== null) return this.close(refusal);
      return this.enqueue(auth.rawToken(frame).then((token) => (token === null ? null : [sizePrefixed(token)]), asFailure));
    }
    const r = new Reader(frame);
    try {
      header = readRequestHeader(r);
    } catch (e) {
      return this.close(`unreadable request header: ${(e as Error).message}`);
    }
    const { requestApiKey: apiKey, requestApiVersion: version } = header;
    const refusal = auth?.refusal(apiKey) ?? null;
    if (refusal !== null) return this.close(refusal);
    if (!this.router.supports(apiKey, version)) {
      if (apiKey === API_VERSIONS) {
        // A client newer than us asks in a version we lack: answer in v0 with what we have.
        this.enqueue(encode(header.correlationId, apiKey, 0, this.router.unsupportedApiVersionsResponse()));
        return;
      }
      const name = apiByKey(apiKey)?.name ?? `api key ${apiKey}`;
      warnUnsupportedOnce(header.clientId, name, version);
      return this.close(`${name} v${version} is not supported`);
    }
    try {
      body = apiByKey(apiKey)!.request.read(r, version);
    } catch (e) {
      if (e instanceof ProtocolError) return this.close(`malformed ${apiByKey(apiKey)!.name} v${version} request: ${e.message}`);
      throw e;
    }
    // Served at once: a handler that answers without waiting (most do) costs no promise.
    let response: Answer | Promise<Answer>;
    try {
      const result = this.router.handle(header, body, this);
      const encoded = (r: unknown): Chunk[] | null => (r === null ? null : encode(header.correlationId, apiKey, version, r));
      response = result instanceof Promise ? result.then(encoded, asFailure) : encoded(result);
    } catch (e) {
      response = new HandlerFailure(e);
    }
    this.enqueue(response);
  }

  /** `response` never rejects (a failure is a HandlerFailure): the writer meets it in order. */
  private enqueue(response: Answer | Promise<Answer>): void {
    this.pending.push(response);
    if (!this.writing) void this.writeResponses();
  }

  private async writeResponses(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const head = this.pending[0];
        const chunks = head instanceof Promise ? await head : head;
        this.pending.shift();
        if (chunks instanceof HandlerFailure) {
          log.error({ err: chunks.error, connection: this.id }, 'request handler failed');
          return this.close('internal error while handling a request');
        }
        const sending = chunks === null ? null : this.writeChunks(chunks, 0);
        if (sending !== null) await sending;
        this.applyBackpressure();
      }
    } catch (e) {
      this.close(`write failed: ${(e as Error).message}`);
    } finally {
      this.writing = false;
    }
  }

  /** Writes chunks[from...]; a promise only when a file region has to be sent and waited for. */
  private writeChunks(chunks: Chunk[], from: number): Promise<void> | null {
    for (let i = from; i < chunks.length; i++) {
      if (this.closed) return null;
      const c = chunks[i];
      if (Buffer.isBuffer(c)) this.writeCorked(c);
      else {
        // sendfile writes below the stream: what the stream holds must go first.
        this.uncork();
        return this.sender.send(this.socket, c as FileRegion).then(() => this.writeChunks(chunks, i + 1) ?? undefined);
      }
    }
    return null;
  }

  /**
   * Responses finished in the same turn of the event loop leave in one writev. A client with
   * many requests in flight gets its answers in one write, not one each (a write, and the
   * client's wake-up, cost more than the answer itself); one answer alone leaves at the end of
   * the turn, as it would have.
   */
  private writeCorked(chunk: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => this.uncork());
    }
    this.socket.write(chunk);
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private applyBackpressure(): void {
    if (this.closed) return;
    const full = this.unmute !== null || this.pending.length >= this.limits.maxInFlight || this.socket.writableLength > WRITE_HIGH_WATER;
    if (full && !this.paused) {
      this.paused = true;
      this.socket.pause();
      if (this.socket.writableLength > WRITE_HIGH_WATER) this.socket.once('drain', () => this.applyBackpressure());
    } else if (!full && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /**
   * Stops reading, lets the requests already read finish and their responses go out, then
   * ends the connection (a broker shutting down cleanly).
   */
  async finish(): Promise<void> {
    this.socket.pause();
    this.paused = true;
    while (!this.closed && (this.pending.length > 0 || this.writing)) {
      await Promise.allSettled(this.pending);
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.closed) return;
    this.socket.end();
    // Read on, serving nothing, to see the client hang up: a socket reading into our buffers
    // stops reading the kernel's when paused, so it would not notice the client's end.
    this.closing = true;
    this.socket.resume();
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.logClosing(reason);
    // Answers written in this turn are still corked: they go to the kernel, which sends them before the close.
    this.uncork();
    this.socket.destroy();
  }

  throttle(ms: number): void {
    const until = Date.now() + ms;
    if (this.closed || ms <= 0 || until <= this.mutedUntil) return;
    this.mutedUntil = until;
    if (this.unmute) clearTimeout(this.unmute);
    this.unmute = setTimeout(() => {
      this.unmute = null;
      this.applyBackpressure();
    }, ms).unref();
    this.applyBackpressure();
  }

  closeAfterResponses(reason: string): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    this.logClosing(reason);
    // After the request being served is queued: its handler may call this before returning.
    queueMicrotask(() => {
      // Not left half-open until the client hangs up: refused clients must not pile up.
      void this.finish().then(() => {
        if (this.socket.writableFinished) this.socket.destroy();
        else this.socket.once('finish', () => this.socket.destroy());
      });
    });
  }

  private logClosing(reason: string): void {
    log.info({ connection: this.id, client: `${this.remoteAddress}:${this.remotePort}`, listener: this.listenerName, reason }, 'closing connection');
  }
}

function sizePrefixed(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

/** A response frame as chunks, its size prefix in the first one: one write for small responses. */
function encode(correlationId: number, apiKey: number, version: number, body: unknown): Chunk[] {
  const w = new Writer(1024);
  w.reserveInt32();
  writeResponse(w, correlationId, apiKey, version, body);
  const chunks = w.finishChunks();
  (chunks[0] as Buffer).writeInt32BE(chunksLength(chunks) - 4, 0);
  return chunks;
}
