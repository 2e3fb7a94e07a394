import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { FetchRequestFetchPartition, FetchRequest, FetchRequestFetchTopic } from '../../protocol/generated/messages/fetch-request.js';
import {
  createFetchResponse,
  createFetchResponseEpochEndOffset,
  createFetchResponseLeaderIdAndEpoch,
  createFetchResponseSnapshotId,
  type FetchResponse,
  type FetchResponseAbortedTransaction,
  type FetchResponsePartitionData,
} from '../../protocol/generated/messages/fetch-response.js';
import { StorageError } from '../../storage/storage-error.js';
import type { BrokerContext } from '../broker-context.js';
import type { Partition } from '../../replication/partition.js';
import { ANSWER_NOW, waitForFetchable, WatchedPartition, type FetchWait } from '../../replication/fetch-waiters.js';
import { currentLeader } from '../cluster-view.js';
import { NO_SESSION } from '../../protocol/fetch-session-epochs.js';
import { NO_REPLICA, type FetchContext, type FetchSessionCache } from '../fetch-sessions.js';
import { handler, type RequestContext } from '../router.js';

const READ_COMMITTED = 1;
const NO_RECORDS = Buffer.alloc(0);
/*
 * The defaults of a partition's answer, shared by every answer: the encoder only reads them, and
 * an answer with its own (a current leader) gets a new object. A fetch of a hundred partitions
 * made five objects per partition here that nothing used, twice when it parked.
 */
const NO_DIVERGING_EPOCH = Object.freeze(createFetchResponseEpochEndOffset());
const NO_LEADER = Object.freeze(createFetchResponseLeaderIdAndEpoch());
const NO_SNAPSHOT = Object.freeze(createFetchResponseSnapshotId());
const NO_ABORTED: FetchResponseAbortedTransaction[] = Object.freeze([]) as unknown as FetchResponseAbortedTransaction[];

function partitionData(partitionIndex: number, readCommitted: boolean): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode: ErrorCode.NONE,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    divergingEpoch: NO_DIVERGING_EPOCH,
    currentLeader: NO_LEADER,
    snapshotId: NO_SNAPSHOT,
    abortedTransactions: readCommitted ? NO_ABORTED : null,
    preferredReadReplica: NO_REPLICA,
    records: NO_RECORDS,
  };
}

/** A partition a parked fetch watches, with what looking at it again takes. */
class FetchedPartition extends WatchedPartition {
  constructor(
    partition: Partition,
    readonly name: string | null,
    readonly wanted: FetchRequestFetchPartition,
    readonly fetchOffset: number,
  ) {
    super(partition);
  }
}

interface Built {
  response: FetchResponse;
  bytes: number;
  /** An error, or a replica to read from instead: no waiting. */
  answerNow: boolean;
  watched: FetchedPartition[];
}

/** Who fetches: a consumer (-1), or a follower by its broker id. */
export function fetcherOf(req: FetchRequest, version: number): number {
  return version >= 15 ? req.replicaState.replicaId : req.replicaId;
}

/**
 * KIP-320's fencing: a fetcher that knows a newer leader epoch than this replica is ahead of
 * it (UNKNOWN_LEADER_EPOCH), one that knows an older one is behind (FENCED_LEADER_EPOCH).
 */
function epochError(p: Partition, currentLeaderEpoch: number): number {
  if (currentLeaderEpoch < 0 || currentLeaderEpoch === p.leaderEpoch) return ErrorCode.NONE;
  return currentLeaderEpoch > p.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
}

/**
 * KIP-392's rack-aware selector: a consumer in another rack than the leader reads from an
 * in-sync follower in its own rack, when there is one.
 */
function preferredReadReplica(ctx: BrokerContext, p: Partition, rackId: string): number {
  if (rackId === '' || !p.isLeader || ctx.config.brokerRack === rackId) return NO_REPLICA;
  const local = p.isr.find((id) => id !== ctx.config.nodeId && ctx.metadata.brokers.get(id)?.rack === rackId);
  return local ?? NO_REPLICA;
}

/** Whether a fetch may read a topic (ACLs), asked of the session partitions its request does not name. */
export type FetchAuthorizer = (connection: RequestContext['connection'], topic: string, follower: boolean) => boolean;

