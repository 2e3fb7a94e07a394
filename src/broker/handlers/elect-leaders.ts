import { electOnBrokerChange, electPreferred } from '../../metadata/elections.js';
import { NO_LEADER, type PartitionImage } from '../../metadata/image.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { ElectLeadersRequest } from '../../protocol/generated/messages/elect-leaders-request.js';
import { createElectLeadersResponse, type ElectLeadersResponsePartitionResult } from '../../protocol/generated/messages/elect-leaders-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { rolledBack } from './admin-outcome.js';

/** Kafka's ElectionType. */
const PREFERRED = 0;

/**
 * The election asked for one partition: the state it leads to, or the error saying why there is
 * none. PREFERRED gives leadership to the first replica when it serves and is in sync; UNCLEAN
 * elects any serving replica for a partition without a leader, losing what only the others had.
 */
function elect(ctx: BrokerContext, state: PartitionImage, type: number): PartitionImage | { errorCode: number; errorMessage: string } {
  if (type === PREFERRED) {
    if (state.leader === state.replicas[0]) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'The preferred replica leads already.' };
    return electPreferred(state, ctx.metadata) ?? { errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: 'The preferred replica is not in sync or not serving.' };
  }
  if (state.leader !== NO_LEADER) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'The partition has a leader.' };
  return electOnBrokerChange(state, ctx.metadata, true)?.next ?? { errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, errorMessage: 'No replica of it serves.' };
}

/**
 * ElectLeaders: preferred or unclean elections of the partitions asked (null: every one),
 * each a compare-and-set through the metadata store, so it races no other change.
 */
export function electLeadersHandler(ctx: BrokerContext) {
  return handler(apis.ElectLeaders, 0, 2, async (req: ElectLeadersRequest, { version }) => {
    const res = createElectLeadersResponse();
    const type = version >= 1 ? req.electionType : PREFERRED;
    const everything = req.topicPartitions === null;
    const wanted = req.topicPartitions ?? ctx.metadata.allTopics().map((t) => ({ topic: t.name, partitions: t.partitions.map((_, i) => i) }));
    for (const t of wanted) {
      const partitionResult: ElectLeadersResponsePartitionResult[] = [];
      for (const index of t.partitions) {
        const result = { partitionId: index, errorCode: ErrorCode.NONE, errorMessage: null as string | null };
        const state = ctx.metadata.partition(t.topic, index);
        const next = state ? elect(ctx, state, type) : { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' };
        if ('errorCode' in next) {
          // Asked for everything, Kafka reports only the partitions an election concerned.
          if (!everything || next.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) partitionResult.push({ ...result, ...next });
          continue;
        }
        try {
          if (!(await ctx.store.alterPartition(t.topic, index, state!.partitionEpoch, next))) {
            partitionResult.push({ ...result, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'The partition changed meanwhile; try again.' });
          } else partitionResult.push(result);
        } catch (e) {
          partitionResult.push({ ...result, ...rolledBack(`Leader of ${t.topic}-${index} not elected`, e) });
        }
      }
      if (partitionResult.length > 0) res.replicaElectionResults.push({ topic: t.topic, partitionResult });
    }
    return res;
  });
}
