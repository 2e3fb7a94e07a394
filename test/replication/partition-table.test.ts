import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PartitionTable } from '../../src/replication/partition-table.js';

describe('PartitionTable', () => {
  it('answers like a map keyed by "topic-index" through any sequence of sets and deletes', () => {
    const op = fc.record({ set: fc.boolean(), topic: fc.constantFrom('a', 'a-1', 'b', '__consumer_offsets'), index: fc.nat(12), value: fc.integer() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const table = new PartitionTable<number>();
        const model = new Map<string, number>();
        for (const { set, topic, index, value } of ops) {
          const key = JSON.stringify([topic, index]);
          if (set) {
            table.set(topic, index, value);
            model.set(key, value);
          } else {
            table.delete(topic, index);
            model.delete(key);
          }
          assert.equal(table.get(topic, index), model.get(key));
          assert.equal(table.has(topic, index), model.has(key));
        }
        assert.deepEqual([...table.values()].sort((x, y) => x - y), [...model.values()].sort((x, y) => x - y));
      }),
    );
  });
});
