import { NO_LEADER, type MetadataImage, type PartitionImage } from './image.js';

/** Brokers that may lead or stay in an ISR: registered and not stopping. */
export function serving(image: MetadataImage): Set<number> {
  return new Set(image.availableBrokers().map((b) => b.id));
}

/** A change of leader: the next epoch, and followers truncate to where it begins. */
function withLeader(state: PartitionImage, leader: number, isr: number[]): PartitionImage {
  return { ...state, leader, isr, leaderEpoch: state.leaderEpoch + 1 };
}

/**
 * What a partition's state should become now that the brokers are as `image` says, or null
 * when it is right as it is. Kafka's rules: a leader that is gone or stopping gives way to
 * the first in-sync replica that serves (preferred order); brokers that are gone or stopping
 * leave the ISR, which never empties, so the last in-sync replica can come back as leader;
 * with no in-sync replica left the partition has no leader, unless `unclean` allows any
 * serving replica, which may lose what only the others had.
 */
export function electOnBrokerChange(state: PartitionImage, image: MetadataImage, unclean: boolean): { next: PartitionImage; unclean: boolean } | null {
  const up = serving(image);
  const isr = state.isr.filter((id) => up.has(id));
  const keepIsr = isr.length > 0 ? isr : state.isr;
  if (state.leader !== NO_LEADER && up.has(state.leader)) {
    return sameIds(keepIsr, state.isr) ? null : { next: { ...state, isr: keepIsr }, unclean: false };
  }
  // A stopping leader with nobody in sync to take over keeps leading until it goes.
  if (state.leader !== NO_LEADER && image.isAlive(state.leader) && isr.length === 0) return null;
  const candidate = state.replicas.find((id) => isr.includes(id));
  if (candidate !== undefined) return { next: withLeader(state, candidate, isr), unclean: false };
  if (unclean) {
    const any = state.replicas.find((id) => up.has(id));
    if (any !== undefined) return { next: withLeader(state, any, [any]), unclean: true };
  }
  if (state.leader === NO_LEADER) return null;
  return { next: { ...state, leader: NO_LEADER, isr: state.isr, leaderEpoch: state.leaderEpoch + 1 }, unclean: false };
}

/** Leadership back to the preferred replica (the first assigned) when it is in sync and serving; null when it leads or cannot. */
export function electPreferred(state: PartitionImage, image: MetadataImage): PartitionImage | null {
  const preferred = state.replicas[0];
  if (preferred === undefined || state.leader === preferred) return null;
  if (!state.isr.includes(preferred) || !serving(image).has(preferred)) return null;
  return withLeader(state, preferred, state.isr);
}

/**
 * A reassignment whose new replicas have all joined the ISR finishes: the replicas become the
 * target, the leaving ones leave the ISR, and a leaving leader hands over. Null while it waits.
 */
export function completeReassignment(state: PartitionImage, image: MetadataImage): PartitionImage | null {
  if (state.adding.length === 0 && state.removing.length === 0) return null;
  if (!state.adding.every((id) => state.isr.includes(id))) return null;
  const replicas = state.replicas.filter((id) => !state.removing.includes(id));
  const isr = state.isr.filter((id) => replicas.includes(id));
  const done = { ...state, replicas, isr, adding: [], removing: [] };
  if (replicas.includes(state.leader)) return done;
  const up = serving(image);
  const leader = replicas.find((id) => isr.includes(id) && up.has(id)) ?? NO_LEADER;
  return withLeader(done, leader, isr);
}

/**
 * The state that starts moving a partition to `target` (Kafka's AlterPartitionReassignments):
 * the replicas are the target followed by those leaving, which stay until the new ones are in
 * sync. Cancelling (`target` null) goes back to the original replicas.
 */
export function startReassignment(state: PartitionImage, target: number[] | null): PartitionImage {
  const original = state.replicas.filter((id) => !state.adding.includes(id));
  const goal = target ?? original;
  const adding = goal.filter((id) => !original.includes(id));
  const removing = original.filter((id) => !goal.includes(id));
  const replicas = [...goal, ...removing];
  const isr = state.isr.filter((id) => replicas.includes(id));
  const next = { ...state, replicas, isr, adding, removing };
  if (adding.length === 0 && removing.length === 0) return { ...next, replicas: goal };
  return next;
}

/** The replicas a reassignment is moving to, while it lasts. */
export function reassignmentTarget(state: PartitionImage): number[] | null {
  if (state.adding.length === 0 && state.removing.length === 0) return null;
  return state.replicas.filter((id) => !state.removing.includes(id));
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
