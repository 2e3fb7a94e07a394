import { INITIAL_EPOCH, nextEpoch, NO_SESSION } from '../protocol/fetch-session-epochs.js';
import type { FetchRequestFetchPartition, FetchRequestFetchTopic, FetchRequestForgottenTopic } from '../protocol/generated/messages/fetch-request.js';

/** The session fields and partitions of the next fetch. */
export interface SessionRequest {
  sessionId: number;
  sessionEpoch: number;
  topics: FetchRequestFetchTopic[];
  forgottenTopicsData: FetchRequestForgottenTopic[];
}

interface Held {
  topic: string;
  topicId: string;
  wanted: FetchRequestFetchPartition;
}

const keyOf = (topic: string, topicId: string, partition: number): string => `${topic}\0${topicId}\0${partition}`;

function sameAsHeld(a: FetchRequestFetchPartition, b: FetchRequestFetchPartition): boolean {
  return (
    a.fetchOffset === b.fetchOffset &&
    a.currentLeaderEpoch === b.currentLeaderEpoch &&
    a.lastFetchedEpoch === b.lastFetchedEpoch &&
    a.logStartOffset === b.logStartOffset &&
    a.partitionMaxBytes === b.partitionMaxBytes
  );
}

/**
 * A fetcher's side of a KIP-227 fetch session with one broker: what the broker holds for it,
 * and so what the next fetch must name. The first fetch names every partition at epoch 0; once
 * the broker answers with a session id, each fetch names only the partitions whose position
 * changed, forgets those no longer wanted, and carries the next epoch. After an error the next
 * fetch is full again at epoch 0, which closes the old session and opens another.
 */
export class FetchSessionState {
  private id = NO_SESSION;
  private epoch = INITIAL_EPOCH;
  private held = new Map<string, Held>();
  /** What the fetch in flight asked for: what the broker holds once it answers. */
  private asked: Map<string, Held> | null = null;
  private askedEpoch = 0;

  /** The session fields and partitions of a fetch that wants `topics`. */
  next(topics: readonly FetchRequestFetchTopic[]): SessionRequest {
    const wanted = new Map<string, Held>();
    for (const t of topics) for (const p of t.partitions) wanted.set(keyOf(t.topic, t.topicId, p.partition), { topic: t.topic, topicId: t.topicId, wanted: p });
    this.asked = wanted;
    this.askedEpoch = this.epoch;
    if (this.epoch === INITIAL_EPOCH) return { sessionId: this.id, sessionEpoch: INITIAL_EPOCH, topics: [...topics], forgottenTopicsData: [] };
    const changed = new Map<string, FetchRequestFetchTopic>();
    for (const [key, w] of wanted) {
      const before = this.held.get(key);
      if (before && sameAsHeld(before.wanted, w.wanted)) continue;
      const topicKey = `${w.topic}\0${w.topicId}`;
      let t = changed.get(topicKey);
      if (!t) changed.set(topicKey, (t = { topic: w.topic, topicId: w.topicId, partitions: [] }));
      t.partitions.push(w.wanted);
    }
    const forgotten = new Map<string, FetchRequestForgottenTopic>();
    for (const [key, h] of this.held) {
      if (wanted.has(key)) continue;
      const topicKey = `${h.topic}\0${h.topicId}`;
      let f = forgotten.get(topicKey);
      if (!f) forgotten.set(topicKey, (f = { topic: h.topic, topicId: h.topicId, partitions: [] }));
      f.partitions.push(h.wanted.partition);
    }
    return { sessionId: this.id, sessionEpoch: this.epoch, topics: [...changed.values()], forgottenTopicsData: [...forgotten.values()] };
  }

  /** The broker answered the last fetch without a top-level error, with this session id. */
  answered(sessionId: number): void {
    if (sessionId === NO_SESSION || this.asked === null) {
      // No session (no slot free, or none offered): the next fetch asks again, in full.
      this.id = NO_SESSION;
      this.epoch = INITIAL_EPOCH;
      this.held.clear();
    } else {
      this.id = sessionId;
      this.epoch = nextEpoch(this.askedEpoch);
      this.held = this.asked;
    }
    this.asked = null;
  }

  /** The last fetch failed (an error, a lost connection): the next one is full. */
  reset(): void {
    this.epoch = INITIAL_EPOCH;
    this.held.clear();
    this.asked = null;
  }
}
