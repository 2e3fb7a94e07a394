import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { OffsetForLeaderEpochRequest } from '../../protocol/generated/messages/offset-for-leader-epoch-request.js';
import { createOffsetForLeaderEpochResponse } from '../../protocol/generated/messages/offset-for-leader-epoch-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';

/**
 * OffsetForLeaderEpoch (KIP-101/279/320): where the leader's log leaves a leader epoch, the
 * largest epoch it has that is not above the one asked and the offset that epoch ends at. A
 * follower cuts its log there before it fetches; a consumer checks its position after a
 * leader change. Only the leader answers, fenced by the asker's current leader epoch (v2+; v0 has
 * no leader epoch in its answer, which the codec leaves out).
 */
export function offsetForLeaderEpochHandler(ctx: BrokerContext) {
  return handler(apis.OffsetForLeaderEpoch, 0, 4, (req: OffsetForLeaderEpochRequest) => {
    const res = createOffsetForLeaderEpochResponse();
    res.topics = req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((wanted) => {
        const answer = { errorCode: ErrorCode.NONE, partition: wanted.partition, leaderEpoch: -1, endOffset: -1n };
        const p = ctx.partitions.lookupLeader(t.topic, wanted.partition);
        if (typeof p === 'number') return { ...answer, errorCode: p };
        const fenced = wanted.currentLeaderEpoch >= 0 && wanted.currentLeaderEpoch !== p.leaderEpoch;
        if (fenced) return { ...answer, errorCode: wanted.currentLeaderEpoch > p.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH };
        const end = p.epochs.endOffsetFor(wanted.leaderEpoch, p.log.logEndOffset);
        return { ...answer, leaderEpoch: end.epoch, endOffset: BigInt(end.startOffset) };
      }),
    }));
    return res;
  });
}
