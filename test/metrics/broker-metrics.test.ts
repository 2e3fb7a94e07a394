import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerMetrics, type MetricsSource, type PartitionState } from '../../src/metrics/broker-metrics.js';

/** A broker of `count` partitions of one topic, all led here, with a group committed on each; counts how often the partitions are read. */
function fakeSource(count: number): MetricsSource & { reads: number } {
  const partitions: PartitionState[] = Array.from({ length: count }, (_, partition) => ({
    topic: 'orders',
    partition,
    size: 1000,
    logStartOffset: 0,
    logEndOffset: 100,
    highWatermark: 100,
    leader: true,
    underReplicated: partition % 2 === 0,
    lag: 0,
    lastStableOffset: 100,
  }));
  const source = {
    reads: 0,
    *partitions() {
      source.reads++;
      yield* partitions;
    },
    transactionStates: () => [],
    sharePartitions: () => [],
    fetchSessions: () => ({ sessions: 0, partitions: 0, evictions: 0, requests: {} }),
    deadLetters: () => 0,
    committedOffsets: () => partitions.map((p) => ({ group: 'g', topic: p.topic, partition: p.partition, offset: p.partition % 100 })),
    offline: () => ({ partitions: 0, logDirs: 0 }),
    controller: () => ({ active: false, offlinePartitions: 0, elections: 0, uncleanElections: 0 }),
    isrChanges: () => ({ shrinks: 0, expands: 0 }),
    quotas: () => ({ throttleMs: new Map(), throttled: new Map(), refused: new Map() }),
  };
  return source;
}

const rest = async (chunks: AsyncGenerator<string>, text = ''): Promise<string> => {
  for await (const chunk of chunks) text += chunk;
  return text;
};

const value = (text: string, series: string): number => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1));

test('scrapes at once each read the partitions once, and each has every series', async () => {
  const source = fakeSource(5000);
  const metrics = new BrokerMetrics(source);
  // Slices of 2,000 series: the second scrape starts when the first is a few slices in, and
  // goes on after the first has finished.
  const first = metrics.exposition();
  let started = '';
  for (let i = 0; i < 4; i++) started += (await first.next()).value;
  const [a, b] = await Promise.all([rest(first, started), rest(metrics.exposition())]);
  assert.equal(source.reads, 2, 'one read of the partitions per scrape');
  for (const text of [a, b]) {
    assert.equal(value(text, 'kafka_server_replicamanager_partitioncount'), 5000);
    assert.equal(value(text, 'kafka_server_replicamanager_leadercount'), 5000);
    assert.equal(value(text, 'kafka_server_replicamanager_underreplicatedpartitions'), 2500);
    assert.equal(text.split('\n').filter((l) => l.startsWith('kafka_log_log_size{')).length, 5000);
    const lags = text.split('\n').filter((l) => l.startsWith('kafka_consumergroup_lag{'));
    assert.equal(lags.length, 5000);
    assert.ok(lags.includes('kafka_consumergroup_lag{consumergroup="g",topic="orders",partition="4321"} 79'));
  }
});
