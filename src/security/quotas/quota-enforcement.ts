import { setTimeout as sleep } from 'node:timers/promises';
import { fetcherOf } from '../../broker/handlers/fetch.js';
import { apis } from '../../protocol/generated/api-table.js';
import type { FetchRequest } from '../../protocol/generated/messages/fetch-request.js';
import type { FetchResponse } from '../../protocol/generated/messages/fetch-response.js';
import type { ProduceRequest } from '../../protocol/generated/messages/produce-request.js';
import type { ConnectionInfo } from '../../network/connection.js';
import type { RequestHeader } from '../../protocol/generated/messages/request-header.js';
import type { ClientQuotas, ClientQuotaType } from './client-quotas.js';
import { userOf } from './quota-entity.js';
import type { QuotaStats } from './quota-stats.js';

/**
 * Requests whose handler waits by design (a fetch's max.wait.ms, a rebalance) rather than
 * works: their wall time is not time spent handling them, so the request quota leaves them out.
 */
const WAITING_APIS = new Set<number>([apis.Fetch.apiKey, apis.JoinGroup.apiKey, apis.SyncGroup.apiKey, apis.ShareFetch.apiKey]);

/** The first versions whose clients throttle themselves on throttle_time_ms (KIP-219); older ones are answered late instead. */
const CLIENT_SIDE_THROTTLE_FROM = new Map<number, number>([
  [apis.Produce.apiKey, 6],
  [apis.Fetch.apiKey, 8],
]);

function produceBytes(req: ProduceRequest): number {
  let bytes = 0;
  for (const t of req.topicData) for (const p of t.partitionData) bytes += p.records?.byteLength ?? 0;
  return bytes;
}

function fetchBytes(res: FetchResponse | null): number {
  let bytes = 0;
  for (const t of res?.responses ?? []) for (const p of t.partitions) bytes += p.records?.byteLength ?? 0;
  return bytes;
}

/**
 * Kafka's client quota enforcement (KIP-219): a request is measured against its client's
 * quotas once handled, the answer goes out at once with throttle_time_ms set, and the
 * connection is not read from again until that time has passed. Replicas' fetches are exempt.
 */
export class QuotaEnforcement {
  constructor(
    private readonly quotas: ClientQuotas,
    private readonly stats: QuotaStats,
    /** Whether any client quota is set: without one, requests are not measured at all. */
    private readonly active: () => boolean,
  ) {}

  /**
   * Starts measuring a request, before its handler runs; the function returned settles it once
   * answered: records what it used, sets throttle_time_ms and mutes the connection when over.
   * null when no quota is set: there is nothing to settle.
   */
  begin(header: RequestHeader, request: unknown, connection: ConnectionInfo): ((response: unknown) => Promise<void>) | null {
    if (!this.active()) return null;
    const { requestApiKey: apiKey, requestApiVersion: version } = header;
    const started = performance.now();
    const produced = apiKey === apis.Produce.apiKey ? produceBytes(request as ProduceRequest) : 0;
    return async (response) => {
      const used: [ClientQuotaType, number][] = [];
      if (apiKey === apis.Produce.apiKey) used.push(['produce', produced]);
      else if (apiKey === apis.Fetch.apiKey) {
        if (fetcherOf(request as FetchRequest, version) >= 0) return;
        used.push(['fetch', fetchBytes(response as FetchResponse | null)]);
      }
      // Percent of one second: Kafka's unit of request_percentage.
      if (!WAITING_APIS.has(apiKey)) used.push(['request', (performance.now() - started) / 10]);
      const throttleMs = this.record(used, userOf(connection.principal), header.clientId ?? '');
      if (throttleMs <= 0) return;
      const body = response as { throttleTimeMs?: unknown } | null;
      if (body !== null && typeof body.throttleTimeMs === 'number') body.throttleTimeMs = throttleMs;
      connection.throttle(throttleMs);
      if (version < (CLIENT_SIDE_THROTTLE_FROM.get(apiKey) ?? 0)) await sleep(throttleMs);
    };
  }

  /** The longest throttle time of the quotas the usage breaks; 0 when within all. */
  private record(used: readonly [ClientQuotaType, number][], user: string, clientId: string): number {
    let throttleMs = 0;
    for (const [type, value] of used) {
      const ms = this.quotas.record(type, user, clientId, value);
      if (ms <= 0) continue;
      this.stats.recordThrottle(type, ms);
      throttleMs = Math.max(throttleMs, ms);
    }
    return throttleMs;
  }
}
