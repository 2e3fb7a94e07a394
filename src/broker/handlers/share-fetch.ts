import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { ShareFetchRequest } from '../../protocol/generated/messages/share-fetch-request.js';
import { createShareFetchResponse, createShareFetchResponsePartitionData, type ShareFetchResponse, type ShareFetchResponsePartitionData } from '../../protocol/generated/messages/share-fetch-response.js';
import type { ShareAcknowledgeRequest } from '../../protocol/generated/messages/share-acknowledge-request.js';
import { createShareAcknowledgeResponse, type ShareAcknowledgeResponse } from '../../protocol/generated/messages/share-acknowledge-response.js';
import type { BrokerContext } from '../broker-context.js';
import { currentLeader } from '../cluster-view.js';
import { handler } from '../router.js';
import { readableTopics, type FetchAuthorizer } from './fetch.js';
import { SHARE_STATE_TOPIC } from '../../coordinator/share/share-state-log.js';
import { ensureInternalTopic } from './internal-topics.js';
import type { AckBatch, ShareDelivery } from '../share-delivery.js';
import { sharePartitionKey, type ShareSession, type ShareSessions } from '../share-sessions.js';
import type { Partition } from '../../replication/partition.js';

const NO_RECORDS = Buffer.alloc(0);

/** What ShareFetch v0 (without MaxRecords) acquires at most per request. */
const V0_MAX_RECORDS = 500;

interface PartitionRef {
  topicId: string;
  partition: number;
}

/** One topic-partition's part of a response being built. */
interface Answer extends PartitionRef {
  errorCode: number;
  ackErrorCode: number;
  records: Buffer | null;
  acquired: { firstOffset: bigint; lastOffset: bigint; deliveryCount: number }[];
}

class Answers {
  readonly byKey = new Map<string, Answer>();

  get(ref: PartitionRef): Answer {
    const k = sharePartitionKey(ref.topicId, ref.partition);
    let a = this.byKey.get(k);
    if (!a) this.byKey.set(k, (a = { ...ref, errorCode: ErrorCode.NONE, ackErrorCode: ErrorCode.NONE, records: null, acquired: [] }));
    return a;
  }

  /** Grouped by topic, as both responses list them. */
  byTopic(): Map<string, Answer[]> {
    const out = new Map<string, Answer[]>();
    for (const a of this.byKey.values()) {
      const list = out.get(a.topicId) ?? [];
      list.push(a);
      out.set(a.topicId, list);
    }
    return out;
  }
}

/** The leader fields of a partition's answer: where the client should go when it is not here. */
function leaderOf(ctx: BrokerContext, ref: PartitionRef): { leaderId: number; leaderEpoch: number } {
  const name = ctx.metadata.topicById(ref.topicId)?.name;
  return name === undefined ? { leaderId: -1, leaderEpoch: -1 } : currentLeader(ctx, name, ref.partition);
}

/** Applies the acknowledgements a request carries, each partition's outcome in its answer. */
async function applyAcks(delivery: ShareDelivery, session: ShareSession, topics: readonly { topicId: string; partitions: readonly { partitionIndex: number; acknowledgementBatches: readonly AckBatch[] }[] }[], answers: Answers): Promise<void> {
  await Promise.all(
    topics.flatMap((t) =>
      t.partitions
        .filter((p) => p.acknowledgementBatches.length > 0)
        .map(async (p) => {
          const ref = { topicId: t.topicId, partition: p.partitionIndex };
          answers.get(ref).ackErrorCode = await delivery.acknowledge({ groupId: session.groupId, ...ref }, session.memberId, p.acknowledgementBatches);
        }),
    ),
  );
}

