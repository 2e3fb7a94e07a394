import { ErrorCode } from '../protocol/generated/errors.js';
import type { ShareGroupDescribeResponseDescribedGroup } from '../protocol/generated/messages/share-group-describe-response.js';
import { coordinatorRequest, type PartitionOffset } from './group-offsets.js';
import { check, type KafkaClient } from './kafka-client.js';

export async function describeShareGroup(client: KafkaClient, groupId: string): Promise<ShareGroupDescribeResponseDescribedGroup> {
  const res = await coordinatorRequest(client, groupId, 'ShareGroupDescribe', () => ({ groupIds: [groupId], includeAuthorizedOperations: false }), (r) => r.groups[0]?.errorCode ?? 0);
  const group = res.groups[0];
  check(group.errorCode, `describe share group ${groupId}`, group.errorMessage);
  return group;
}

/** A share-partition's start offset: every record before it is acknowledged or archived; -1n while it has no state. */
export async function shareGroupOffsets(client: KafkaClient, groupId: string): Promise<PartitionOffset[]> {
  const res = await coordinatorRequest(client, groupId, 'DescribeShareGroupOffsets', () => ({ groups: [{ groupId, topics: null }] }), (r) => r.groups[0]?.errorCode ?? 0);
  const group = res.groups[0];
  check(group.errorCode, `offsets of share group ${groupId}`, group.errorMessage);
  return group.topics.flatMap((t) =>
    t.partitions.map((p) => {
      check(p.errorCode, `offset of share group ${groupId} on ${t.topicName}-${p.partitionIndex}`, p.errorMessage);
      return { topic: t.topicName, partition: p.partitionIndex, offset: p.startOffset };
    }),
  );
}

/** Moves the start offsets of an empty share group's share-partitions; what was in flight there is dropped. */
export async function alterShareGroupOffsets(client: KafkaClient, groupId: string, offsets: readonly PartitionOffset[]): Promise<void> {
  const byTopic = new Map<string, PartitionOffset[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  const res = await coordinatorRequest(
    client,
    groupId,
    'AlterShareGroupOffsets',
    () => ({ groupId, topics: [...byTopic].map(([topicName, ps]) => ({ topicName, partitions: ps.map((p) => ({ partitionIndex: p.partition, startOffset: p.offset })) })) }),
    (r) => r.errorCode,
  );
  check(res.errorCode, `alter offsets of share group ${groupId}`, res.errorMessage);
  for (const t of res.responses) for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) check(p.errorCode, `alter offset of share group ${groupId} on ${t.topicName}-${p.partitionIndex}`, p.errorMessage);
}
