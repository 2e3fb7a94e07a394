/** What quota enforcement did since start, for /metrics. */
export class QuotaStats {
  /** By quota type (produce, fetch, request, connection_creation): total throttle time given. */
  readonly throttleMs = new Map<string, number>();
  /** By quota type: requests (or connections) throttled. */
  readonly throttled = new Map<string, number>();
  /** By reason: connections refused (max_connections, max_connections_per_ip, connection_creation_rate, descriptors). */
  readonly refused = new Map<string, number>();

  recordThrottle(quotaType: string, ms: number): void {
    this.throttleMs.set(quotaType, (this.throttleMs.get(quotaType) ?? 0) + ms);
    this.throttled.set(quotaType, (this.throttled.get(quotaType) ?? 0) + 1);
  }

  recordRefused(reason: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }
}
