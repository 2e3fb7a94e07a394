import { randomInt } from 'node:crypto';
import { log } from '../log.js';
import { FINAL_EPOCH, INITIAL_EPOCH, nextEpoch, NO_SESSION } from '../protocol/fetch-session-epochs.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { FetchRequest, FetchRequestFetchPartition, FetchRequestFetchTopic } from '../protocol/generated/messages/fetch-request.js';
import type { FetchResponse, FetchResponsePartitionData } from '../protocol/generated/messages/fetch-response.js';

/** Kafka's min.incremental.fetch.session.eviction.ms: a session unused this long may give its slot to a new one. */
export const SESSION_STALE_MS = 120_000;
/** Kafka's "no preferred read replica". */
export const NO_REPLICA = -1;

/** A partition in a session: the fetcher's last word on it, and what the last answer told it. */
export interface SessionPartition {
  topic: string;
  topicId: string;
  wanted: FetchRequestFetchPartition;
  /** -1 after an error, so that the partition is sent again once the error clears. */
  highWatermark: bigint;
  logStartOffset: bigint;
}

export interface FetchSession {
  readonly id: number;
  /** The epoch the next incremental fetch must carry. */
  epoch: number;
  /** Fetch v13 and later name topics by id; a session keeps to the way it was opened. */
  readonly usesTopicIds: boolean;
  /** Followers' sessions are kept before consumers' when the cache is full. */
  readonly follower: boolean;
  /** In the order answers go through them; a partition that was answered moves to the end. */
  readonly partitions: Map<string, SessionPartition>;
  lastUsed: number;
}

/**
 * What a fetch request reads and how its answer is made:
 * - sessionless: the request's partitions, answered in full, no session (KIP-227's epoch -1, or
 *   no slot free);
 * - full: the request's partitions, answered in full, and a session opened on them if a slot is
 *   free;
 * - incremental: every partition of the session, answered with those that changed;
 * - error: the session named is unknown or out of step.
 */
export type FetchContext =
  | { kind: 'sessionless' | 'full'; topics: readonly FetchRequestFetchTopic[] }
  | { kind: 'incremental'; session: FetchSession; topics: FetchRequestFetchTopic[]; entries: SessionPartition[][] }
  | { kind: 'error'; errorCode: number };

function partitionKey(topic: string, topicId: string, partition: number, usesTopicIds: boolean): string {
  return `${usesTopicIds ? topicId : topic}:${partition}`;
}

/**
 * Whether an incremental answer carries this partition (KIP-227): records, an error, a
 * preferred replica, or a high watermark or log start the fetcher has not been told of. Records
 * what the fetcher now knows.
 */
function mustRespond(cached: SessionPartition, data: FetchResponsePartitionData): boolean {
  let respond = (data.records?.byteLength ?? 0) > 0 || data.preferredReadReplica !== NO_REPLICA;
  if (cached.highWatermark !== data.highWatermark || cached.logStartOffset !== data.logStartOffset) {
    cached.highWatermark = data.highWatermark;
    cached.logStartOffset = data.logStartOffset;
    respond = true;
  }
  if (data.errorCode !== ErrorCode.NONE) {
    cached.highWatermark = -1n;
    respond = true;
  }
  return respond;
}

/**
 * KIP-227's incremental fetch sessions. A fetcher opens one with a full fetch at epoch 0; then
 * each fetch carries the next epoch and only the partitions whose position changed (or that it
 * stops wanting), and each answer carries only the partitions with something new. A fetcher of
 * a hundred partitions then sends and gets a few of them per round instead of all. The cache
 * holds `slots` sessions (max.incremental.fetch.session.cache.slots); when it is full, a new
 * session takes the slot of one unused for two minutes, else of one worth less (a consumer's
 * before a follower's, then fewer partitions), else goes without. Sessions hold at most
 * `maxPartitions` partitions between them (sluice.fetch.session.cache.max.partitions), since
 * a fetch may name any number: one that would take more goes without a session.
 */
