import { CLIENT_ID, entityKey, USER, type EntityPart, type QuotaKey, type QuotaValues } from './quota-entity.js';
import { SampledRate, type QuotaWindows } from './sampled-rate.js';

/** The client quotas a request is measured against. */
export type ClientQuotaType = 'produce' | 'fetch' | 'request';

const KEY_OF: Record<ClientQuotaType, QuotaKey> = {
  produce: 'producer_byte_rate',
  fetch: 'consumer_byte_rate',
  request: 'request_percentage',
};

type Level = 'name' | 'default' | null;

/**
 * Where a client's quota is looked for, most specific first (KIP-55). The level it is found at
 * also says who shares it: a quota set on /users/alice is one budget for all of alice's
 * clients, one on /users/alice/clients/<default> a budget for each of them.
 */
const PRECEDENCE: readonly { user: Level; client: Level }[] = [
  { user: 'name', client: 'name' },
  { user: 'name', client: 'default' },
  { user: 'name', client: null },
  { user: 'default', client: 'name' },
  { user: 'default', client: 'default' },
  { user: 'default', client: null },
  { user: null, client: 'name' },
  { user: null, client: 'default' },
];

/** How often rates no client has used for a whole window span are dropped. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Client quotas (producer_byte_rate, consumer_byte_rate, request_percentage) per user and
 * client id, measured over sampled windows; a client over its quota is told how long to wait.
 */
export class ClientQuotas {
  private readonly rates = new Map<string, SampledRate>();
  private lastSweep = 0;

  constructor(
    /** The quotas stored for an entity (by `entityKey`), if any. */
    private readonly quotasOf: (key: string) => QuotaValues | undefined,
    private readonly windows: () => QuotaWindows,
  ) {}

  /** The quota that applies to a client, and the rate it is measured on; null when none does. */
  limit(type: ClientQuotaType, user: string, clientId: string): { bound: number; rateKey: string } | null {
    for (const level of PRECEDENCE) {
      const parts: EntityPart[] = [];
      if (level.user) parts.push({ type: USER, name: level.user === 'name' ? user : null });
      if (level.client) parts.push({ type: CLIENT_ID, name: level.client === 'name' ? clientId : null });
      const bound = this.quotasOf(entityKey(parts))?.[KEY_OF[type]];
      if (bound !== undefined) return { bound, rateKey: `${type}\u0000${level.user ? user : ''}\u0000${level.client ? clientId : ''}` };
    }
    return null;
  }

  /**
   * Records what a request used (bytes, or for `request` hundredths of a second handling it)
   * and returns how long its client must now wait, 0 within its quota.
   */
  record(type: ClientQuotaType, user: string, clientId: string, value: number, now = Date.now()): number {
    const limit = this.limit(type, user, clientId);
    if (!limit) return 0;
    this.sweep(now);
    let rate = this.rates.get(limit.rateKey);
    if (!rate) this.rates.set(limit.rateKey, (rate = new SampledRate(this.windows())));
    rate.record(value, now);
    return rate.throttleMs(limit.bound, now);
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, rate] of this.rates) if (rate.idle(now)) this.rates.delete(key);
  }
}
