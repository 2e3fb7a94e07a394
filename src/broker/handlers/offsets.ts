import { log } from '../../log.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { createOffsetCommitResponse } from '../../protocol/generated/messages/offset-commit-response.js';
import {
  createOffsetFetchResponse,
  type OffsetFetchResponsePartitions,
  type OffsetFetchResponseTopics,
} from '../../protocol/generated/messages/offset-fetch-response.js';
import { createOffsetDeleteResponse } from '../../protocol/generated/messages/offset-delete-response.js';
import { decodeSubscription } from '../../protocol/consumer-protocol.js';
import type { GroupCoordinator, OffsetToCommit } from '../../coordinator/group-coordinator.js';
import type { Group } from '../../coordinator/group.js';
import type { BrokerContext } from '../broker-context.js';
import { coordinatorWriteError } from '../../coordinator/coordinator-log.js';
import { handler } from '../router.js';

/** offset.metadata.max.bytes. */
const MAX_METADATA_BYTES = 4096;
/** The largest offset a commit may name: the largest integer a number holds exactly. */
const MAX_SAFE_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);

/** A partition's offset as OffsetCommit and TxnOffsetCommit carry it. */
interface RequestedOffset {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  committedMetadata: string | null;
}

/** Each partition's answer to a commit, by topic, as both commit responses give it. */
type CommitAnswers = { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];

/**
 * Checks and writes the offsets of an OffsetCommit or (with `producer`) a TxnOffsetCommit:
 * `groupError` (the member check) or a partition's own problem answers that partition, the
 * others are written in one batch whose outcome answers them all.
 */
export async function commitRequestedOffsets(
  ctx: BrokerContext,
  groups: GroupCoordinator,
  groupId: string,
  groupError: number,
  topics: { name: string; partitions: RequestedOffset[] }[],
  withEpoch: boolean,
  producer?: { id: bigint; epoch: number },
  /** OffsetCommit v2-4's retention time: the offsets expire this long after the commit; -1 for the broker's retention. */
  retentionMs = -1,
): Promise<CommitAnswers> {
  const accepted: OffsetToCommit[] = [];
  const codes = topics.map((t) =>
    t.partitions.map((p) => {
      if (groupError !== ErrorCode.NONE) return groupError;
      // Whether the partition exists, as Kafka asks its metadata: an offline one takes commits too.
      if (p.partitionIndex < 0 || p.partitionIndex >= ctx.partitions.partitionCount(t.name)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      if (p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > MAX_METADATA_BYTES) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      // Offsets are numbers here: one beyond 2^53 names no record and could not be stored as sent.
      if (p.committedOffset > MAX_SAFE_OFFSET || p.committedOffset < -MAX_SAFE_OFFSET) return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
      accepted.push({
        topic: t.name,
        partition: p.partitionIndex,
        offset: Number(p.committedOffset),
        leaderEpoch: withEpoch ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
      });
      return ErrorCode.NONE;
    }),
  );
  let storeError: number = ErrorCode.NONE;
  try {
    await groups.commit(groupId, accepted, producer, retentionMs);
  } catch (e) {
    storeError = coordinatorWriteError(e);
    // A fenced producer is the client's affair, not the store's.
    if (storeError !== ErrorCode.INVALID_PRODUCER_EPOCH) log.error({ err: e, group: groupId }, 'offset commit could not be stored');
  }
  return topics.map((t, ti) => ({
    name: t.name,
    partitions: t.partitions.map((p, pi) => ({
      partitionIndex: p.partitionIndex,
      errorCode: codes[ti][pi] === ErrorCode.NONE ? storeError : codes[ti][pi],
    })),
  }));
}

export function offsetCommitHandler(ctx: BrokerContext, groups: GroupCoordinator) {
  return handler(apis.OffsetCommit, 0, 9, async (req, { version }) => {
    const res = createOffsetCommitResponse();
    // v0 commits come from outside any generation.
    const ref = {
      groupId: req.groupId,
      generationId: version >= 1 ? req.generationIdOrMemberEpoch : -1,
      memberId: version >= 1 ? req.memberId : '',
      groupInstanceId: req.groupInstanceId,
    };
    const retentionMs = version >= 2 && version <= 4 ? Number(req.retentionTimeMs) : -1;
    res.topics = await commitRequestedOffsets(ctx, groups, req.groupId, groups.commitCheck(ref, version), req.topics, version >= 6, undefined, retentionMs);
    return res;
  });
}

/**
 * One group's offsets, for the topics asked (null: every partition it has committed). With
 * `requireStable` (KIP-447, v7+), a partition whose offset a transaction still has pending
 * answers UNSTABLE_OFFSET_COMMIT, and the consumer retries until the transaction ends.
 */
function fetchGroupOffsets(
  groups: GroupCoordinator,
  groupId: string,
  topics: { name: string; partitionIndexes: number[] }[] | null,
  withEpoch: boolean,
  requireStable = false,
): OffsetFetchResponseTopics[] {
  const group = requireStable ? groups.group(groupId) : undefined;
  const entry = (partitionIndex: number, topic: string): OffsetFetchResponsePartitions => {
    if (group && [...group.pendingTxnOffsets.values()].some((pending) => pending.has(group.offsetKey(topic, partitionIndex)))) {
      return { partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
    }
    const c = groups.committed(groupId, topic, partitionIndex);
    return {
      partitionIndex,
      committedOffset: BigInt(c?.offset ?? -1),
      committedLeaderEpoch: withEpoch ? (c?.leaderEpoch ?? -1) : -1,
      metadata: c?.metadata ?? '',
      errorCode: ErrorCode.NONE,
    };
  };
  if (topics !== null) return topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => entry(p, t.name)) }));
  const byTopic = new Map<string, number[]>();
  for (const c of groups.allCommitted(groupId)) byTopic.set(c.topic, [...(byTopic.get(c.topic) ?? []), c.partition]);
  return [...byTopic].map(([name, partitions]) => ({ name, partitions: partitions.sort((a, b) => a - b).map((p) => entry(p, name)) }));
}

