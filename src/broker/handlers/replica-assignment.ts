import { ErrorCode } from '../../protocol/generated/errors.js';
import { failed, type Outcome } from './admin-outcome.js';

/**
 * Kafka's check of one manually assigned replica list (CreateTopics, CreatePartitions), on a
 * cluster whose only registered broker is this node. Brokers are checked in ascending id order,
 * as Kafka does, so the message names the smallest offender. A list that passes holds this node
 * once: one replica, like every existing partition, so Kafka's replication-factor consistency
 * check can never fail here.
 */
export function replicaListProblem(brokerIds: readonly number[], nodeId: number): Outcome | null {
  const refuse = (message: string) => failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, message);
  if (brokerIds.length === 0) return refuse('The manual partition assignment includes an empty replica list.');
  let previous: number | null = null;
  for (const id of [...brokerIds].sort((a, b) => a - b)) {
    if (id !== nodeId) return refuse(`The manual partition assignment includes broker ${id}, but no such broker is registered.`);
    if (id === previous) return refuse(`The manual partition assignment includes the broker ${id} more than once.`);
    previous = id;
  }
  return null;
}
