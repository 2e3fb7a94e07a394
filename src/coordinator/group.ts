import type { JoinGroupResponse } from '../protocol/generated/messages/join-group-response.js';
import type { SyncGroupResponse } from '../protocol/generated/messages/sync-group-response.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface Protocol {
  name: string;
  metadata: Buffer;
}

/** A member of a classic (JoinGroup/SyncGroup) group. */
export class Member {
  assignment: Buffer = Buffer.alloc(0);
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  awaitingJoin: ((res: JoinGroupResponse) => void) | null = null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  awaitingSync: ((res: SyncGroupResponse) => void) | null = null;
  sessionTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly memberId: string,
    public groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    public protocolType: string,
    public protocols: Protocol[],
  ) {}

  metadataFor(protocol: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? Buffer.alloc(0);
  }

  /** Whether these are the protocols, in order, that the member already has. */
  sameProtocols(protocols: Protocol[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every((p, i) => p.name === this.protocols[i].name && p.metadata.equals(this.protocols[i].metadata))
    );
  }
}

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Set by OffsetCommit v2-4's retention time: the offset expires then, not offsets.retention.minutes after the group empties. -1: not set. */
  expireTimestamp: number;
}

/** One consumer group: its members, generation, and committed offsets. */
export class Group {
  state: GroupState = 'Empty';
  /** When the state last changed: offsets of an empty group expire from here. */
  stateTimestamp = Date.now();
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry timers. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  /** group.instance.id -> member id, for static members. */
  readonly staticMembers = new Map<string, string>();
  /** Committed offsets by `topic\0partition`. */
  readonly offsets = new Map<string, CommittedOffset & { topic: string; partition: number }>();
  /**
   * Offsets committed inside transactions not ended yet (TxnOffsetCommit), by producer id: they
   * become committed offsets when the transaction commits, and go when it aborts.
   */
  readonly pendingTxnOffsets = new Map<bigint, Map<string, CommittedOffset & { topic: string; partition: number }>>();
  rebalanceTimer: NodeJS.Timeout | null = null;

  constructor(readonly groupId: string) {}

  transition(state: GroupState): void {
    this.state = state;
    this.stateTimestamp = Date.now();
  }

  get isEmpty(): boolean {
    return this.members.size === 0;
  }

  /** Protocols every member supports, the one most members prefer first (Kafka's vote). */
  selectProtocol(): string | null {
    const members = [...this.members.values()];
    if (members.length === 0) return null;
    const candidates = members[0].protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    if (candidates.length === 0) return null;
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (const m of members) {
      const pick = m.protocols.find((p) => votes.has(p.name))!;
      votes.set(pick.name, votes.get(pick.name)! + 1);
    }
    return candidates.reduce((best, c) => (votes.get(c)! > votes.get(best)! ? c : best));
  }

  /** Whether a joining member's protocols can live with the group's. */
  supportsProtocols(protocolType: string, protocols: Protocol[]): boolean {
    if (this.isEmpty) return protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const common = new Set(protocols.map((p) => p.name));
    return [...this.members.values()].every((m) => m.protocols.some((p) => common.has(p.name)));
  }

  allMembersJoined(): boolean {
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return this.pendingMembers.size === 0;
  }

  maxRebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  offsetKey(topic: string, partition: number): string {
    return `${topic}\0${partition}`;
  }
}
