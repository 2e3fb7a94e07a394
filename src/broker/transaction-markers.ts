import { CoordinatorLogError, coordinatorWriteError, type CoordinatorLog } from '../coordinator/coordinator-log.js';
import type { GroupCoordinator } from '../coordinator/group-coordinator.js';
import { OFFSETS_TOPIC } from '../coordinator/offsets-topic-records.js';
import type { MarkerJob, MarkerWriter } from '../coordinator/transactions/transaction-coordinator.js';
import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { ControlType, encodeTransactionMarker } from '../protocol/records/control-record.js';
import type { BrokerContext } from './broker-context.js';
import type { PeerConnections } from './peer-connections.js';

/** A marker's end, as WriteTxnMarkers carries it. */
export interface Marker {
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  commit: boolean;
}

/** A marker refused for good: its producer was fenced since, or a newer coordinator wrote the producer's last marker. */
const FENCED: ReadonlySet<number> = new Set([ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.TRANSACTION_COORDINATOR_FENCED]);

/** Retry pace for partitions whose leader cannot take their marker yet. */
const MARKER_RETRY_MS = 200;

/**
 * Appends a transaction marker to a partition this broker leads and resolves once the in-sync
 * replicas have it (as a coordinator's write): the producer's open transaction there ends (an
 * aborted one goes into the transaction index), and in __consumer_offsets the transaction's
 * offsets become committed, or go. The error code is WriteTxnMarkers' answer for the partition.
 */
export async function writeMarkerHere(ctx: BrokerContext, groups: GroupCoordinator, appender: CoordinatorLog, m: Marker, topic: string, index: number): Promise<number> {
  const p = ctx.partitions.lookupLeader(topic, index);
  if (typeof p === 'number') return p;
  const batch = encodeTransactionMarker({ producerId: m.producerId, producerEpoch: m.producerEpoch, type: m.commit ? ControlType.COMMIT : ControlType.ABORT, coordinatorEpoch: m.coordinatorEpoch, timestamp: Date.now() });
  try {
    await appender.appendBatch(p, batch);
  } catch (e) {
    if (e instanceof CoordinatorLogError && FENCED.has(e.errorCode)) return e.errorCode;
    log.warn({ partition: p.key, err: (e as Error).message }, 'could not write a transaction marker');
    const code = coordinatorWriteError(e);
    return code === ErrorCode.NOT_COORDINATOR ? ErrorCode.NOT_LEADER_OR_FOLLOWER : code === ErrorCode.COORDINATOR_NOT_AVAILABLE ? ErrorCode.NOT_ENOUGH_REPLICAS : code;
  }
  if (topic === OFFSETS_TOPIC) groups.completeTransaction(index, m.producerId, m.commit);
  return ErrorCode.NONE;
}

/**
 * The transaction coordinator's marker writer: each partition's marker goes to its leader (this
 * broker directly, others by WriteTxnMarkers), again and again until every partition has it or
 * no longer exists, or this broker stops coordinating the transaction.
 */
export function transactionMarkerWriter(ctx: BrokerContext, groups: GroupCoordinator, appender: CoordinatorLog, peers: PeerConnections): MarkerWriter {
  /** The partitions of `list` that still need their marker after one try at their leader. */
  async function tryLeader(job: MarkerJob, leader: number, list: { topic: string; partition: number }[]): Promise<{ topic: string; partition: number }[]> {
    const marker: Marker = { producerId: job.producerId, producerEpoch: job.producerEpoch, coordinatorEpoch: job.coordinatorEpoch, commit: job.commit };
    let codes: number[];
    if (leader === ctx.config.nodeId) codes = await Promise.all(list.map((p) => writeMarkerHere(ctx, groups, appender, marker, p.topic, p.partition)));
    else {
      try {
        const byTopic = new Map<string, number[]>();
        for (const p of list) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
        const res = await peers.request(leader, (conn) =>
          conn.send('WriteTxnMarkers', {
            markers: [{ ...marker, transactionResult: job.commit, topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }],
          }),
        );
        const answers = new Map(res.markers[0]?.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}\0${p.partitionIndex}`, p.errorCode] as const)) ?? []);
        codes = list.map((p) => answers.get(`${p.topic}\0${p.partition}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR);
      } catch {
        return list;
      }
    }
    // A partition whose topic is gone has nothing to mark; a producer fenced there meanwhile is
    // already done, and a newer coordinator there has taken the transaction over.
    return list.filter((_, i) => codes[i] !== ErrorCode.NONE && codes[i] !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && !FENCED.has(codes[i]));
  }

  return async (job, stillCoordinator) => {
    let left = job.partitions;
    for (let attempt = 0; left.length > 0 && stillCoordinator(); attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, MARKER_RETRY_MS));
      const byLeader = new Map<number, { topic: string; partition: number }[]>();
      const next: { topic: string; partition: number }[] = [];
      for (const p of left) {
        const state = ctx.metadata.partition(p.topic, p.partition);
        if (!state) continue;
        if (state.leader < 0) next.push(p);
        else byLeader.set(state.leader, [...(byLeader.get(state.leader) ?? []), p]);
      }
      for (const rest of await Promise.all([...byLeader].map(([leader, list]) => tryLeader(job, leader, list)))) next.push(...rest);
      left = next;
      if (attempt === 20 && left.length > 0) log.warn({ transactionalId: job.transactionalId, partitions: left.length }, 'transaction markers are still not all written; retrying');
    }
  };
}
