import { KafkaClient } from '../../../src/client/kafka-client.js';
import type { TestCluster } from '../cluster.js';

/** A partition as one broker's Metadata answer describes it. */
export interface PartitionState {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

const ASK_TIMEOUT_MS = 5000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A topic's partitions as broker `id` sees them; null when it does not answer in time. */
async function askBroker(cluster: TestCluster, id: number, topic: string): Promise<PartitionState[] | null> {
  const client = new KafkaClient({ brokers: [cluster.address(id)], retries: 0 });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ASK_TIMEOUT_MS)));
    const md = await Promise.race([client.metadata([topic]), timeout]);
    const t = md?.topics.find((x) => x.name === topic);
    if (!t || t.errorCode !== 0) return null;
    return t.partitions
      .map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicaNodes, isr: p.isrNodes }))
      .sort((a, b) => a.partition - b.partition);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}

/** The topic as each reachable broker sees it (brokers that do not answer are left out). */
export async function viewsOf(cluster: TestCluster, topic: string): Promise<Map<number, PartitionState[]>> {
  const ids = cluster.reachable;
  const answers = await Promise.all(ids.map((id) => askBroker(cluster, id, topic)));
  return new Map(ids.flatMap((id, i) => (answers[i] ? [[id, answers[i]] as const] : [])));
}

/** The leader of a partition as the first reachable broker that knows one says; -1 if none does. */
export async function leaderOf(cluster: TestCluster, topic: string, partition: number): Promise<number> {
  for (const view of (await viewsOf(cluster, topic)).values()) {
    const leader = view.find((p) => p.partition === partition)?.leader ?? -1;
    if (leader >= 0) return leader;
  }
  return -1;
}

/**
 * Waits until every running broker answers and they all say what `ok` wants of every partition;
 * returns the last views, and whether they got there in time.
 */
export async function waitForViews(
  cluster: TestCluster,
  topic: string,
  ok: (p: PartitionState) => boolean,
  timeoutMs: number,
): Promise<{ reached: boolean; views: Map<number, PartitionState[]> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await viewsOf(cluster, topic);
    const reached = views.size === cluster.reachable.length && views.size > 0 && [...views.values()].every((v) => v.every(ok));
    if (reached || Date.now() > deadline) return { reached, views };
    await sleep(250);
  }
}

/** Every replica of the partition in its ISR, under a leader. */
export const fullIsr = (p: PartitionState): boolean => p.leader >= 0 && p.replicas.every((id) => p.isr.includes(id));