/** The replica a requested partition is served from, or the error code to answer with. */
function servingPartition(ctx: BrokerContext, name: string | null, wanted: FetchRequestFetchPartition, replicaId: number): Partition | number {
  const p = name === null ? ErrorCode.UNKNOWN_TOPIC_ID : ctx.partitions.lookup(name, wanted.partition);
  if (typeof p === 'number') return p;
  // Followers fetch from the leader only; consumers from the leader or a following replica.
  if (p.role === 'offline' || (replicaId >= 0 && !p.isLeader)) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  return epochError(p, wanted.currentLeaderEpoch) || p;
}

/** A requested topic's name: by its id from v13 (null when the id is unknown), else as named. */
function topicNameOf(ctx: BrokerContext, t: FetchRequestFetchTopic, version: number): string | null {
  return version >= 13 ? (ctx.metadata.topicById(t.topicId)?.name ?? null) : t.topic;
}

/** Whether the fetcher reads only what is committed: a read_committed consumer (followers copy everything). */
function readsCommittedOnly(req: FetchRequest, replicaId: number): boolean {
  return replicaId < 0 && req.isolationLevel === READ_COMMITTED;
}

/**
 * How far a fetcher reads: a follower copies everything; a consumer reads what is committed,
 * and read_committed only what no open transaction may still abort.
 */
function readLimit(p: Partition, replicaId: number, committedOnly: boolean): number {
  return replicaId >= 0 ? p.log.logEndOffset : committedOnly ? p.lastStableOffset(true) : p.highWatermark;
}

/**
 * The partitions a fetch would park on, when none has anything to answer with: each is served
 * here, readable, has no preferred replica elsewhere and nothing past the fetch offset. Null as
 * soon as one has records or an error, which `build` then answers. A fetch that parks (most of a
 * long-polling consumer's) so makes no answer only to throw it away; the check reads no log.
 */
function parkable(
  ctx: BrokerContext,
  req: FetchRequest,
  version: number,
  replicaId: number,
  topics: readonly FetchRequestFetchTopic[],
  readable: (topic: string) => boolean,
): FetchedPartition[] | null {
  const committedOnly = readsCommittedOnly(req, replicaId);
  const watched: FetchedPartition[] = [];
  for (const t of topics) {
    const name = topicNameOf(ctx, t, version);
    if (name === null || !readable(name)) return null;
    for (const wanted of t.partitions) {
      const p = servingPartition(ctx, name, wanted, replicaId);
      if (typeof p === 'number') return null;
      const fetchOffset = Number(wanted.fetchOffset);
      // Past the log's end or before its start is OFFSET_OUT_OF_RANGE, answered now.
      if (readLimit(p, replicaId, committedOnly) > fetchOffset || fetchOffset > p.log.logEndOffset || fetchOffset < p.log.logStartOffset) return null;
      if (replicaId < 0 && version >= 11 && preferredReadReplica(ctx, p, req.rackId) !== NO_REPLICA) return null;
      watched.push(new FetchedPartition(p, name, wanted, fetchOffset));
    }
  }
  // A follower's fetch offset is its progress, recorded whether it is answered or parked.
  if (replicaId >= 0) {
    const now = Date.now();
    for (const w of watched) w.partition.recordFetch(replicaId, w.fetchOffset, now);
  }
  return watched;
}

/**
 * One pass over the partitions to read (the request's, or its fetch session's): file regions
 * from each log, within partition_max_bytes and max_bytes (the first non-empty partition always
 * gets a whole batch, KIP-74). A consumer reads up to the high watermark, from the leader or (KIP-392) a follower;
 * a follower reads up to the leader's log end, and its fetch offset tells the leader how far it
 * has come. Nothing is read into memory: records are file regions. What it found in each
 * partition is what a parked fetch starts watching from.
 */
