import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { FrameReader } from '../network/frame-reader.js';
import { apis, type ApiName } from '../protocol/generated/api-table.js';
import { encodeRequestFrame, responseHeaderVersion } from '../protocol/headers.js';
import { Reader } from '../protocol/primitives/reader.js';
import { ResponseHeaderCodec } from '../protocol/generated/messages/response-header.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { authenticate, usesClientTls, type ClientSecurity } from './sasl.js';

type Api = (typeof apis)[ApiName];
export type RequestOf<N extends ApiName> = Parameters<(typeof apis)[N]['request']['encode']>[0];
export type ResponseOf<N extends ApiName> = ReturnType<(typeof apis)[N]['response']['decode']>;

/** A failure to talk to a broker at all (as opposed to a Kafka error code in a response). */
export class ConnectionError extends Error {
  constructor(
    message: string,
    readonly code = 'ECONNECTION',
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

interface InFlight {
  api: Api;
  version: number;
  resolve: (body: unknown) => void;
  reject: (e: Error) => void;
}

const MAX_RESPONSE_BYTES = 1 << 30;

/**
 * One connection to one broker: sends requests with correlation ids, matches responses to
 * them (in order, as Kafka answers), and after connecting asks ApiVersions so each request is
 * sent in the newest version both sides speak.
 */
export class BrokerConnection {
  private readonly inFlight = new Map<number, InFlight>();
  private nextCorrelationId = 1;
  private readonly versions = new Map<number, { min: number; max: number }>();
  private closedWith: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly reader: FrameReader,
    readonly address: string,
    private readonly clientId: string,
  ) {
    reader.deliverTo({
      frames: (frames) => {
        try {
          for (const f of frames) this.onResponse(f);
        } catch (e) {
          this.fail(e as Error);
        }
      },
      refused: (e) => this.fail(e),
    });
    socket.on('error', (e) => this.fail(new ConnectionError(`${address}: ${e.message}`, (e as NodeJS.ErrnoException).code)));
    socket.on('close', () => this.fail(new ConnectionError(`${address}: connection closed`)));
    // The broker hung up: no answer can come, and a request written before 'close' would fail
    // with EPIPE instead of finding the connection gone and opening a new one.
    socket.on('end', () => this.fail(new ConnectionError(`${address}: connection closed by the broker`)));
  }

  static async open(host: string, port: number, clientId: string, timeoutMs = 10_000, security?: ClientSecurity): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    const tls = usesClientTls(security);
    const reader = new FrameReader(MAX_RESPONSE_BYTES);
    const socket = tls
      ? connectTls({ host, port, ca: security?.ca ?? undefined, servername: isIP(host) ? undefined : host }).setNoDelay(true)
      : connect({ host, port, noDelay: true, onread: reader.onread });
    if (tls) reader.feed(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`${address}: no connection after ${timeoutMs} ms`, 'ETIMEDOUT'));
      }, timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new ConnectionError(`${address}: ${e.message}`, (e as NodeJS.ErrnoException).code));
      });
    });
    const conn = new BrokerConnection(socket, reader, address, clientId);
    try {
      await conn.negotiate();
      if (security?.sasl) await authenticate(conn, security.sasl);
    } catch (e) {
      conn.close();
      throw e;
    }
    return conn;
  }

  private async negotiate(): Promise<void> {
    const res = await this.send('ApiVersions', { ...apis.ApiVersions.request.create(), clientSoftwareName: 'sluice', clientSoftwareVersion: '0' }, 3);
    if (res.errorCode !== ErrorCode.NONE) throw new ConnectionError(`${this.address}: ApiVersions failed with error ${res.errorCode}`);
    for (const k of res.apiKeys) this.versions.set(k.apiKey, { min: k.minVersion, max: k.maxVersion });
  }

  /** The newest version of an API that both this codec and the broker speak, or -1. */
  versionFor(name: ApiName): number {
    const api = apis[name];
    const theirs = this.versions.get(api.apiKey);
    if (!theirs) return -1;
    const v = Math.min(api.maxVersion, theirs.max);
    return v >= Math.max(api.minVersion, theirs.min) ? v : -1;
  }

  /** Sends a request and resolves with its response; `version` defaults to the negotiated one. */
  send<N extends ApiName>(name: N, body: RequestOf<N>, version = this.versionFor(name)): Promise<ResponseOf<N>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const api = apis[name] as Api;
    if (version < 0) return Promise.reject(new ConnectionError(`${this.address} does not support ${name}`, 'EUNSUPPORTED'));
    const correlationId = this.nextCorrelationId++;
    const frame = encodeRequestFrame({ correlationId, clientId: this.clientId }, api.apiKey, version, body);
    return new Promise((resolve, reject) => {
      this.inFlight.set(correlationId, { api, version, resolve: resolve as (b: unknown) => void, reject });
      this.socket.write(frame);
    });
  }

  /** Sends a request that gets no response (Produce with acks=0). */
  sendOneWay<N extends ApiName>(name: N, body: RequestOf<N>, version = this.versionFor(name)): void {
    const api = apis[name] as Api;
    this.socket.write(encodeRequestFrame({ correlationId: this.nextCorrelationId++, clientId: this.clientId }, api.apiKey, version, body));
  }

  private onResponse(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.inFlight.get(correlationId);
    if (!pending) throw new ConnectionError(`${this.address}: response to unknown correlation id ${correlationId}`);
    this.inFlight.delete(correlationId);
    const r = new Reader(frame);
    ResponseHeaderCodec.read(r, responseHeaderVersion(pending.api.apiKey, pending.version));
    try {
      pending.resolve(pending.api.response.read(r, pending.version));
    } catch (e) {
      pending.reject(e as Error);
    }
  }

  private fail(e: Error): void {
    if (this.closedWith) return;
    this.closedWith = e;
    for (const p of this.inFlight.values()) p.reject(e);
    this.inFlight.clear();
    this.socket.destroy();
    this.reader.decoder.release();
  }

  get isOpen(): boolean {
    return this.closedWith === null;
  }

  close(): void {
    this.fail(new ConnectionError(`${this.address}: closed by the client`));
  }
}