/** Acquires from the session's partitions, starting after where the last request stopped, until the budget is spent. */
async function acquireAll(delivery: ShareDelivery, session: ShareSession, maxRecords: number, maxBytes: number, answers: Answers, readable: (topicId: string) => boolean): Promise<number> {
  let records = 0;
  let bytes = 0;
  const partitions = [...session.partitions.values()];
  // Rotate, so a busy first partition does not starve the others.
  const start = partitions.length === 0 ? 0 : session.epoch % partitions.length;
  for (let i = 0; i < partitions.length && records < maxRecords && bytes < maxBytes; i++) {
    const ref = partitions[(start + i) % partitions.length];
    if (!readable(ref.topicId)) {
      answers.get(ref).errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      continue;
    }
    const got = await delivery.acquire({ groupId: session.groupId, ...ref }, session.memberId, maxRecords - records, maxBytes - bytes);
    const answer = answers.get(ref);
    if (typeof got === 'number') {
      answer.errorCode = got;
      continue;
    }
    if (got.ranges.length === 0) continue;
    answer.records = got.records;
    answer.acquired = got.ranges.map((r) => ({ firstOffset: BigInt(r.firstOffset), lastOffset: BigInt(r.lastOffset), deliveryCount: r.deliveryCount }));
    for (const r of got.ranges) records += r.lastOffset - r.firstOffset + 1;
    bytes += got.records?.length ?? 0;
  }
  return records;
}

/** Waits until one of the session's partitions may have records for it, or `ms` pass. */
function waitForRecords(delivery: ShareDelivery, session: ShareSession, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const watched: Partition[] = [];
    const done = (): void => {
      clearTimeout(timer);
      stopAvailable();
      for (const p of watched) p.offNewData(waiter);
      resolve();
    };
    const waiter = { wake: done };
    const timer = setTimeout(done, ms);
    const stopAvailable = delivery.store.onAvailable(done);
    for (const ref of session.partitions.values()) {
      const p = delivery.leader(ref.topicId, ref.partition);
      if (typeof p === 'number') continue;
      p.onNewData(waiter);
      watched.push(p);
    }
  });
}

/**
 * Opens, continues or closes the member's share session (the request's epoch says which), with
 * the partitions it adds and forgets; a member's records in partitions it leaves go back.
 */
async function sessionFor(ctx: BrokerContext, delivery: ShareDelivery, sessions: ShareSessions, req: { groupId: string | null; memberId: string | null; shareSessionEpoch: number }): Promise<ShareSession | number> {
  if (!req.groupId || !req.memberId) return ErrorCode.INVALID_REQUEST;
  // Share-partition state needs its internal topic, made on first use as Kafka makes it.
  if (ctx.partitions.partitionCount(SHARE_STATE_TOPIC) === 0) await ensureInternalTopic(ctx, SHARE_STATE_TOPIC);
  const resolved = sessions.resolve(req.groupId, req.memberId, req.shareSessionEpoch, Date.now());
  if (typeof resolved === 'number') return resolved;
  if (resolved.replaced) delivery.release(req.groupId, req.memberId, resolved.replaced.partitions.values());
  return resolved.session;
}

function partitionData(ctx: BrokerContext, a: Answer): ShareFetchResponsePartitionData {
  const d = createShareFetchResponsePartitionData();
  d.partitionIndex = a.partition;
  d.errorCode = a.errorCode;
  d.acknowledgeErrorCode = a.ackErrorCode;
  // An empty record set, not null: librdkafka drops the whole response at a null one (as Kafka sends MemoryRecords.EMPTY).
  d.records = a.records ?? NO_RECORDS;
  d.acquiredRecords = a.acquired;
  if (a.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) d.currentLeader = leaderOf(ctx, a);
  return d;
}

function fetchResponse(ctx: BrokerContext, answers: Answers, lockMs: number): ShareFetchResponse {
  const res = createShareFetchResponse();
  res.acquisitionLockTimeoutMs = lockMs;
  res.responses = [...answers.byTopic()].map(([topicId, list]) => ({ topicId, partitions: list.map((a) => partitionData(ctx, a)) }));
  return res;
}

