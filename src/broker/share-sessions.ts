import { ErrorCode } from '../protocol/generated/errors.js';

/** A share session's partitions, as `topicId:partition`. */
export function sharePartitionKey(topicId: string, partition: number): string {
  return `${topicId}:${partition}`;
}

export interface ShareSession {
  groupId: string;
  memberId: string;
  /** The epoch of the last request; the next must carry one more. */
  epoch: number;
  partitions: Map<string, { topicId: string; partition: number }>;
  lastUsed: number;
}

/**
 * KIP-932's share sessions: a consumer opens one with epoch 0 and the partitions it wants, then
 * each request carries the next epoch and only the changes (partitions added, forgotten);
 * epoch -1 closes it. One session per member of a group.
 */
export class ShareSessions {
  private readonly sessions = new Map<string, ShareSession>();

  private static key(groupId: string, memberId: string): string {
    return `${groupId}\0${memberId}`;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The session a request with `epoch` continues (or opens, at 0), or the error that answers it. */
  resolve(groupId: string, memberId: string, epoch: number, now: number): { session: ShareSession; opened: ShareSession | null; replaced: ShareSession | null } | number {
    const key = ShareSessions.key(groupId, memberId);
    const existing = this.sessions.get(key);
    if (epoch === 0) {
      const session: ShareSession = { groupId, memberId, epoch: 0, partitions: new Map(), lastUsed: now };
      this.sessions.set(key, session);
      return { session, opened: session, replaced: existing ?? null };
    }
    if (!existing) return ErrorCode.SHARE_SESSION_NOT_FOUND;
    if (epoch === -1) {
      this.sessions.delete(key);
      return { session: existing, opened: null, replaced: null };
    }
    if (epoch !== existing.epoch + 1) return ErrorCode.INVALID_SHARE_SESSION_EPOCH;
    existing.epoch = epoch;
    existing.lastUsed = now;
    return { session: existing, opened: null, replaced: null };
  }

  /** A member gone from its group: its session goes with it. */
  drop(groupId: string, memberId: string): ShareSession | undefined {
    const key = ShareSessions.key(groupId, memberId);
    const s = this.sessions.get(key);
    this.sessions.delete(key);
    return s;
  }

  all(): ShareSession[] {
    return [...this.sessions.values()];
  }
}