export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private cachedPartitions = 0;
  /** Sessions pushed out to make room, since start. */
  evictions = 0;
  /** Fetches since start, by how their session fields were resolved. */
  readonly requests: Record<FetchContext['kind'], number> = { sessionless: 0, full: 0, incremental: 0, error: 0 };

  /** Whether the last session refused for want of room was logged (once until one fits again). */
  private refusalLogged = false;

  constructor(
    private readonly slots: number,
    private readonly maxPartitions: number,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Partitions held across all sessions. */
  get partitionCount(): number {
    return this.cachedPartitions;
  }

  get(id: number): FetchSession | undefined {
    return this.sessions.get(id);
  }

  /** Resolves a request's session fields into what it reads (KIP-227's rules, as Kafka applies them). */
  context(req: FetchRequest, usesTopicIds: boolean, now: number): FetchContext {
    const context = this.resolve(req, usesTopicIds, now);
    this.requests[context.kind]++;
    return context;
  }

  private resolve(req: FetchRequest, usesTopicIds: boolean, now: number): FetchContext {
    if (req.sessionEpoch === INITIAL_EPOCH || req.sessionEpoch === FINAL_EPOCH) {
      // A full fetch closes the session it names.
      if (req.sessionId !== NO_SESSION) this.remove(req.sessionId);
      return { kind: req.sessionEpoch === FINAL_EPOCH ? 'sessionless' : 'full', topics: req.topics };
    }
    const session = this.sessions.get(req.sessionId);
    if (!session) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    if (session.epoch !== req.sessionEpoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    if (session.usesTopicIds !== usesTopicIds) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR };
    if (!this.update(session, req)) {
      // Past the cache's partition limit: the fetcher starts over, and its full fetch goes without a session.
      this.remove(session.id);
      this.refused(session.partitions.size);
      return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    }
    if (session.partitions.size === 0) {
      this.remove(session.id);
      return { kind: 'sessionless', topics: req.topics };
    }
    session.epoch = nextEpoch(session.epoch);
    session.lastUsed = now;
    return { kind: 'incremental', session, ...sessionTopics(session) };
  }

  /**
   * After a full fetch's answer: opens a session on its partitions if a slot can be had, and
   * returns its id (NO_SESSION if none).
   */
  open(topics: readonly FetchRequestFetchTopic[], response: FetchResponse, usesTopicIds: boolean, follower: boolean, now: number): number {
    let size = 0;
    for (const t of topics) size += t.partitions.length;
    if (this.cachedPartitions + size > this.maxPartitions) {
      this.refused(size);
      return NO_SESSION;
    }
    if (!this.makeRoom(size, follower, now)) return NO_SESSION;
    this.refusalLogged = false;
    let id: number;
    do id = randomInt(1, 0x7fffffff);
    while (this.sessions.has(id));
    const session: FetchSession = { id, epoch: nextEpoch(INITIAL_EPOCH), usesTopicIds, follower, partitions: new Map(), lastUsed: now };
    topics.forEach((t, i) => {
      t.partitions.forEach((wanted, j) => {
        const cached: SessionPartition = { topic: t.topic, topicId: t.topicId, wanted, highWatermark: -1n, logStartOffset: -1n };
        mustRespond(cached, response.responses[i].partitions[j]);
        session.partitions.set(partitionKey(t.topic, t.topicId, wanted.partition, usesTopicIds), cached);
      });
    });
    this.sessions.set(id, session);
    this.cachedPartitions += session.partitions.size;
    return id;
  }

  /**
   * An incremental answer keeps only the partitions with something new (`build` made one entry
   * per session partition, in `entries`' order); those move to the end of the session, so that
   * when max_bytes runs out the same partitions do not always come first.
   */
  trim(context: Extract<FetchContext, { kind: 'incremental' }>, response: FetchResponse): void {
    const answered: string[] = [];
    response.responses = response.responses.filter((t, i) => {
      t.partitions = t.partitions.filter((data, j) => {
        const cached = context.entries[i][j];
        if (!mustRespond(cached, data)) return false;
        answered.push(partitionKey(cached.topic, cached.topicId, cached.wanted.partition, context.session.usesTopicIds));
        return true;
      });
      return t.partitions.length > 0;
    });
    const partitions = context.session.partitions;
    for (const key of answered) {
      const cached = partitions.get(key);
      if (cached === undefined) continue;
      partitions.delete(key);
      partitions.set(key, cached);
    }
  }

  /** Applies a request's changes to its session; false if that would hold too many partitions. */
  private update(session: FetchSession, req: FetchRequest): boolean {
    const partitions = session.partitions;
    const before = partitions.size;
    let named = 0;
    for (const t of req.topics) named += t.partitions.length;
    if (this.cachedPartitions + named > this.maxPartitions) return false;
    for (const t of req.topics) {
      for (const wanted of t.partitions) {
        const key = partitionKey(t.topic, t.topicId, wanted.partition, session.usesTopicIds);
        const cached = partitions.get(key);
        if (cached) cached.wanted = wanted;
        else partitions.set(key, { topic: t.topic, topicId: t.topicId, wanted, highWatermark: -1n, logStartOffset: -1n });
      }
    }
    for (const f of req.forgottenTopicsData) {
      for (const partition of f.partitions) partitions.delete(partitionKey(f.topic, f.topicId, partition, session.usesTopicIds));
    }
    this.cachedPartitions += partitions.size - before;
    return true;
  }

  private refused(size: number): void {
    if (this.refusalLogged) return;
    this.refusalLogged = true;
    log.warn({ partitions: size, cached: this.cachedPartitions, limit: this.maxPartitions }, 'fetch sessions are at sluice.fetch.session.cache.max.partitions: this fetcher goes without one (answered in full)');
  }

  private remove(id: number): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.cachedPartitions -= session.partitions.size;
  }

  /** Frees a slot for a new session of `size` partitions if the cache is full and one may go. */
  private makeRoom(size: number, follower: boolean, now: number): boolean {
    if (this.sessions.size < this.slots) return true;
    let victim: FetchSession | undefined;
    for (const s of this.sessions.values()) {
      if (now - s.lastUsed >= SESSION_STALE_MS) {
        victim = s;
        break;
      }
      if (victim === undefined || worth(s) < worth(victim)) victim = s;
    }
    if (victim === undefined) return false;
    const stale = now - victim.lastUsed >= SESSION_STALE_MS;
    if (!stale && worth(victim) >= worth({ follower, partitions: { size } })) return false;
    this.remove(victim.id);
    this.evictions++;
    return true;
  }
}

/** Followers' sessions outrank consumers'; then the bigger session, which saves more per round. */
function worth(s: { follower: boolean; partitions: { size: number } }): number {
  return (s.follower ? 2 ** 32 : 0) + s.partitions.size;
}

/** The session's partitions as request topics, grouped by topic in session order. */
function sessionTopics(session: FetchSession): { topics: FetchRequestFetchTopic[]; entries: SessionPartition[][] } {
  const byTopic = new Map<string, number>();
  const topics: FetchRequestFetchTopic[] = [];
  const entries: SessionPartition[][] = [];
  for (const cached of session.partitions.values()) {
    const key = session.usesTopicIds ? cached.topicId : cached.topic;
    let i = byTopic.get(key);
    if (i === undefined) {
      i = topics.length;
      byTopic.set(key, i);
      topics.push({ topic: cached.topic, topicId: cached.topicId, partitions: [] });
      entries.push([]);
    }
    topics[i].partitions.push(cached.wanted);
    entries[i].push(cached);
  }
  return { topics, entries };
}