function build(ctx: BrokerContext, req: FetchRequest, version: number, replicaId: number, topics: readonly FetchRequestFetchTopic[], readable: (topic: string) => boolean): Built {
  const response = createFetchResponse();
  const now = Date.now();
  let remaining = req.maxBytes;
  let bytes = 0;
  let answerNow = false;
  const committedOnly = readsCommittedOnly(req, replicaId);
  const watched: FetchedPartition[] = [];
  for (const t of topics) {
    const name = topicNameOf(ctx, t, version);
    const out: FetchResponsePartitionData[] = [];
    response.responses.push({ topic: t.topic, topicId: t.topicId, partitions: out });
    for (const wanted of t.partitions) {
      const data = partitionData(wanted.partition, req.isolationLevel === READ_COMMITTED);
      out.push(data);
      const p = name !== null && !readable(name) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : servingPartition(ctx, name, wanted, replicaId);
      if (typeof p === 'number') {
        data.errorCode = p;
        data.highWatermark = -1n;
        data.lastStableOffset = -1n;
        data.logStartOffset = -1n;
        if (p === ErrorCode.NOT_LEADER_OR_FOLLOWER && name !== null) data.currentLeader = currentLeader(ctx, name, wanted.partition);
        answerNow = true;
        continue;
      }
      const fetchOffset = Number(wanted.fetchOffset);
      if (replicaId >= 0) p.recordFetch(replicaId, fetchOffset, now);
      const stable = p.lastStableOffset(committedOnly);
      data.highWatermark = BigInt(p.highWatermark);
      data.lastStableOffset = BigInt(stable);
      data.logStartOffset = BigInt(p.log.logStartOffset);
      if (replicaId < 0 && version >= 11) {
        data.preferredReadReplica = preferredReadReplica(ctx, p, req.rackId);
        // Kafka answers at once too: the consumer has another replica to go to.
        if (data.preferredReadReplica !== NO_REPLICA) {
          answerNow = true;
          continue;
        }
      }
      const w = new FetchedPartition(p, name, wanted, fetchOffset);
      watched.push(w);
      if (remaining <= 0 && bytes > 0) continue;
      try {
        // read_committed is also told which aborted transactions to skip.
        const upTo = readLimit(p, replicaId, committedOnly);
        const region = p.log.read(fetchOffset, Math.min(wanted.partitionMaxBytes, Math.max(remaining, 0)), upTo);
        if (region) {
          data.records = region;
          w.bytes = region.byteLength;
          bytes += region.byteLength;
          remaining -= region.byteLength;
          if (committedOnly) data.abortedTransactions = p.log.abortedTransactions(fetchOffset, upTo).map((t) => ({ producerId: t.producerId, firstOffset: BigInt(t.firstOffset) }));
        }
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        // Anything else is the log's directory failing: this partition's answer says so.
        data.errorCode = e.kind === 'offset-out-of-range' ? ErrorCode.OFFSET_OUT_OF_RANGE : ErrorCode.KAFKA_STORAGE_ERROR;
        answerNow = true;
      }
    }
  }
  return { response, bytes, answerNow, watched };
}

/**
 * What a parked fetch's partition would return now, looked at again when it moves: an error or
 * a move of its leadership answers the fetch now.
 */
function reevaluate(ctx: BrokerContext, req: FetchRequest, replicaId: number, w: FetchedPartition): number {
  const { partition: p, name, wanted, fetchOffset } = w;
  if (servingPartition(ctx, name, wanted, replicaId) !== p) return ANSWER_NOW;
  const upTo = readLimit(p, replicaId, readsCommittedOnly(req, replicaId));
  if (upTo <= fetchOffset) return 0;
  // A record past the fetch offset is a whole batch to answer with: a fetch waiting for one
  // byte (the clients' and followers' default) is done without reading how many there are.
  if (req.minBytes <= 1 && wanted.partitionMaxBytes > 0) return 1;
  try {
    return p.log.read(fetchOffset, wanted.partitionMaxBytes, upTo)?.byteLength ?? 0;
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    return ANSWER_NOW;
  }
}

/** Which topics one request's fetcher may read, each asked of the authorizer once. */
export function readableTopics(authorize: FetchAuthorizer, connection: RequestContext['connection'], follower: boolean): (topic: string) => boolean {
  const known = new Map<string, boolean>();
  return (topic) => {
    let v = known.get(topic);
    if (v === undefined) known.set(topic, (v = authorize(connection, topic, follower)));
    return v;
  };
}

function recordBytesOut(ctx: BrokerContext, res: FetchResponse): void {
  for (const t of res.responses) {
    let bytes = 0;
    for (const p of t.partitions) bytes += p.records?.byteLength ?? 0;
    ctx.metrics.recordFetch(t.topic || (ctx.metadata.topicById(t.topicId)?.name ?? ''), bytes);
  }
}

/**
 * Puts the fetch session into the answer: a full fetch opens one if it asked to and a slot is
 * free; an incremental one keeps only the partitions with something new.
 */
