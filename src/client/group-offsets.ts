import type { ApiName } from '../protocol/generated/api-table.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { BrokerConnection, RequestOf, ResponseOf } from './connection.js';
import { check, KafkaError, type KafkaClient } from './kafka-client.js';
import { sendVersioned } from './versioned.js';

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: bigint;
}

/** The partitions of some topics. */
export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

const COORDINATOR_MOVED = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]);

/** What a coordinator coordinates: FindCoordinator's key types. */
export type CoordinatorKind = 'group' | 'transaction';
const KEY_TYPES: Record<CoordinatorKind, number> = { group: 0, transaction: 1 };

/**
 * The broker that coordinates a group or a transactional id. FindCoordinator names the key in
 * `key` up to v3 and in `coordinatorKeys` (a batch) from v4, so the request is built for the
 * negotiated version.
 */
export async function findCoordinator(client: KafkaClient, key: string, kind: CoordinatorKind = 'group'): Promise<BrokerConnection> {
  const keyType = KEY_TYPES[kind];
  const res = await sendVersioned(await client.any(), 'FindCoordinator', (v) => (v >= 4 ? { key: '', keyType, coordinatorKeys: [key] } : { key, keyType, coordinatorKeys: [] }));
  const found = res.coordinators.length > 0 ? res.coordinators[0] : res;
  check(found.errorCode, `coordinator of ${kind} ${key}`, found.errorMessage);
  return client.node(found.nodeId);
}

/**
 * A request to a coordinator. When the response says the coordinator moved or is still
 * loading (`errorOf` finds the code, wherever this API puts it), the coordinator is looked up
 * again and the request retried; every other code is the caller's to handle.
 */
export function coordinatorRequest<N extends ApiName>(
  client: KafkaClient,
  key: string,
  name: N,
  build: (version: number) => RequestOf<N>,
  errorOf: (res: ResponseOf<N>) => number,
  kind: CoordinatorKind = 'group',
): Promise<ResponseOf<N>> {
  return client.retrying(async () => {
    const conn = await findCoordinator(client, key, kind);
    const res = await sendVersioned(conn, name, build);
    const code = errorOf(res);
    if (COORDINATOR_MOVED.has(code)) throw new KafkaError(code, `coordinator of ${kind} ${key}`);
    return res;
  });
}

/** The group's committed offsets (-1n where none) for these partitions, or for all (null). */
export async function committedOffsets(client: KafkaClient, groupId: string, topics: TopicPartitions[] | null): Promise<PartitionOffset[]> {
  const wanted = topics?.map((t) => ({ name: t.topic, partitionIndexes: t.partitions })) ?? null;
  const res = await coordinatorRequest(
    client,
    groupId,
    'OffsetFetch',
    (v) =>
      v >= 8
        ? { groupId: '', topics: [], requireStable: true, groups: [{ groupId, memberId: null, memberEpoch: -1, topics: wanted }] }
        : { groupId, topics: wanted, groups: [], requireStable: v >= 7 },
    (r) => (r.groups.length > 0 ? r.groups[0].errorCode : r.errorCode),
  );
  const group = res.groups.length > 0 ? res.groups[0] : res;
  check(group.errorCode, `committed offsets of group ${groupId}`);
  const out: PartitionOffset[] = [];
  for (const t of group.topics) {
    for (const p of t.partitions) {
      check(p.errorCode, `committed offset of group ${groupId} on ${t.name}-${p.partitionIndex}`);
      out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset });
    }
  }
  return out;
}

/**
 * Commits offsets for a group. A member passes its generation and member id; tools that move
 * an empty group's offsets pass -1 and '' (Kafka accepts those only while the group has no
 * members). Returns the first partition error code, NONE when every commit was accepted.
 */
export async function commitOffsets(client: KafkaClient, groupId: string, offsets: readonly PartitionOffset[], generationId = -1, memberId = ''): Promise<number> {
  const byTopic = new Map<string, PartitionOffset[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  const firstError = (r: ResponseOf<'OffsetCommit'>): number => r.topics.flatMap((t) => t.partitions).find((p) => p.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
  const res = await coordinatorRequest(
    client,
    groupId,
    'OffsetCommit',
    () => ({
      groupId,
      generationIdOrMemberEpoch: generationId,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [...byTopic].map(([name, ps]) => ({
        name,
        partitions: ps.map((p) => ({ partitionIndex: p.partition, committedOffset: p.offset, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' })),
      })),
    }),
    firstError,
  );
  return firstError(res);
}
