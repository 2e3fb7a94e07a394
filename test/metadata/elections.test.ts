import assert from 'node:assert/strict';
import { test } from 'node:test';
import { completeReassignment, electOnBrokerChange, electPreferred, reassignmentTarget, startReassignment } from '../../src/metadata/elections.js';
import { MetadataImage, NO_LEADER, type PartitionImage } from '../../src/metadata/image.js';

/** An image with these brokers registered, `stopping` ones shutting down. */
function imageOf(live: number[], stopping: number[] = []): MetadataImage {
  const image = new MetadataImage('c');
  for (const id of live) image.brokers.set(id, { id, incarnation: 'i', epoch: 1, endpoints: [], rack: null, shuttingDown: stopping.includes(id) });
  return image;
}

const state = (over: Partial<PartitionImage>): PartitionImage => ({ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 4, partitionEpoch: 9, adding: [], removing: [], ...over });

test('a leader that is gone gives way to the first in-sync replica that serves, with the next epoch', () => {
  const next = electOnBrokerChange(state({}), imageOf([2, 3]), false);
  assert.deepEqual(next, { next: state({ leader: 2, isr: [2, 3], leaderEpoch: 5 }), unclean: false });
});

test('a stopping leader hands over; with nobody in sync to take over it keeps leading', () => {
  assert.equal(electOnBrokerChange(state({}), imageOf([1, 2, 3], [1]), false)?.next.leader, 2);
  assert.equal(electOnBrokerChange(state({ isr: [1] }), imageOf([1, 2, 3], [1]), false), null);
});

test('brokers that are gone leave the ISR of partitions they do not lead, and nothing else changes', () => {
  assert.deepEqual(electOnBrokerChange(state({}), imageOf([1, 3]), false)?.next, state({ isr: [1, 3] }));
  assert.equal(electOnBrokerChange(state({}), imageOf([1, 2, 3]), false), null);
});

test('the last in-sync replica gone: no leader, the ISR kept, so it can come back; not an out-of-sync replica', () => {
  const lost = electOnBrokerChange(state({ isr: [1] }), imageOf([2, 3]), false);
  assert.deepEqual(lost, { next: state({ leader: NO_LEADER, isr: [1], leaderEpoch: 5 }), unclean: false });
  // It comes back: it leads again.
  const back = electOnBrokerChange(lost!.next, imageOf([1, 2, 3]), false);
  assert.deepEqual(back?.next, state({ leader: 1, isr: [1], leaderEpoch: 6 }));
  // Still away, and nothing changes while it is.
  assert.equal(electOnBrokerChange(lost!.next, imageOf([2, 3]), false), null);
});

test('unclean election, when allowed, takes any serving replica and says so', () => {
  const lost = state({ leader: NO_LEADER, isr: [1], leaderEpoch: 5 });
  assert.deepEqual(electOnBrokerChange(lost, imageOf([2, 3]), true), { next: state({ leader: 2, isr: [2], leaderEpoch: 6 }), unclean: true });
});

test('preferred election: only to a serving, in-sync first replica that does not lead yet', () => {
  assert.deepEqual(electPreferred(state({ leader: 2 }), imageOf([1, 2, 3])), state({ leader: 1, leaderEpoch: 5 }));
  assert.equal(electPreferred(state({}), imageOf([1, 2, 3])), null);
  assert.equal(electPreferred(state({ leader: 2, isr: [2, 3] }), imageOf([1, 2, 3])), null);
  assert.equal(electPreferred(state({ leader: 2 }), imageOf([2, 3])), null);
});

test('a reassignment adds the new replicas, waits for them to be in sync, then drops the leaving ones and their leadership', () => {
  const moving = startReassignment(state({}), [4, 5, 3]);
  assert.deepEqual(moving, state({ replicas: [4, 5, 3, 1, 2], isr: [1, 2, 3], adding: [4, 5], removing: [1, 2] }));
  assert.deepEqual(reassignmentTarget(moving), [4, 5, 3]);
  const image = imageOf([1, 2, 3, 4, 5]);
  assert.equal(completeReassignment(moving, image), null, 'the new replicas are not in sync yet');
  const caughtUp = { ...moving, isr: [1, 2, 3, 4, 5] };
  assert.deepEqual(completeReassignment(caughtUp, image), state({ replicas: [4, 5, 3], isr: [3, 4, 5], leader: 4, leaderEpoch: 5 }));
});

test('cancelling a reassignment goes back to the original replicas (in the order the move left them, as Kafka does)', () => {
  const moving = startReassignment(state({}), [4, 2, 3]);
  assert.deepEqual(startReassignment({ ...moving, isr: [1, 2, 3, 4] }, null), state({ replicas: [2, 3, 1], isr: [1, 2, 3] }));
  assert.equal(reassignmentTarget(state({})), null);
});
