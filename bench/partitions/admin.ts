import { check, KafkaClient } from '../../src/client/kafka-client.js';
import { LATEST, listOffsets } from '../../src/client/offsets.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import type { MetadataResponse } from '../../src/protocol/generated/messages/metadata-response.js';
import { ZERO_UUID } from '../../src/protocol/primitives/uuid.js';
import { LatencySamples, nowNs } from '../support/resources.js';

/**
 * The benchmark's requests besides produce, through Sluice's own client: topic creation,
 * Metadata round trips and end offsets. Each request goes out once, without the client's
 * retries, so a slow or failed answer shows as it is.
 */

export interface CreateTiming {
  topic: string;
  partitions: number;
  seconds: number;
}

export interface TopicLayout {
  /** -1 (the default): the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

/** One CreateTopics request per topic, one after the other; the broker's own timeout is lifted. */
export async function createTopics(
  client: KafkaClient,
  topics: readonly string[],
  partitions: number,
  progress: (line: string) => void,
  layout: TopicLayout = {},
): Promise<CreateTiming[]> {
  const conn = await client.any();
  const timings: CreateTiming[] = [];
  const configs = Object.entries(layout.configs ?? {}).map(([name, value]) => ({ name, value }));
  for (const topic of topics) {
    const t0 = nowNs();
    const res = await conn.send('CreateTopics', {
      topics: [{ name: topic, numPartitions: partitions, replicationFactor: layout.replicationFactor ?? -1, assignments: [], configs }],
      timeoutMs: 600_000,
      validateOnly: false,
    });
    const seconds = (nowNs() - t0) / 1e9;
    check(res.topics[0].errorCode, `create topic ${topic}`, res.topics[0].errorMessage);
    progress(`  ${topic}: ${partitions.toLocaleString('en-US')} partitions in ${seconds.toFixed(2)} s`);
    timings.push({ topic, partitions, seconds });
  }
  return timings;
}

export interface MetadataTiming {
  samples: number;
  partitions: number;
  responseBytes: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
  /** The client's own share of each round trip: decoding the response once, timed alone. */
  clientDecodeMs: number;
}

/** Metadata for `topics`, `samples` times, one at a time on one connection. */
export async function timeMetadata(client: KafkaClient, topics: readonly string[], samples: number): Promise<MetadataTiming> {
  const conn = await client.any();
  const request = { topics: topics.map((name) => ({ topicId: ZERO_UUID, name })), allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
  const latency = new LatencySamples();
  let last: MetadataResponse | null = null;
  for (let i = 0; i < samples; i++) {
    const t0 = nowNs();
    last = await conn.send('Metadata', request);
    latency.add(nowNs() - t0);
  }
  let partitions = 0;
  for (const t of last!.topics) {
    check(t.errorCode, `metadata of ${t.name}`);
    partitions += t.partitions.length;
  }
  const version = conn.versionFor('Metadata');
  const bytes = apis.Metadata.response.encode(last!, version);
  const t0 = nowNs();
  apis.Metadata.response.decode(bytes, version);
  const clientDecodeMs = (nowNs() - t0) / 1e6;
  return {
    samples,
    partitions,
    responseBytes: bytes.length,
    p50Ms: latency.percentileUs(0.5) / 1e3,
    p90Ms: latency.percentileUs(0.9) / 1e3,
    maxMs: latency.maxUs() / 1e3,
    clientDecodeMs,
  };
}

export interface Coverage {
  /** Partitions holding at least one record. */
  written: number;
  partitions: number;
  records: number;
}

/** How many records every partition of `topics` holds, from ListOffsets (log start is 0 here). */
export async function coverage(client: KafkaClient, topics: readonly string[]): Promise<Coverage> {
  const out: Coverage = { written: 0, partitions: 0, records: 0 };
  for (const topic of topics) {
    for (const end of (await listOffsets(client, topic, null, LATEST)).values()) {
      out.partitions++;
      if (end > 0n) out.written++;
      out.records += Number(end);
    }
  }
  return out;
}
