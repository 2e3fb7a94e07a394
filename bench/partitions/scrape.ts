import type { KafkaClient } from '../../src/client/kafka-client.js';
import { LatencySamples, nowNs } from '../support/resources.js';

export interface ScrapeTiming {
  samples: number;
  /** Lines and bytes of one scrape's answer. */
  lines: number;
  bytes: number;
  p50Ms: number;
  maxMs: number;
  /** The longest round trip of a small request (ApiVersions) sent back to back while the scrapes ran... */
  requestMaxMsDuring: number;
  /** ...and over as long again with no scrape: the baseline of the same run. */
  requestMaxMsQuiet: number;
}

/** Sends ApiVersions back to back until `until` resolves; the longest round trip, in ms. */
async function longestRoundTrip(client: KafkaClient, until: Promise<unknown>): Promise<number> {
  const conn = await client.any();
  let done = false;
  void until.finally(() => (done = true));
  let longest = 0;
  while (!done) {
    const t0 = nowNs();
    await conn.send('ApiVersions', { clientSoftwareName: 'sluice-bench', clientSoftwareVersion: '1' });
    longest = Math.max(longest, (nowNs() - t0) / 1e6);
  }
  return longest;
}

/**
 * `samples` scrapes of the broker's /metrics, one after the other, while a client's small
 * requests go back to back on their own connection: how long a scrape of every partition's
 * series takes, and how long a request waits behind it.
 */
export async function timeScrapes(client: KafkaClient, metricsPort: number, samples: number): Promise<ScrapeTiming> {
  const times = new LatencySamples();
  let body = Buffer.alloc(0);
  const t0 = nowNs();
  const scrapes = (async () => {
    for (let i = 0; i < samples; i++) {
      const s0 = nowNs();
      // Kept as bytes: decoding and splitting megabytes of text here would hold up this
      // process's own requests, and count against the broker.
      body = Buffer.from(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).arrayBuffer());
      times.add(nowNs() - s0);
    }
  })();
  const requestMaxMsDuring = await longestRoundTrip(client, scrapes);
  await scrapes;
  const quietMs = (nowNs() - t0) / 1e6;
  let lines = 0;
  for (let at = body.indexOf(10); at >= 0; at = body.indexOf(10, at + 1)) lines++;
  const bytes = body.length;
  const requestMaxMsQuiet = await longestRoundTrip(client, new Promise((resolve) => setTimeout(resolve, quietMs)));
  return { samples, lines, bytes, p50Ms: times.percentileUs(0.5) / 1e3, maxMs: times.percentileUs(1) / 1e3, requestMaxMsDuring, requestMaxMsQuiet };
}
