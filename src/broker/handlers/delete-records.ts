import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { DeleteRecordsRequest } from '../../protocol/generated/messages/delete-records-request.js';
import { createDeleteRecordsResponse, type DeleteRecordsResponseDeleteRecordsPartitionResult } from '../../protocol/generated/messages/delete-records-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { isInternalTopic } from './internal-topics.js';

/** DeleteRecords' "up to the high watermark". */
const HIGH_WATERMARK = -1n;
/** Kafka's low watermark of a partition that could not be trimmed. */
const INVALID_LOW_WATERMARK = -1n;

type PartitionResult = DeleteRecordsResponseDeleteRecordsPartitionResult;

const refused = (partitionIndex: number, errorCode: number): PartitionResult => ({ partitionIndex, errorCode, lowWatermark: INVALID_LOW_WATERMARK });

/** Moves one partition's log start to `offset`, with Kafka's checks in Kafka's order. */
function deleteBefore(ctx: BrokerContext, topic: string, partitionIndex: number, offset: bigint): PartitionResult {
  if (isInternalTopic(topic)) return refused(partitionIndex, ErrorCode.INVALID_TOPIC_EXCEPTION);
  // The leader moves its log start; its followers follow it through their fetches.
  const p = ctx.partitions.lookupLeader(topic, partitionIndex);
  if (typeof p === 'number') return refused(partitionIndex, p);
  // A compacted-only topic keeps the newest record of every key; trimming would break that.
  if (!ctx.topicConfig(topic)['cleanup.policy'].includes('delete')) return refused(partitionIndex, ErrorCode.POLICY_VIOLATION);
  const target = offset === HIGH_WATERMARK ? BigInt(p.highWatermark) : offset;
  // Consumers may never have seen what lies above the high watermark: it cannot be deleted.
  if (target < 0n || target > BigInt(p.highWatermark)) return refused(partitionIndex, ErrorCode.OFFSET_OUT_OF_RANGE);
  p.log.deleteRecordsBefore(Number(target));
  p.clampHighWatermark();
  return { partitionIndex, errorCode: ErrorCode.NONE, lowWatermark: BigInt(p.log.logStartOffset) };
}

/**
 * DeleteRecords: moves log start offsets up (to the high watermark for -1) and drops the
 * segments wholly below. The new start offsets are checkpointed at once, so that records a
 * client was told are gone do not come back after a crash.
 */
export function deleteRecordsHandler(ctx: BrokerContext) {
  return handler(apis.DeleteRecords, 0, 2, async (req: DeleteRecordsRequest) => {
    const res = createDeleteRecordsResponse();
    res.topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => deleteBefore(ctx, t.name, p.partitionIndex, p.offset)),
    }));
    if (res.topics.some((t) => t.partitions.some((p) => p.errorCode === ErrorCode.NONE))) await ctx.logs.writeCheckpoints();
    return res;
  });
}
