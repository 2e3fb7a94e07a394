import { createServer, type Server, type Socket } from 'node:net';
import { log } from '../log.js';
import type { FileSender } from '../native/file-transfer.js';
import { Connection, type ConnectionLimits, type RequestRouter } from './connection.js';

export interface BoundListener {
  name: string;
  host: string;
  port: number;
}

/**
 * The broker's listeners: accepts connections up to max.connections and gives each a
 * Connection. Half-open sockets are allowed so a client's FIN never cuts a response short.
 */
export class SocketServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Map<number, { socket: Socket; connection: Connection }>();
  private nextId = 1;
  /** Connections accepted before serve(): held, unread, until the broker can answer them. */
  private held: { socket: Socket; listenerName: string }[] | null = [];

  constructor(
    private readonly router: RequestRouter,
    private readonly sender: FileSender,
    private readonly limits: ConnectionLimits,
    private readonly maxConnections: number,
  ) {}

  async listen(listeners: { name: string; host: string; port: number }[]): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    for (const l of listeners) {
      const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket, l.name));
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
    for (const { socket, listenerName } of held) {
      if (socket.destroyed) continue;
      this.accept(socket, listenerName);
      socket.resume();
    }
  }

  private accept(socket: Socket, listenerName: string): void {
    if (this.held) {
      socket.pause();
      this.held.push({ socket, listenerName });
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      log.warn({ client: socket.remoteAddress, maxConnections: this.maxConnections }, 'connection refused: max.connections reached');
      socket.destroy();
      return;
    }
    const id = this.nextId++;
    const connection = new Connection(id, listenerName, socket, this.router, this.sender, this.limits);
    this.connections.set(id, { socket, connection });
    socket.once('close', () => this.connections.delete(id));
  }

  /** Stops accepting, gives connections `graceMs` to finish their requests, then closes them. */
  async close(graceMs: number): Promise<void> {
    // server.close() calls back only once every connection is gone, so start it, deal with
    // the connections, and wait for it last.
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const { socket } of this.held ?? []) socket.destroy();
    const open = [...this.connections.values()];
    const grace = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled(open.map((c) => c.connection.finish())), grace]);
    // Clients usually close once we end; whoever has not by now is cut off.
    await Promise.race([Promise.allSettled(open.map((c) => (c.socket.destroyed ? null : new Promise((resolve) => c.socket.once('close', resolve))))), grace]);
    for (const { socket } of this.connections.values()) socket.destroy();
    await closed;
  }
}
