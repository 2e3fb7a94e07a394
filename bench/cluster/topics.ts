import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { describeTopic, type TopicInfo } from '../../src/client/topics.js';
import { createTopics, type TopicLayout } from '../partitions/admin.js';

/** The benchmark's topics: created up front with their replication factor, measured only once every replica is in sync. */

export interface TopicState {
  topic: string;
  replicationFactor: number;
  /** Partitions led by each node id. */
  leaders: Record<string, number>;
  /** Partitions whose ISR lacks some of their replicas. */
  underReplicated: number;
}

const SYNC_TIMEOUT_MS = 30_000;

function stateOf(info: TopicInfo): TopicState {
  const leaders: Record<string, number> = {};
  for (const p of info.partitions) leaders[p.leaderId] = (leaders[p.leaderId] ?? 0) + 1;
  return {
    topic: info.name,
    replicationFactor: info.partitions[0]?.replicas.length ?? 0,
    leaders,
    underReplicated: info.partitions.filter((p) => p.isr.length < p.replicas.length).length,
  };
}

async function withClient<T>(bootstrap: string[], work: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = new KafkaClient({ brokers: bootstrap, clientId: 'sluice-bench' });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

export function topicState(bootstrap: string[], topic: string): Promise<TopicState> {
  return withClient(bootstrap, async (client) => stateOf(await describeTopic(client, topic)));
}

/** Creates the topics and waits until every partition has a leader and all its replicas in sync. */
export function createSyncedTopics(bootstrap: string[], topics: readonly string[], partitions: number, layout: TopicLayout): Promise<TopicState[]> {
  return withClient(bootstrap, async (client) => {
    await createTopics(client, topics, partitions, () => {}, layout);
    const deadline = Date.now() + SYNC_TIMEOUT_MS;
    const states: TopicState[] = [];
    for (const topic of topics) {
      for (;;) {
        const state = stateOf(await describeTopic(client, topic));
        if (state.underReplicated === 0) {
          states.push(state);
          break;
        }
        if (Date.now() > deadline) throw new Error(`${topic}: ${state.underReplicated} partition(s) still under-replicated after ${SYNC_TIMEOUT_MS / 1000} s`);
        await sleep(100);
      }
    }
    return states;
  });
}