export function offsetFetchHandler(groups: GroupCoordinator) {
  return handler(apis.OffsetFetch, 0, 9, (req, { version }) => {
    const res = createOffsetFetchResponse();
    const withEpoch = version >= 5;
    if (version >= 8) {
      res.groups = req.groups.map((g) => {
        const errorCode = groups.coordinatorError(g.groupId);
        return { groupId: g.groupId, topics: errorCode === ErrorCode.NONE ? fetchGroupOffsets(groups, g.groupId, g.topics, withEpoch, req.requireStable) : [], errorCode };
      });
    } else {
      res.errorCode = groups.coordinatorError(req.groupId);
      if (res.errorCode === ErrorCode.NONE) res.topics = fetchGroupOffsets(groups, req.groupId, req.topics, withEpoch, req.requireStable);
    }
    return res;
  });
}

/** The topics a consumer-protocol member subscribes to, from its JoinGroup metadata. */
function subscribedTopics(group: Group): Set<string> {
  const topics = new Set<string>();
  if (group.protocolType !== 'consumer') return topics;
  for (const m of group.members.values()) {
    const metadata = m.metadataFor(group.protocolName);
    try {
      for (const t of decodeSubscription(metadata).topics) topics.add(t);
    } catch {
      // Unreadable metadata subscribes to nothing we can name.
    }
  }
  return topics;
}

/** OffsetDelete: removes committed offsets, except for topics the group's members subscribe to. */
export function offsetDeleteHandler(groups: GroupCoordinator) {
  return handler(apis.OffsetDelete, 0, 0, async (req) => {
    const res = createOffsetDeleteResponse();
    res.errorCode = groups.coordinatorError(req.groupId);
    if (res.errorCode !== ErrorCode.NONE) return res;
    const group = groups.group(req.groupId);
    if (!group || group.state === 'Dead') {
      res.errorCode = ErrorCode.GROUP_ID_NOT_FOUND;
      return res;
    }
    const subscribed = subscribedTopics(group);
    const doomed: { topic: string; partition: number }[] = [];
    res.topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        if (subscribed.has(t.name)) return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
        doomed.push({ topic: t.name, partition: p.partitionIndex });
        return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE };
      }),
    }));
    try {
      await groups.deleteOffsets(req.groupId, doomed);
    } catch (e) {
      log.error({ err: e, group: req.groupId }, 'the offset deletion could not be stored');
      res.errorCode = coordinatorWriteError(e);
      res.topics = [];
    }
    return res;
  });
}
