/**
 * What the brokers' own /metrics count over a phase, added up over the brokers: garbage
 * collections (prom-client's default `nodejs_gc_duration_seconds`, from perf_hooks) and requests
 * by API (`kafka_network_requestmetrics_requests_total`), which tell GC pauses and per-request
 * costs from per-byte ones.
 */

export interface GcCount {
  count: number;
  seconds: number;
}

export interface MetricsDelta {
  /** By kind: "minor" (scavenge), "major" (mark-compact), "incremental" (marking steps), "weakcb". */
  gc: Record<string, GcCount>;
  /** Requests handled, by API name ("Produce", "Fetch", ...). */
  requests: Record<string, number>;
}

const GC_LINE = /^nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$/gm;
const REQUEST_LINE = /^kafka_network_requestmetrics_requests_total\{request="(\w+)"\} (\S+)$/gm;

/** One broker's totals since it started; null when its endpoint does not answer. */
async function scrape(url: string): Promise<MetricsDelta | null> {
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    text = await res.text();
  } catch {
    return null;
  }
  const totals: MetricsDelta = { gc: {}, requests: {} };
  for (const [, field, kind, value] of text.matchAll(GC_LINE)) {
    const k = (totals.gc[kind] ??= { count: 0, seconds: 0 });
    if (field === 'sum') k.seconds = Number(value);
    else k.count = Number(value);
  }
  for (const [, api, value] of text.matchAll(REQUEST_LINE)) totals.requests[api] = Number(value);
  return totals;
}

/**
 * Starts counting on every broker; the returned function gives what they did since (null when
 * one of them could not be asked).
 */
export async function meterBrokerMetrics(urls: readonly string[]): Promise<() => Promise<MetricsDelta | null>> {
  const before = await Promise.all(urls.map(scrape));
  return async () => {
    const after = await Promise.all(urls.map(scrape));
    const sum: MetricsDelta = { gc: {}, requests: {} };
    for (let i = 0; i < urls.length; i++) {
      const a = after[i];
      const b = before[i];
      if (!a || !b) return null;
      for (const [kind, k] of Object.entries(a.gc)) {
        const s = (sum.gc[kind] ??= { count: 0, seconds: 0 });
        s.count += k.count - (b.gc[kind]?.count ?? 0);
        s.seconds += k.seconds - (b.gc[kind]?.seconds ?? 0);
      }
      for (const [api, n] of Object.entries(a.requests)) sum.requests[api] = (sum.requests[api] ?? 0) + n - (b.requests[api] ?? 0);
    }
    return sum;
  };
}
