import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { labelSet, SeriesFamilies } from '../../src/metrics/series-families.js';

const text = async (families: SeriesFamilies): Promise<string[]> => {
  const chunks: string[] = [];
  for await (const chunk of families.chunks()) chunks.push(chunk);
  return chunks;
};

test("series families write what prom-client's Gauge writes for the same series, label values escaped alike", async () => {
  const lag = [
    { group: 'plain', topic: 'orders', partition: 0, value: 12 },
    { group: 'with "quotes" and \\ and\nnewline', topic: 'orders', partition: 1, value: 0 },
    { group: 'odd', topic: 'orders', partition: 2, value: Number.POSITIVE_INFINITY },
  ];
  const ours = new SeriesFamilies();
  ours.add('consumer_lag', 'Lag, by group\nand partition', () => lag, (l, line) => line(labelSet({ consumergroup: l.group, topic: l.topic, partition: l.partition }), l.value));
  const registry = new Registry();
  const reference = new Gauge({ name: 'consumer_lag', help: 'Lag, by group\nand partition', labelNames: ['consumergroup', 'topic', 'partition'], registers: [registry] });
  for (const l of lag) reference.set({ consumergroup: l.group, topic: l.topic, partition: String(l.partition) }, l.value);
  assert.equal((await text(ours)).join(''), `${await registry.metrics()}\n`);
});

test('series are written a slice at a time, with a turn of the event loop between slices', async () => {
  const items = Array.from({ length: 4500 }, (_, i) => i);
  const families = new SeriesFamilies();
  families.add('item', 'One per item', () => items, (i, line) => line(labelSet({ i }), i));
  const turns: number[] = [];
  let chunk = 0;
  // A request arriving while the scrape runs is served between two chunks, not after the last.
  setImmediate(() => turns.push(chunk));
  const chunks: string[] = [];
  for await (const c of families.chunks()) {
    chunks.push(c);
    chunk++;
  }
  assert.equal(chunks.length, 3, 'slices of 2,000 items');
  assert.deepEqual(turns, [1], 'the event loop turned after the first slice');
  assert.equal(chunks.join('').split('\n').filter((l) => l.startsWith('item{')).length, 4500);
});
