import { committedOffsets, findCoordinator } from '../../src/client/group-offsets.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { LATEST, listOffsets } from '../../src/client/offsets.js';
import { describeTopic, type PartitionInfo } from '../../src/client/topics.js';
import { errorByCode } from '../../src/protocol/generated/errors.js';

/**
 * Admin requests no client library sends the way a cluster test needs them (manual
 * assignments, reassignments, elections, FindCoordinator's node id), through Sluice's own
 * client, with each partition's outcome as Kafka's error name so that a failure reads well.
 */

/** What the broker answered for one partition or topic: 'NONE' or Kafka's error name, and its message. */
export interface Outcome {
  error: string;
  message: string | null;
}

const outcome = (errorCode: number, message: string | null): Outcome => ({ error: errorByCode(errorCode)?.name ?? `ERROR_${errorCode}`, message });

/** A client on `brokers` for the length of `use`; admin requests go to the controller, as Kafka's tools send them. */
export async function withAdmin<T>(brokers: string[], use: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = new KafkaClient({ brokers, clientId: 'cluster-admin', retries: 5 });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

export interface NewTopic {
  partitions?: number;
  replicationFactor?: number;
  /** One replica list per partition, preferred leader first: then partitions and replicationFactor must be left out. */
  assignment?: number[][];
  configs?: Record<string, string>;
}

export async function createTopic(client: KafkaClient, name: string, topic: NewTopic): Promise<Outcome> {
  const res = await client.call(() => client.controller(), 'CreateTopics', {
    topics: [
      {
        name,
        numPartitions: topic.partitions ?? -1,
        replicationFactor: topic.replicationFactor ?? -1,
        assignments: (topic.assignment ?? []).map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
        configs: Object.entries(topic.configs ?? {}).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  return outcome(res.topics[0].errorCode, res.topics[0].errorMessage);
}

/** The topic's partitions as Metadata says (waiting while one has no leader), by index. */
export async function partitionStates(client: KafkaClient, topic: string): Promise<PartitionInfo[]> {
  return (await describeTopic(client, topic)).partitions;
}

/** AlterPartitionReassignments of one topic: partition to its target replicas (null cancels); each partition's outcome. */
export async function reassign(client: KafkaClient, topic: string, targets: Map<number, number[] | null>): Promise<Map<number, Outcome>> {
  const res = await client.call(() => client.controller(), 'AlterPartitionReassignments', {
    timeoutMs: 30_000,
    topics: [{ name: topic, partitions: [...targets].map(([partitionIndex, replicas]) => ({ partitionIndex, replicas })) }],
  });
  if (res.errorCode !== 0) throw new Error(`AlterPartitionReassignments failed: ${outcome(res.errorCode, res.errorMessage).error} ${res.errorMessage}`);
  return new Map(res.responses.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, outcome(p.errorCode, p.errorMessage)] as const)));
}

export interface Ongoing {
  partition: number;
  replicas: number[];
  adding: number[];
  removing: number[];
}

/** ListPartitionReassignments of one topic: the moves under way. */
export async function ongoingReassignments(client: KafkaClient, topic: string): Promise<Ongoing[]> {
  const res = await client.call(() => client.controller(), 'ListPartitionReassignments', { timeoutMs: 30_000, topics: null });
  return (res.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => ({
    partition: p.partitionIndex,
    replicas: p.replicas,
    adding: p.addingReplicas,
    removing: p.removingReplicas,
  }));
}

/** ElectLeaders, preferred replicas, of these partitions of one topic; each partition's outcome. */
export async function electPreferred(client: KafkaClient, topic: string, partitions: number[]): Promise<Map<number, Outcome>> {
  const res = await client.call(() => client.controller(), 'ElectLeaders', { electionType: 0, topicPartitions: [{ topic, partitions }], timeoutMs: 30_000 });
  return new Map(res.replicaElectionResults.flatMap((t) => t.partitionResult.map((p) => [p.partitionId, outcome(p.errorCode, p.errorMessage)] as const)));
}

/** The node id FindCoordinator names for a consumer group. */
export async function coordinatorOf(client: KafkaClient, group: string): Promise<number> {
  const conn = await client.retrying(() => findCoordinator(client, group));
  const md = await client.metadata([]);
  const node = md.brokers.find((b) => `${b.host}:${b.port}` === conn.address);
  if (!node) throw new Error(`the coordinator of ${group} is at ${conn.address}, which Metadata does not list`);
  return node.nodeId;
}

/** Whether Metadata lists the topic at all (without creating it). */
export async function topicExists(client: KafkaClient, topic: string): Promise<boolean> {
  const md = await client.metadata([topic]);
  return md.topics.some((t) => t.name === topic && t.errorCode === 0);
}

/** Per partition of `topic`, "committed/end": the group's committed offset (-1 for none) and the high watermark. */
export async function commitProgress(client: KafkaClient, group: string, topic: string): Promise<string[]> {
  const ends = await listOffsets(client, topic, null, LATEST);
  const committed = await committedOffsets(client, group, [{ topic, partitions: [...ends.keys()] }]);
  return [...ends].sort(([a], [b]) => a - b).map(([p, end]) => `${committed.find((c) => c.partition === p)?.offset ?? -1n}/${end}`);
}

/** Whether the group has committed every partition of `topic` up to its end. */
export const allCommitted = (progress: string[]): boolean => progress.every((p) => p.split('/')[0] === p.split('/')[1]);
