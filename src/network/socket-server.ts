import { createServer, type Server, type Socket } from 'node:net';
import { log } from '../log.js';
import type { FileSender } from '../native/file-transfer.js';
import type { TlsListener } from '../security/tls/tls-listener.js';
import { Connection, type ConnectionLimits, type RequestRouter } from './connection.js';

export interface BoundListener {
  name: string;
  host: string;
  port: number;
}

export interface ListenerSpec extends BoundListener {
  /** Present on SSL and SASL_SSL listeners: connections start with a TLS handshake. */
  tls?: TlsListener;
}

/** A socket as it arrives on a listener, before any TLS handshake. */
interface Arrival {
  socket: Socket;
  listenerName: string;
  /** On a TLS listener: starts the handshake, after which the listener hands the socket to secured(). */
  handshake: ((socket: Socket) => void) | null;
}

/** What a gate decides for a new connection: serve it (read from it only after `delayMs`), or close it after `closeAfterMs`. */
export type GateVerdict = { accept: true; delayMs: number } | { accept: false; closeAfterMs: number };

/** Connection limits beyond max.connections (per address, creation rates), decided as each connection arrives. */
export interface ConnectionGate {
  admit(address: string, listenerName: string): GateVerdict;
  /** A connection it let in closed. */
  closed(address: string): void;
  /** A connection refused before the gate (max.connections, descriptors): counted and logged with the gate's refusals. */
  refused(address: string, reason: string, message: string): void;
}

/** The process's descriptors as sockets see them: each one held counts, and past `maxSockets` new ones are refused. */
export interface SocketDescriptors {
  readonly sockets: number;
  readonly maxSockets: number;
  socketOpened(): void;
  socketClosed(): void;
}

/**
 * The broker's listeners: accepts connections up to max.connections and gives each a
 * Connection. Half-open sockets are allowed so a client's FIN never cuts a response short.
 */
