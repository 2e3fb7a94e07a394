/**
 * KIP-848 server-side assignors: the coordinator computes each member's target assignment.
 * Both are deterministic, so a coordinator that reloads a group computes the same target.
 */

/** A topic a member may be assigned: its id and partition count. */
export interface AssignableTopic {
  id: string;
  name: string;
  partitions: number;
}

export interface AssignorMember {
  memberId: string;
  instanceId: string | null;
  /** Ids of the topics the member subscribes to (names and regex resolved). */
  topics: Set<string>;
  /** What the member owns or is being given now: stickiness starts from it. */
  current: Map<string, Set<number>>;
}

/** memberId -> topicId -> partitions. */
export type TargetAssignment = Map<string, Map<string, Set<number>>>;

export interface Assignor {
  readonly name: string;
  assign(members: AssignorMember[], topics: Map<string, AssignableTopic>): TargetAssignment;
}

function empty(members: AssignorMember[]): TargetAssignment {
  return new Map(members.map((m) => [m.memberId, new Map<string, Set<number>>()]));
}

function add(target: TargetAssignment, memberId: string, topicId: string, partition: number): void {
  const byTopic = target.get(memberId)!;
  let set = byTopic.get(topicId);
  if (!set) byTopic.set(topicId, (set = new Set()));
  set.add(partition);
}

/** Members in a stable order: static members by instance id first, then by member id. */
function ordered(members: AssignorMember[]): AssignorMember[] {
  return [...members].sort((a, b) => {
    const ka = a.instanceId ?? `\uffff${a.memberId}`;
    const kb = b.instanceId ?? `\uffff${b.memberId}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/**
 * Kafka's `uniform` assignor (KIP-848's default): every subscribed partition to one member,
 * counts as even as the subscriptions allow, and partitions stay with their current owner
 * while that owner is under its quota (so a rebalance moves as few partitions as it can).
 */
export const uniformAssignor: Assignor = {
  name: 'uniform',
  assign(members, topics) {
    const target = empty(members);
    if (members.length === 0) return target;
    const sorted = ordered(members);
    const all: { topicId: string; partition: number }[] = [];
    for (const t of [...topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (!sorted.some((m) => m.topics.has(t.id))) continue;
      for (let p = 0; p < t.partitions; p++) all.push({ topicId: t.id, partition: p });
    }
    const minQuota = Math.floor(all.length / sorted.length);
    let extras = all.length % sorted.length;
    const counts = new Map(sorted.map((m) => [m.memberId, 0]));
    const taken = new Set<string>();
    const key = (topicId: string, p: number): string => `${topicId}:${p}`;
    // Stickiness: each member keeps up to its quota of what it has, one more while extras last.
    for (const m of sorted) {
      const keep: { topicId: string; partition: number }[] = [];
      for (const [topicId, parts] of m.current) {
        if (!m.topics.has(topicId) || !topics.has(topicId)) continue;
        for (const p of [...parts].sort((a, b) => a - b)) if (p < topics.get(topicId)!.partitions && !taken.has(key(topicId, p))) keep.push({ topicId, partition: p });
      }
      let quota = minQuota;
      if (keep.length > minQuota && extras > 0) {
        quota++;
        extras--;
      }
      for (const tp of keep.slice(0, quota)) {
        add(target, m.memberId, tp.topicId, tp.partition);
        taken.add(key(tp.topicId, tp.partition));
        counts.set(m.memberId, counts.get(m.memberId)! + 1);
      }
    }
    // The rest to the subscribed member with the fewest partitions.
    for (const tp of all) {
      if (taken.has(key(tp.topicId, tp.partition))) continue;
      let best: AssignorMember | null = null;
      for (const m of sorted) {
        if (!m.topics.has(tp.topicId)) continue;
        if (best === null || counts.get(m.memberId)! < counts.get(best.memberId)!) best = m;
      }
      if (best === null) continue;
      add(target, best.memberId, tp.topicId, tp.partition);
      taken.add(key(tp.topicId, tp.partition));
      counts.set(best.memberId, counts.get(best.memberId)! + 1);
    }
    return target;
  },
};

/**
 * Kafka's `range` assignor: per topic, its subscribers in a stable order each get a contiguous
 * range of partitions (the first ones one more when they do not divide evenly), so members
 * subscribed to co-partitioned topics get the same partition numbers of each.
 */
export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, topics) {
    const target = empty(members);
    const sorted = ordered(members);
    for (const t of topics.values()) {
      const subscribers = sorted.filter((m) => m.topics.has(t.id));
      if (subscribers.length === 0) continue;
      const per = Math.floor(t.partitions / subscribers.length);
      const extra = t.partitions % subscribers.length;
      let next = 0;
      subscribers.forEach((m, i) => {
        const n = per + (i < extra ? 1 : 0);
        for (let k = 0; k < n; k++) add(target, m.memberId, t.id, next++);
      });
    }
    return target;
  },
};

/**
 * Kafka's share-group `simple` assignor (KIP-932): share-partitions take several consumers at
 * once, so every subscribed partition goes to at least one member (the uniform assignment,
 * sticky and balanced), and a member that would get nothing (more members than partitions)
 * shares the subscribed partition with the fewest members, keeping one it has when it can.
 */
export const shareSimpleAssignor: Assignor = {
  name: 'simple',
  assign(members, topics) {
    const target = uniformAssignor.assign(members, topics);
    const sharers = new Map<string, number>();
    const key = (topicId: string, p: number): string => `${topicId}:${p}`;
    for (const byTopic of target.values()) for (const [topicId, parts] of byTopic) for (const p of parts) sharers.set(key(topicId, p), (sharers.get(key(topicId, p)) ?? 0) + 1);
    for (const m of ordered(members)) {
      if (target.get(m.memberId)!.size > 0) continue;
      let best: { topicId: string; partition: number; n: number; kept: boolean } | null = null;
      for (const topicId of [...m.topics].sort()) {
        const t = topics.get(topicId);
        if (!t) continue;
        for (let p = 0; p < t.partitions; p++) {
          const n = sharers.get(key(topicId, p)) ?? 0;
          const kept = m.current.get(topicId)?.has(p) ?? false;
          if (best === null || n < best.n || (n === best.n && kept && !best.kept)) best = { topicId, partition: p, n, kept };
        }
      }
      if (best === null) continue;
      add(target, m.memberId, best.topicId, best.partition);
      sharers.set(key(best.topicId, best.partition), best.n + 1);
    }
    return target;
  },
};

const BY_NAME = new Map<string, Assignor>([
  ['uniform', uniformAssignor],
  ['range', rangeAssignor],
  ['org.apache.kafka.coordinator.group.assignor.UniformAssignor', uniformAssignor],
  ['org.apache.kafka.coordinator.group.assignor.RangeAssignor', rangeAssignor],
  ['org.apache.kafka.coordinator.group.api.assignor.UniformAssignor', uniformAssignor],
  ['org.apache.kafka.coordinator.group.api.assignor.RangeAssignor', rangeAssignor],
]);

/** The assignors of `group.consumer.assignors`, by short name or Kafka class name; unknown names throw. */
export function assignorsFromConfig(names: string[]): Assignor[] {
  return names.map((n) => {
    const a = BY_NAME.get(n.trim());
    if (!a) throw new Error(`group.consumer.assignors: unknown assignor "${n}" (uniform and range are served)`);
    return a;
  });
}
