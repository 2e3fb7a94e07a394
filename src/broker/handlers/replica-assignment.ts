import { ErrorCode } from '../../protocol/generated/errors.js';
import { failed, type Outcome } from './admin-outcome.js';

/**
 * Kafka's check of one manually assigned replica list (CreateTopics, CreatePartitions,
 * AlterPartitionReassignments) against the registered brokers. Brokers are checked in
 * ascending id order, as Kafka does, so the message names the smallest offender.
 */
export function replicaListProblem(brokerIds: readonly number[], registered: ReadonlySet<number>): Outcome | null {
  const refuse = (message: string) => failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, message);
  if (brokerIds.length === 0) return refuse('The manual partition assignment includes an empty replica list.');
  let previous: number | null = null;
  for (const id of [...brokerIds].sort((a, b) => a - b)) {
    if (!registered.has(id)) return refuse(`The manual partition assignment includes broker ${id}, but no such broker is registered.`);
    if (id === previous) return refuse(`The manual partition assignment includes the broker ${id} more than once.`);
    previous = id;
  }
  return null;
}

/** Kafka's check that every replica list of a manual assignment is as long as the first. */
export function replicationFactorProblem(lists: readonly (readonly number[])[]): Outcome | null {
  const rf = lists[0]?.length ?? 0;
  if (lists.every((l) => l.length === rf)) return null;
  return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'All partitions should have the same number of replicas');
}
