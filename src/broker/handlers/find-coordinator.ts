import { coordinatorPartitionFor } from '../../coordinator/coordinator-log.js';
import { OFFSETS_TOPIC } from '../../coordinator/offsets-topic-records.js';
import { TRANSACTION_STATE_TOPIC } from '../../coordinator/transactions/transaction-metadata.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { createFindCoordinatorResponse } from '../../protocol/generated/messages/find-coordinator-response.js';
import type { BrokerContext } from '../broker-context.js';
import { currentLeader, endpointOf } from '../cluster-view.js';
import { handler } from '../router.js';
import { ensureInternalTopic, type InternalTopic } from './internal-topics.js';

/** FindCoordinator's key types and the internal topic each coordinator keeps its state in. */
const COORDINATOR_TOPICS: ReadonlyMap<number, InternalTopic> = new Map([
  [0, OFFSETS_TOPIC],
  [1, TRANSACTION_STATE_TOPIC],
]);

/**
 * FindCoordinator: a group's coordinator is the leader of its __consumer_offsets partition, a
 * transactional id's the leader of its __transaction_state partition (each topic created on
 * first use, with fewer replicas than configured when fewer brokers serve).
 */
export function findCoordinatorHandler(ctx: BrokerContext) {
  return handler(apis.FindCoordinator, 0, 5, async (req, { version, connection }) => {
    const res = createFindCoordinatorResponse();
    const failed = (errorCode: number, errorMessage: string) => ({ errorCode, errorMessage, nodeId: -1, host: '', port: -1 });
    const topic = COORDINATOR_TOPICS.get(req.keyType);
    if (topic !== undefined && ctx.partitions.partitionCount(topic) === 0) await ensureInternalTopic(ctx, topic);
    const answer = (key: string) => {
      if (topic === undefined) return failed(ErrorCode.INVALID_REQUEST, `Unknown coordinator key type ${req.keyType}`);
      const count = ctx.partitions.partitionCount(topic);
      if (count === 0) return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${topic} could not be created yet`);
      const p = coordinatorPartitionFor(key, count);
      const leader = endpointOf(ctx, currentLeader(ctx, topic, p).leaderId, connection.listenerName);
      if (!leader) return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE, `The ${topic} partition of ${key} has no leader`);
      // This broker's own replica of it may be offline even though the metadata names it.
      if (leader.nodeId === ctx.config.nodeId && typeof ctx.partitions.lookupLeader(topic, p) === 'number') {
        return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE, `The ${topic} partition of ${key} is offline`);
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: leader.nodeId, host: leader.host, port: leader.port };
    };
    if (version < 4) Object.assign(res, answer(req.key));
    else res.coordinators = req.coordinatorKeys.map((key) => ({ key, ...answer(key) }));
    return res;
  });
}