function answer(sessions: FetchSessionCache, context: Exclude<FetchContext, { kind: 'error' }>, res: FetchResponse, usesTopicIds: boolean, follower: boolean): void {
  if (context.kind === 'full') res.sessionId = sessions.open(context.topics, res, usesTopicIds, follower, Date.now());
  else if (context.kind === 'incremental') {
    sessions.trim(context, res);
    res.sessionId = context.session.id;
  } else res.sessionId = NO_SESSION;
}

/** A consumer's fetch without a session names only partitions its request was authorized for. */
const READS_ALL = (): boolean => true;
const ignore = (): void => {};

/**
 * One fetch being served: what answering it takes, now or when it is woken, in one object. A
 * parked fetch lives through garbage collections; closures over the same state made several
 * objects where this is one.
 */
class ServedFetch implements FetchWait<FetchedPartition> {
  readonly replicaId: number;
  readonly follower: boolean;
  readonly minBytes: number;
  readonly maxWaitMs: number;
  watched: FetchedPartition[] = [];
  signal!: AbortSignal;
  private resolve: (response: FetchResponse) => void = ignore;
  private reject: (e: unknown) => void = ignore;

  constructor(
    private readonly ctx: BrokerContext,
    private readonly sessions: FetchSessionCache,
    private readonly req: FetchRequest,
    private readonly version: number,
    private readonly context: Exclude<FetchContext, { kind: 'error' }>,
    private readonly readable: (topic: string) => boolean,
  ) {
    this.replicaId = fetcherOf(req, version);
    this.follower = this.replicaId >= 0;
    this.minBytes = req.minBytes;
    this.maxWaitMs = req.maxWaitMs;
  }

  /** The partitions to park on at once, without reading, or null (see `parkable`). */
  parkable(): FetchedPartition[] | null {
    return this.req.maxWaitMs > 0 && this.req.minBytes > 0 ? parkable(this.ctx, this.req, this.version, this.replicaId, this.context.topics, this.readable) : null;
  }

  build(): Built {
    return build(this.ctx, this.req, this.version, this.replicaId, this.context.topics, this.readable);
  }

  /** The response, with the fetch session put in and the bytes counted. */
  answer(built: Built): FetchResponse {
    answer(this.sessions, this.context, built.response, this.version >= 13, this.follower);
    recordBytesOut(this.ctx, built.response);
    return built.response;
  }

  /** Parks until the watched partitions are fetchable (or the wait ends), then answers from a new pass over them. */
  park(watched: FetchedPartition[], signal: AbortSignal): Promise<FetchResponse> {
    this.watched = watched;
    this.signal = signal;
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      waitForFetchable(this);
    });
  }

  evaluate(w: FetchedPartition): number {
    return reevaluate(this.ctx, this.req, this.replicaId, w);
  }

  fetchable(): void {
    // Thrown here it would reach no handler (this runs as a microtask): the request fails instead, and its connection closes.
    try {
      this.resolve(this.answer(this.build()));
    } catch (e) {
      this.reject(e);
    }
  }
}

/**
 * Fetch: answers at once when min_bytes are there (or on any error), else parks the request
 * until appends bring enough or max_wait_ms passes. Waiting is driven by the partitions'
 * new-data events, never by polling. From v7 a fetcher may keep a fetch session (KIP-227, see
 * fetch-sessions.ts) and then sends, and is answered with, only what changed.
 */
export function fetchHandler(ctx: BrokerContext, sessions: FetchSessionCache, authorize: FetchAuthorizer) {
  return handler(apis.Fetch, 4, 17, (req: FetchRequest, { version, connection }) => {
    const usesTopicIds = version >= 13;
    const follower = fetcherOf(req, version) >= 0;
    const context = sessions.context(req, usesTopicIds, Date.now());
    if (context.kind === 'error') {
      const res = createFetchResponse();
      res.errorCode = context.errorCode;
      return res;
    }
    // The request's own partitions were authorized before it got here; a session's others are on every fetch.
    const readable = context.kind === 'incremental' ? readableTopics(authorize, connection, follower) : READS_ALL;
    const fetch = new ServedFetch(ctx, sessions, req, version, context, readable);
    const waitsAtOnce = fetch.parkable();
    if (waitsAtOnce !== null && waitsAtOnce.length > 0) return fetch.park(waitsAtOnce, connection.endedSignal);
    const built = fetch.build();
    if (built.answerNow || built.bytes >= req.minBytes || req.maxWaitMs <= 0 || built.watched.length === 0) return fetch.answer(built);
    return fetch.park(built.watched, connection.endedSignal);
  });
}
