import { ErrorCode } from '../protocol/generated/errors.js';
import { MetadataWriteError } from './store.js';

export interface PlacementBroker {
  id: number;
  rack: string | null;
}

/** Brokers ordered so that consecutive ones alternate racks, as Kafka orders them for placement. */
function rackAlternated(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const b of [...brokers].sort((a, b) => a.id - b.id)) {
    const rack = b.rack ?? '';
    byRack.set(rack, [...(byRack.get(rack) ?? []), b]);
  }
  const racks = [...byRack.values()];
  const out: PlacementBroker[] = [];
  for (let i = 0; out.length < brokers.length; i++) for (const r of racks) if (i < r.length) out.push(r[i]);
  return out;
}

/**
 * Kafka's replica placement: partition p's first replica on broker (start + p) of the ordered
 * list, the others shifted by an amount that changes every full round, so leaders and
 * followers spread evenly over the brokers; with racks, each replica goes to a rack the
 * partition does not use yet while one is left. `firstPartition` continues an existing topic.
 */
export function assignReplicas(
  brokers: readonly PlacementBroker[],
  partitions: number,
  replicationFactor: number,
  firstPartition = 0,
  random: () => number = Math.random,
): number[][] {
  const n = brokers.length;
  if (replicationFactor > n) {
    throw new MetadataWriteError(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${replicationFactor} larger than available brokers: ${n}.`);
  }
  const ordered = rackAlternated(brokers);
  const racks = new Set(brokers.map((b) => b.rack ?? ''));
  const start = Math.floor(random() * n);
  let shift = Math.floor(random() * n);
  const out: number[][] = [];
  for (let p = 0; p < partitions; p++) {
    const index = firstPartition + p;
    if (p > 0 && index % n === 0) shift++;
    const first = (index + start) % n;
    const order = [ordered[first]];
    for (let j = 0; j < n - 1; j++) order.push(ordered[(first + 1 + ((shift + j) % (n - 1))) % n]);
    const chosen: PlacementBroker[] = [];
    const usedRacks = new Set<string>();
    for (const b of order) {
      if (chosen.length === replicationFactor) break;
      if (usedRacks.size < racks.size && usedRacks.has(b.rack ?? '')) continue;
      chosen.push(b);
      usedRacks.add(b.rack ?? '');
    }
    for (const b of order) if (chosen.length < replicationFactor && !chosen.includes(b)) chosen.push(b);
    out.push(chosen.map((b) => b.id));
  }
  return out;
}
