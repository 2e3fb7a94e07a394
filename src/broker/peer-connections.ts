import { BrokerConnection } from '../client/connection.js';
import type { BrokerContext } from './broker-context.js';
import { endpointOf } from './cluster-view.js';

/** How long opening a connection to another broker may take. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * How long a request to another broker may go unanswered (Kafka's request.timeout.ms for the
 * same channel): longer than a marker write may wait for its replicas, shorter than a client
 * waits for the produce a verification holds up.
 */
export const PEER_REQUEST_TIMEOUT_MS = 10_000;

/**
 * One connection per other broker for what a broker asks its peers (transaction markers to
 * partition leaders, produce verification at a transaction coordinator): opened on first use,
 * opened again after it closes, closed with the broker.
 */
export class PeerConnections {
  private readonly connections = new Map<number, Promise<BrokerConnection>>();
  private closed = false;

  constructor(
    private readonly ctx: BrokerContext,
    private readonly clientId: string,
  ) {}

  connect(nodeId: number): Promise<BrokerConnection> {
    if (this.closed) return Promise.reject(new Error('the broker is stopping'));
    let c = this.connections.get(nodeId);
    if (!c) {
      const e = endpointOf(this.ctx, nodeId, this.ctx.config.interBrokerListenerName?.toUpperCase());
      c = e ? BrokerConnection.open(e.host, e.port, this.clientId, CONNECT_TIMEOUT_MS) : Promise.reject(new Error(`broker ${nodeId} is not registered`));
      const opening = c;
      opening.catch(() => {
        if (this.connections.get(nodeId) === opening) this.connections.delete(nodeId);
      });
      this.connections.set(nodeId, opening);
    }
    return c.then((conn) => {
      if (conn.isOpen) return conn;
      if (this.connections.get(nodeId) === c) this.connections.delete(nodeId);
      return this.connect(nodeId);
    });
  }

  /**
   * Runs `use` on the connection to broker `nodeId`, failing once the broker has not answered for
   * PEER_REQUEST_TIMEOUT_MS: a broker paused or cut off keeps its connection open without ever
   * answering, and would otherwise hold up every later request to it (and the transaction
   * markers of partitions that have moved to other leaders meanwhile). The connection is then
   * dropped, so the next request opens a new one.
   */
  async request<T>(nodeId: number, use: (conn: BrokerConnection) => Promise<T>): Promise<T> {
    const opening = this.connect(nodeId);
    const cached = this.connections.get(nodeId);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (cached && this.connections.get(nodeId) === cached) this.connections.delete(nodeId);
        opening.then((conn) => conn.close(), () => {});
        reject(new Error(`broker ${nodeId} did not answer within ${PEER_REQUEST_TIMEOUT_MS} ms`));
      }, PEER_REQUEST_TIMEOUT_MS);
    });
    try {
      return await Promise.race([opening.then(use), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) c.then((conn) => conn.close(), () => {});
    this.connections.clear();
  }
}
