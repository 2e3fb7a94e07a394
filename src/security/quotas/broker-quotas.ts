import type { BrokerConfig } from '../../config/broker-config.js';
import type { MetadataImage } from '../../metadata/image.js';
import { ClientQuotas } from './client-quotas.js';
import { ConnectionLimiter, type ConnectionLimits } from './connection-limiter.js';
import { parsePerIpOverrides } from './per-ip-overrides.js';
import { QuotaEnforcement } from './quota-enforcement.js';
import type { QuotaValues } from './quota-entity.js';
import { QuotaStats } from './quota-stats.js';
import type { QuotaWindows } from './sampled-rate.js';

/** A broker's quotas: client quotas for the router, connection limits for the socket server, and what they did for /metrics. */
export interface BrokerQuotas {
  stats: QuotaStats;
  limiter: ConnectionLimiter;
  enforcement: QuotaEnforcement;
}

/**
 * Quotas that follow the broker's configuration (dynamic configs included) and the client
 * quotas in the cluster metadata, both read as they are used: a change applies to the next
 * request or connection. `image` is null until the metadata is open.
 */
export function brokerQuotas(config: () => BrokerConfig, image: () => MetadataImage | null): BrokerQuotas {
  const stats = new QuotaStats();
  const quotasOf = (key: string): QuotaValues | undefined => image()?.clientQuotas.get(key);
  const windows = (): QuotaWindows => ({ samples: config().quotaWindowNum, windowMs: config().quotaWindowSizeSeconds * 1000 });
  let overrides: { raw: string; parsed: ReadonlyMap<string, number> } = { raw: '', parsed: new Map() };
  const limits = (): ConnectionLimits => {
    const c = config();
    if (c.maxConnectionsPerIpOverrides !== overrides.raw) {
      const parsed = parsePerIpOverrides(c.maxConnectionsPerIpOverrides);
      // The config was validated when set: a string here cannot happen, and means no overrides.
      overrides = { raw: c.maxConnectionsPerIpOverrides, parsed: typeof parsed === 'string' ? new Map() : parsed };
    }
    return { maxPerIp: c.maxConnectionsPerIp, perIpOverrides: overrides.parsed, maxCreationRate: c.maxConnectionCreationRate, windows: windows() };
  };
  return {
    stats,
    limiter: new ConnectionLimiter(limits, quotasOf, stats),
    enforcement: new QuotaEnforcement(new ClientQuotas(quotasOf, windows), stats, () => (image()?.clientQuotas.size ?? 0) > 0),
  };
}
