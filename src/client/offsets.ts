import { check, type KafkaClient } from './kafka-client.js';
import { byLeader, describeTopic, partitionOf, type TopicInfo } from './topics.js';

/** ListOffsets' special timestamps. */
export const EARLIEST = -2n;
export const LATEST = -1n;

/**
 * For each partition, ListOffsets at `timestamp`: EARLIEST (the log start), LATEST (the high
 * watermark) or a time in ms (the first offset whose timestamp is at or after it, or -1n when
 * there is none). One request per leader, all in parallel; stale leaders are looked up again.
 */
export async function listOffsets(client: KafkaClient, topic: string | TopicInfo, partitions: readonly number[] | null, timestamp: bigint): Promise<Map<number, bigint>> {
  let info = typeof topic === 'string' ? null : topic;
  const name = typeof topic === 'string' ? topic : topic.name;
  return client.retrying(async () => {
    info ??= await describeTopic(client, name);
    const wanted = (partitions ?? info.partitions.map((p) => p.partition)).map((p) => partitionOf(info!, p));
    const out = new Map<number, bigint>();
    try {
      await Promise.all(
        [...byLeader(wanted)].map(async ([leaderId, ps]) => {
          const conn = await client.node(leaderId);
          const res = await conn.send('ListOffsets', {
            replicaId: -1,
            isolationLevel: 0,
            timeoutMs: 30_000,
            topics: [{ name, partitions: ps.map((p) => ({ partitionIndex: p.partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 })) }],
          });
          for (const t of res.topics) {
            for (const p of t.partitions) {
              check(p.errorCode, `offsets of ${name}-${p.partitionIndex}`);
              out.set(p.partitionIndex, p.offset);
            }
          }
        }),
      );
    } catch (e) {
      // Leaders may have moved: the retry starts from fresh metadata.
      info = null;
      throw e;
    }
    return out;
  });
}
