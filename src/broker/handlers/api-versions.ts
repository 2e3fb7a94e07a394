import { apis } from '../../protocol/generated/api-table.js';
import { createApiVersionsResponse } from '../../protocol/generated/messages/api-versions-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';

/**
 * Produce is advertised from v0 although v0-v2 are refused, as Kafka 4 does (KAFKA-18659):
 * librdkafka (librdkafka#4956, in kcat and confluent-kafka of Debian 12 among others) compresses
 * with gzip, snappy or lz4 only when the broker lists Produce v0, and silently sends those
 * batches uncompressed otherwise. Clients use the highest version both sides know, so none
 * that can send v3 ever sends v0-v2.
 */
const PRODUCE_ADVERTISED_MIN = 0;

/** ApiVersions: the versions the router has handlers for (Produce aside, see above). */
export function apiVersionsHandler(ctx: BrokerContext) {
  return handler(apis.ApiVersions, 0, 4, () => {
    const res = createApiVersionsResponse();
    res.apiKeys = ctx.router
      .supportedApis()
      .map((a) => (a.apiKey === apis.Produce.apiKey ? { ...a, minVersion: PRODUCE_ADVERTISED_MIN } : a));
    return res;
  });
}
