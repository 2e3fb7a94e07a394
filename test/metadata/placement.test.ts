import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignReplicas, type PlacementBroker } from '../../src/metadata/placement.js';
import { MetadataWriteError } from '../../src/metadata/store.js';

const brokers = (n: number, racks?: string[]): PlacementBroker[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, rack: racks?.[i] ?? null }));

/** A fixed sequence instead of Math.random, so placements can be compared. */
const fixed = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length];
};

test('every partition gets distinct replicas, and leaders and replicas spread evenly', () => {
  const assignment = assignReplicas(brokers(3), 30, 3, 0, fixed(0.1, 0.6));
  const leaders = new Map<number, number>();
  const held = new Map<number, number>();
  for (const replicas of assignment) {
    assert.equal(new Set(replicas).size, 3, `distinct: ${replicas}`);
    leaders.set(replicas[0], (leaders.get(replicas[0]) ?? 0) + 1);
    for (const id of replicas) held.set(id, (held.get(id) ?? 0) + 1);
  }
  assert.deepEqual([...leaders.values()], [10, 10, 10]);
  assert.deepEqual([...held.values()], [30, 30, 30]);
});

test('the followers of consecutive partitions change, not only the leader', () => {
  const assignment = assignReplicas(brokers(4), 8, 2, 0, fixed(0, 0));
  const pairs = new Set(assignment.map((r) => r.join(',')));
  assert.ok(pairs.size > 4, `${[...pairs]}`);
});

test('replicas go to different racks while racks are left', () => {
  const racked = brokers(6, ['a', 'a', 'b', 'b', 'c', 'c']);
  const rackOf = new Map(racked.map((b) => [b.id, b.rack]));
  for (let seed = 0; seed < 10; seed++) {
    for (const replicas of assignReplicas(racked, 12, 3, 0, fixed(seed / 10, (seed * 7) / 100))) {
      assert.equal(new Set(replicas.map((id) => rackOf.get(id))).size, 3, `${replicas} spans all racks`);
    }
  }
  // More replicas than racks: every rack first, then the rest.
  for (const replicas of assignReplicas(brokers(4, ['a', 'a', 'b', 'b']), 6, 3)) {
    assert.equal(new Set(replicas).size, 3);
    assert.equal(new Set(replicas.map((id) => (id <= 2 ? 'a' : 'b'))).size, 2);
  }
});

test('more replicas than brokers is INVALID_REPLICATION_FACTOR', () => {
  assert.throws(() => assignReplicas(brokers(2), 1, 3), (e: unknown) => e instanceof MetadataWriteError && /larger than available brokers: 2/.test(e.message));
});

test('added partitions continue the rotation of the existing ones', () => {
  const all = assignReplicas(brokers(3), 6, 1, 0, fixed(0, 0));
  const tail = assignReplicas(brokers(3), 3, 1, 3, fixed(0, 0));
  assert.deepEqual(tail, all.slice(3));
});
