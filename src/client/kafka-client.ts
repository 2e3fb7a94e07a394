import { ZERO_UUID } from '../protocol/primitives/uuid.js';
import { errorByCode, ErrorCode } from '../protocol/generated/errors.js';
import type { ApiName } from '../protocol/generated/api-table.js';
import type { MetadataResponse } from '../protocol/generated/messages/metadata-response.js';
import { BrokerConnection, ConnectionError, type RequestOf, type ResponseOf } from './connection.js';
import type { ClientSecurity } from './sasl.js';

/** A Kafka error code in a response, with Kafka's name and whether retrying may help. */
export class KafkaError extends Error {
  readonly errorName: string;
  readonly retriable: boolean;

  constructor(
    readonly code: number,
    context: string,
    detail?: string | null,
  ) {
    const info = errorByCode(code);
    super(`${context}: ${info?.name ?? `error ${code}`}${detail ? ` (${detail})` : info?.message ? ` (${info.message})` : ''}`);
    this.name = 'KafkaError';
    this.errorName = info?.name ?? `ERROR_${code}`;
    this.retriable = info?.retriable ?? false;
  }
}

/** Throws a KafkaError unless `code` is NONE. */
export function check(code: number, context: string, detail?: string | null): void {
  if (code !== ErrorCode.NONE) throw new KafkaError(code, context, detail);
}

export interface ClientOptions {
  /** host:port entries to bootstrap from. */
  brokers: string[];
  clientId?: string;
  /** Connection attempts and retriable errors are retried this many times. */
  retries?: number;
  retryBackoffMs?: number;
  /** TLS and SASL (--command-config); plaintext without. */
  security?: ClientSecurity;
}

function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address.trim());
  if (!m) throw new ConnectionError(`"${address}" is not host:port`, 'EINVAL');
  return { host: m[1], port: Number(m[2]) };
}

/**
 * Sluice's own small Kafka client, for the CLI, the benchmarks and replication: connections by
 * node id from metadata, the coordinator of a group, and retries of connection failures and
 * retriable error codes with a fresh view of the cluster.
 */
export class KafkaClient {
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private nodes = new Map<number, { host: string; port: number }>();
  private readonly clientId: string;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(private readonly options: ClientOptions) {
    this.clientId = options.clientId ?? 'sluice-cli';
    this.retries = options.retries ?? 3;
    this.backoffMs = options.retryBackoffMs ?? 200;
  }

  private connectTo(host: string, port: number): Promise<BrokerConnection> {
    const key = `${host}:${port}`;
    let conn = this.connections.get(key);
    if (!conn) {
      conn = BrokerConnection.open(host, port, this.clientId, undefined, this.options.security);
      // A failed or closed connection is forgotten, so the next request reconnects.
      conn.catch(() => this.connections.delete(key));
      this.connections.set(key, conn);
    }
    return conn.then((c) => {
      if (c.isOpen) return c;
      this.connections.delete(key);
      return this.connectTo(host, port);
    });
  }

  /** A connection to any reachable bootstrap broker. */
  async any(): Promise<BrokerConnection> {
    let last: Error | null = null;
    for (const address of this.options.brokers) {
      try {
        const { host, port } = splitHostPort(address);
        return await this.connectTo(host, port);
      } catch (e) {
        last = e as Error;
      }
    }
    throw last ?? new ConnectionError('no brokers given', 'EINVAL');
  }

  /** A connection to a broker by node id, as metadata names it. */
  async node(nodeId: number): Promise<BrokerConnection> {
    if (!this.nodes.has(nodeId)) await this.metadata([]);
    const n = this.nodes.get(nodeId);
    if (!n) throw new ConnectionError(`no broker with node id ${nodeId} in the cluster metadata`, 'ENOENT');
    return this.connectTo(n.host, n.port);
  }

  /** Cluster metadata for these topics (null: all), remembering where every broker is. */
  async metadata(topics: string[] | null, allowAutoTopicCreation = false): Promise<MetadataResponse> {
    const conn = await this.any();
    const req = { topics: topics?.map((name) => ({ topicId: ZERO_UUID, name })) ?? null, allowAutoTopicCreation, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
    const res = await conn.send('Metadata', req);
    this.nodes = new Map(res.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]));
    return res;
  }

  /** The controller (admin requests go there). */
  async controller(): Promise<BrokerConnection> {
    const md = await this.metadata([]);
    return md.controllerId >= 0 ? this.node(md.controllerId) : this.any();
  }

  /** The leader of a partition. */
  async leader(topic: string, partition: number): Promise<BrokerConnection> {
    const md = await this.metadata([topic]);
    const t = md.topics[0];
    check(t.errorCode, `topic ${topic}`);
    const p = t.partitions.find((x) => x.partitionIndex === partition);
    if (!p) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition}`);
    return this.node(p.leaderId);
  }

  /** Sends one request on a connection chosen by `route`, retrying connection failures and retriable errors. */
  async call<N extends ApiName>(route: () => Promise<BrokerConnection>, name: N, body: RequestOf<N>, version?: number): Promise<ResponseOf<N>> {
    return this.retrying(async () => {
      const conn = await route();
      return conn.send(name, body, version);
    });
  }

  /** Runs `attempt` again on connection errors and retriable Kafka errors, with backoff. */
  async retrying<T>(attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (e) {
        const retriable = (e instanceof ConnectionError && e.code !== 'EUNSUPPORTED' && e.code !== 'EINVAL' && e.code !== 'EAUTH') || (e instanceof KafkaError && e.retriable);
        if (!retriable || i >= this.retries) throw e;
        await new Promise((resolve) => setTimeout(resolve, this.backoffMs * 2 ** i));
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    for (const c of await Promise.allSettled(all)) if (c.status === 'fulfilled') c.value.close();
  }
}
