import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { log } from '../log.js';

export interface ConsoleDeps {
  metrics: BrokerMetrics;
  /** Whether the broker takes requests (logs loaded, listeners bound). */
  ready(): boolean;
  /** What /health says beside the status: the metadata store's reach, whether writes are served. */
  health(): Record<string, unknown>;
  /** Extra routes: the web console's pages and REST API. */
  routes?: (app: FastifyInstance) => void | Promise<void>;
}

/**
 * The broker's HTTP side: /metrics for Prometheus, /health and /ready for orchestrators, and
 * the web console. Bound to loopback by default (sluice.console.listener), so it is safe to leave on.
 */
export async function startHttpServer(host: string, port: number, deps: ConsoleDeps): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return reply.send(Readable.from(deps.metrics.exposition()));
  });
  app.get('/health', async () => ({ status: 'ok', ...deps.health() }));
  app.get('/ready', async (_req, reply) => {
    if (!deps.ready()) return reply.code(503).send({ status: 'starting' });
    return { status: 'ready' };
  });
  if (deps.routes) await deps.routes(app);
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const address = app.server.address() as { port: number };
  log.info({ url: `http://${host}:${address.port}` }, 'console listening');
  return { app, port: address.port };
}
