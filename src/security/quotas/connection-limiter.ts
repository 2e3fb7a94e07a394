import { log } from '../../log.js';
import type { ConnectionGate, GateVerdict } from '../../network/socket-server.js';
import { plainAddress } from './per-ip-overrides.js';
import { entityKey, IP, type QuotaValues } from './quota-entity.js';
import type { QuotaStats } from './quota-stats.js';
import { SampledRate, type QuotaWindows } from './sampled-rate.js';

export interface ConnectionLimits {
  /** max.connections.per.ip. */
  maxPerIp: number;
  /** max.connections.per.ip.overrides, by address. */
  perIpOverrides: ReadonlyMap<string, number>;
  /** max.connection.creation.rate: new connections a second on each listener. */
  maxCreationRate: number;
  windows: QuotaWindows;
}

/** How long after a refusal further refusals of the same address and reason go unlogged. */
const LOG_INTERVAL_MS = 60_000;
/** Bounds the addresses remembered for logging against a flood of distinct ones. */
const MAX_LOGGED_ADDRESSES = 10_000;

/**
 * Kafka's connection limits (KIP-402, KIP-612), checked as each connection is accepted:
 * max.connections.per.ip (with overrides) closes the connection at once; a client address over
 * its connection_creation_rate quota (ip entities) has its connection closed after the time
 * that brings it back under; a listener over max.connection.creation.rate accepts late.
 * Refusals are logged once per address and reason a minute, with how many went unlogged.
 */
export class ConnectionLimiter implements ConnectionGate {
  private readonly open = new Map<string, number>();
  private readonly ipRates = new Map<string, SampledRate>();
  private readonly listenerRates = new Map<string, SampledRate>();
  private readonly logged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly limits: () => ConnectionLimits,
    private readonly quotasOf: (key: string) => QuotaValues | undefined,
    private readonly stats: QuotaStats,
  ) {}

  admit(address: string, listenerName: string): GateVerdict {
    const ip = plainAddress(address);
    const limits = this.limits();
    const now = Date.now();
    const max = limits.perIpOverrides.get(ip) ?? limits.maxPerIp;
    const open = this.open.get(ip) ?? 0;
    if (open >= max) {
      this.refuse(ip, 'max_connections_per_ip', now, `address already has the configured maximum of ${max} connections (max.connections.per.ip)`);
      return { accept: false, closeAfterMs: 0 };
    }
    const ipThrottleMs = this.ipThrottle(ip, limits.windows, now);
    if (ipThrottleMs > 0) {
      this.stats.recordThrottle('connection_creation', ipThrottleMs);
      this.refuse(ip, 'connection_creation_rate', now, `address is over its connection_creation_rate quota: closing it in ${ipThrottleMs} ms`);
      return { accept: false, closeAfterMs: ipThrottleMs };
    }
    this.open.set(ip, open + 1);
    const delayMs = this.listenerThrottle(listenerName, limits, now);
    if (delayMs > 0) this.stats.recordThrottle('connection_creation', delayMs);
    return { accept: true, delayMs };
  }

  closed(address: string): void {
    const ip = plainAddress(address);
    const n = (this.open.get(ip) ?? 1) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  refused(address: string, reason: string, message: string): void {
    this.refuse(plainAddress(address), reason, Date.now(), message);
  }

  /** The per-address rate quota: a connection that would break it is not counted (Kafka unrecords it). */
  private ipThrottle(ip: string, windows: QuotaWindows, now: number): number {
    const bound = this.quotasOf(entityKey([{ type: IP, name: ip }]))?.connection_creation_rate ?? this.quotasOf(entityKey([{ type: IP, name: null }]))?.connection_creation_rate;
    if (bound === undefined) return 0;
    if (this.ipRates.size > MAX_LOGGED_ADDRESSES) for (const [key, r] of this.ipRates) if (r.idle(now)) this.ipRates.delete(key);
    let rate = this.ipRates.get(ip);
    if (!rate) this.ipRates.set(ip, (rate = new SampledRate(windows)));
    rate.record(1, now);
    const ms = rate.throttleMs(bound, now);
    if (ms > 0) rate.record(-1, now);
    return ms;
  }

  private listenerThrottle(listenerName: string, limits: ConnectionLimits, now: number): number {
    if (limits.maxCreationRate >= 2_147_483_647) return 0;
    let rate = this.listenerRates.get(listenerName);
    if (!rate) this.listenerRates.set(listenerName, (rate = new SampledRate(limits.windows)));
    rate.record(1, now);
    return rate.throttleMs(limits.maxCreationRate, now);
  }

  private refuse(ip: string, reason: string, now: number, message: string): void {
    this.stats.recordRefused(reason);
    const key = `${ip}\u0000${reason}`;
    const last = this.logged.get(key);
    if (last && now - last.at < LOG_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    if (this.logged.size >= MAX_LOGGED_ADDRESSES) {
      for (const [k, v] of this.logged) if (now - v.at >= LOG_INTERVAL_MS) this.logged.delete(k);
    }
    if (this.logged.size < MAX_LOGGED_ADDRESSES) this.logged.set(key, { at: now, suppressed: 0 });
    log.warn({ client: ip, reason, alsoRefusedSinceLastLog: last?.suppressed ?? 0 }, `connection refused from ${ip}: ${message}`);
  }
}
