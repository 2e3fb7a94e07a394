import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';
import { apiRoutes } from './api-routes.js';
import { BrokerWriter } from './broker-writer.js';
import type { ConsoleBroker } from './console-broker.js';
import { brokerTotals, ThroughputSampler } from './throughput.js';

/** Five minutes of one-second samples: what the overview charts show. */
const HISTORY_SECONDS = 300;
const SAMPLE_INTERVAL_MS = 1000;

/**
 * The pages are served from the source tree in every install: they are plain modules that
 * need no build, and package.json ships src/.
 */
export const UI_ROOT = join(PACKAGE_ROOT, 'src', 'console', 'ui');

/** Pages may load only what the console serves: a second line of defence behind escaping. */
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The web console for startHttpServer's `routes`: its pages at /, its REST API at /api. */
export function consoleRoutes(broker: ConsoleBroker, boundHost: string): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const sampler = new ThroughputSampler(brokerTotals(broker), HISTORY_SECONDS);
    const writer = new BrokerWriter(broker);
    // Started once listening, so a console that fails to bind leaves no timer behind.
    app.addHook('onListen', async () => sampler.start(SAMPLE_INTERVAL_MS));
    app.addHook('onClose', async () => {
      sampler.stop();
      await writer.close();
    });
    await app.register(fastifyStatic, {
      root: UI_ROOT,
      prefix: '/',
      // One route per file rather than a catch-all, which would answer every unknown /api path.
      wildcard: false,
      setHeaders: (reply) => reply.headers(PAGE_HEADERS),
    });
    await app.register(apiRoutes({ broker, sampler, writer, boundHost }), { prefix: '/api' });
  };
}