/**
 * ShareFetch (KIP-932): acknowledgements first, then records acquired for the member from its
 * session's partitions, each range with its delivery count. With nothing to hand out it waits
 * up to MaxWaitMs for records to arrive or come back. Epoch -1 closes the session: no fetch,
 * and what the member still holds is released.
 */
export function shareFetchHandler(ctx: BrokerContext, delivery: ShareDelivery, sessions: ShareSessions, authorize: FetchAuthorizer) {
  return handler(apis.ShareFetch, 0, 1, async (req: ShareFetchRequest, { version, connection }) => {
    const session = await sessionFor(ctx, delivery, sessions, req);
    if (typeof session === 'number') {
      const res = createShareFetchResponse();
      res.errorCode = session;
      return res;
    }
    const answers = new Answers();
    if (req.shareSessionEpoch !== -1) {
      for (const t of req.topics) for (const p of t.partitions) session.partitions.set(sharePartitionKey(t.topicId, p.partitionIndex), { topicId: t.topicId, partition: p.partitionIndex });
      const forgotten = req.forgottenTopicsData.flatMap((t) => t.partitions.map((partition) => ({ topicId: t.topicId, partition })));
      for (const f of forgotten) session.partitions.delete(sharePartitionKey(f.topicId, f.partition));
      delivery.release(session.groupId, session.memberId, forgotten);
    }
    for (const t of req.topics) for (const p of t.partitions) answers.get({ topicId: t.topicId, partition: p.partitionIndex });
    await applyAcks(delivery, session, req.topics, answers);
    const lockMs = delivery.lockDurationMs(session.groupId);
    if (req.shareSessionEpoch === -1) {
      delivery.release(session.groupId, session.memberId, session.partitions.values());
      return fetchResponse(ctx, answers, lockMs);
    }
    const maxRecords = version >= 1 ? Math.max(1, req.maxRecords) : V0_MAX_RECORDS;
    // The request's topics were authorized before it got here; the session's others are on every fetch.
    const byName = readableTopics(authorize, connection, false);
    const readable = (topicId: string): boolean => {
      const name = ctx.metadata.topicById(topicId)?.name;
      return name === undefined || byName(name);
    };
    const got = await acquireAll(delivery, session, maxRecords, req.maxBytes, answers, readable);
    if (got === 0 && req.maxWaitMs > 0) {
      await waitForRecords(delivery, session, req.maxWaitMs);
      await acquireAll(delivery, session, maxRecords, req.maxBytes, answers, readable);
    }
    return fetchResponse(ctx, answers, lockMs);
  });
}

/** ShareAcknowledge (KIP-932): acknowledgements alone, on the member's share session. */
export function shareAcknowledgeHandler(ctx: BrokerContext, delivery: ShareDelivery, sessions: ShareSessions) {
  return handler(apis.ShareAcknowledge, 0, 1, async (req: ShareAcknowledgeRequest): Promise<ShareAcknowledgeResponse> => {
    const res = createShareAcknowledgeResponse();
    if (req.shareSessionEpoch === 0) {
      res.errorCode = ErrorCode.INVALID_SHARE_SESSION_EPOCH;
      return res;
    }
    const session = await sessionFor(ctx, delivery, sessions, req);
    if (typeof session === 'number') {
      res.errorCode = session;
      return res;
    }
    const answers = new Answers();
    await applyAcks(delivery, session, req.topics, answers);
    if (req.shareSessionEpoch === -1) delivery.release(session.groupId, session.memberId, session.partitions.values());
    res.responses = [...answers.byTopic()].map(([topicId, list]) => ({
      topicId,
      partitions: list.map((a) => ({
        partitionIndex: a.partition,
        errorCode: a.ackErrorCode,
        errorMessage: null,
        currentLeader: a.ackErrorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ? leaderOf(ctx, a) : { leaderId: -1, leaderEpoch: -1 },
      })),
    }));
    return res;
  });
}