export class SocketServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Map<number, { socket: Socket; connection: Connection }>();
  private nextId = 1;
  /** Connections that arrived before serve(): held, unread (on TLS listeners, not yet in a handshake), until the broker can answer them. */
  private held: Arrival[] | null = [];
  private readonly tlsListeners: TlsListener[] = [];
  /** Refused connections waiting for their delayed close, and TLS ones waiting out a throttle before their handshake. */
  private readonly waiting = new Set<Socket>();

  constructor(
    private readonly router: RequestRouter,
    private readonly sender: FileSender,
    private readonly limits: ConnectionLimits,
    private readonly maxConnections: number,
    private readonly gate: ConnectionGate | null = null,
    private readonly descriptors: SocketDescriptors | null = null,
  ) {}

  async listen(listeners: ListenerSpec[]): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    for (const l of listeners) {
      const server = l.tls
        ? l.tls.createServer((socket, principal) => this.secured(socket, l.name, principal))
        : createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true });
      if (l.tls) this.tlsListeners.push(l.tls);
      // Sockets are counted and admitted as they arrive, before a TLS listener's own handling
      // starts the handshake: a connection refused for want of room costs no handshake.
      const handshake = l.tls ? takeConnectionHandling(server) : null;
      server.on('connection', (socket: Socket) => this.arrived({ socket, listenerName: l.name, handshake }));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(l.port, l.host || '0.0.0.0', () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => log.error({ err, listener: l.name }, 'listener error'));
      this.servers.push(server);
      const address = server.address() as { address: string; port: number };
      bound.push({ name: l.name, host: address.address, port: address.port });
    }
    return bound;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Starts answering requests. A broker binds its listeners first, so that it can register
   * their real ports in the cluster metadata, and serves once it has loaded what it serves.
   */
  serve(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const arrival of held) if (!arrival.socket.destroyed) this.admit(arrival);
  }

  private arrived(arrival: Arrival): void {
    const { socket } = arrival;
    if (this.descriptors) {
      this.descriptors.socketOpened();
      socket.once('close', this.released);
    }
    // Nothing else listens on a TLS listener's raw socket until its handshake starts.
    if (arrival.handshake) socket.on('error', () => socket.destroy());
    if (this.held) {
      socket.pause();
      this.held.push(arrival);
      return;
    }
    this.admit(arrival);
  }

  private admit({ socket, listenerName, handshake }: Arrival): void {
    const address = socket.remoteAddress ?? '?';
    if (this.descriptors && this.descriptors.sockets > this.descriptors.maxSockets) {
      this.refuseNow(socket, 'descriptors', `the descriptor limit leaves room for ${this.descriptors.maxSockets} sockets beside the log files`);
      return;
    }
    if (this.refusedForMaxConnections(socket)) return;
    const verdict = this.gate?.admit(address, listenerName) ?? { accept: true, delayMs: 0 };
    if (!verdict.accept) {
      // Closed late, so that a client reconnecting in a loop is slowed down (KIP-612).
      socket.pause();
      this.wait(socket, verdict.closeAfterMs, () => socket.destroy());
      socket.on('error', () => socket.destroy());
      return;
    }
    if (handshake === null) {
      this.open(socket, listenerName, null, verdict.delayMs).socket.once('close', () => this.gate?.closed(address));
      return;
    }
    // A TLS socket closes its raw one with it, handshake failed or connection served.
    socket.once('close', () => this.gate?.closed(address));
    if (verdict.delayMs === 0) handshake(socket);
    else {
      // A throttled TLS connection waits before its handshake, as Kafka's acceptor throttles.
      socket.pause();
      this.wait(socket, verdict.delayMs, () => handshake(socket));
    }
  }

  /** A TLS connection through its handshake. Handshakes in flight can outnumber the room left: max.connections holds here too. */
  private secured(socket: Socket, listenerName: string, principal: string | null): void {
    if (!this.refusedForMaxConnections(socket)) this.open(socket, listenerName, principal, 0);
  }

  private refusedForMaxConnections(socket: Socket): boolean {
    if (this.connections.size < this.maxConnections) return false;
    this.refuseNow(socket, 'max_connections', `max.connections (${this.maxConnections}) reached`);
    return true;
  }

  /** Runs `then` after `ms` unless the socket closes first (or the server does: close() ends the waiting sockets). */
  private wait(socket: Socket, ms: number, then: () => void): void {
    this.waiting.add(socket);
    const timer = setTimeout(() => {
      this.waiting.delete(socket);
      then();
    }, ms).unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.waiting.delete(socket);
    });
  }

  private open(socket: Socket, listenerName: string, principal: string | null, delayMs: number): Connection {
    const id = this.nextId++;
    const connection = new Connection(id, listenerName, socket, this.router, this.sender, this.limits);
    if (this.descriptors && connection.socket !== socket) {
      // The connection took the descriptor into a socket of its own; the accepted one closes without it.
      socket.off('close', this.released);
      connection.socket.once('close', this.released);
    }
    if (principal !== null) connection.principal = principal;
    this.connections.set(id, { socket: connection.socket, connection });
    if (delayMs > 0) connection.throttle(delayMs);
    connection.socket.once('close', () => this.connections.delete(id));
    return connection;
  }

  private readonly released = (): void => this.descriptors?.socketClosed();

  private refuseNow(socket: Socket, reason: string, message: string): void {
    const address = socket.remoteAddress ?? '?';
    if (this.gate) this.gate.refused(address, reason, message);
    else log.warn({ client: address, reason }, `connection refused: ${message}`);
    socket.destroy();
  }

  /** Stops accepting, gives connections `graceMs` to finish their requests, then closes them. */
  async close(graceMs: number): Promise<void> {
    // server.close() calls back only once every connection is gone, so start it, deal with
    // the connections, and wait for it last.
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const tls of this.tlsListeners) tls.close();
    for (const { socket } of this.held ?? []) socket.destroy();
    for (const socket of this.waiting) socket.destroy();
    const open = [...this.connections.values()];
    const grace = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled(open.map((c) => c.connection.finish())), grace]);
    // Clients usually close once we end; whoever has not by now is cut off.
    await Promise.race([Promise.allSettled(open.map((c) => (c.socket.destroyed ? null : new Promise((resolve) => c.socket.once('close', resolve))))), grace]);
    for (const { socket } of this.connections.values()) socket.destroy();
    await closed;
  }
}

/**
 * Takes a TLS server's own handling of new sockets (the handshake) off its 'connection' event
 * and returns it, for the broker to run once it has admitted a socket.
 */
function takeConnectionHandling(server: Server): (socket: Socket) => void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  return (socket) => {
    for (const handle of handlers) handle.call(server, socket);
  };
}
