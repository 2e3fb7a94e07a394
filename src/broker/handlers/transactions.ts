import { coordinatorPartitionFor, type CoordinatorLog } from '../../coordinator/coordinator-log.js';
import type { GroupCoordinator } from '../../coordinator/group-coordinator.js';
import { OFFSETS_TOPIC } from '../../coordinator/offsets-topic-records.js';
import type { TransactionCoordinator } from '../../coordinator/transactions/transaction-coordinator.js';
import { TXN_STATE_NAMES, type TransactionMetadata } from '../../coordinator/transactions/transaction-metadata.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { createAddOffsetsToTxnResponse } from '../../protocol/generated/messages/add-offsets-to-txn-response.js';
import {
  createAddPartitionsToTxnResponse,
  type AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../../protocol/generated/messages/add-partitions-to-txn-response.js';
import { createDescribeTransactionsResponse } from '../../protocol/generated/messages/describe-transactions-response.js';
import { createEndTxnResponse } from '../../protocol/generated/messages/end-txn-response.js';
import { createListTransactionsResponse } from '../../protocol/generated/messages/list-transactions-response.js';
import { createTxnOffsetCommitResponse } from '../../protocol/generated/messages/txn-offset-commit-response.js';
import { createWriteTxnMarkersResponse } from '../../protocol/generated/messages/write-txn-markers-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { writeMarkerHere } from '../transaction-markers.js';
import { ensureInternalTopic } from './internal-topics.js';
import { commitRequestedOffsets } from './offsets.js';

/**
 * Clients older than KIP-588 do not know PRODUCER_FENCED: Kafka answers them with
 * INVALID_PRODUCER_EPOCH, which they also take as fatal. `since` is the API's first version
 * that may carry it.
 */
export function fencedFor(errorCode: number, version: number, since: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && version < since ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode;
}

type TopicPartitions = { name: string; partitions: number[] }[];

/**
 * The answer to one transaction of AddPartitionsToTxn: partitions that do not exist are
 * UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED, as Kafka answers;
 * otherwise the coordinator's one answer for all of them.
 */
async function addPartitionsOf(
  ctx: BrokerContext,
  txns: TransactionCoordinator,
  t: { transactionalId: string; producerId: bigint; producerEpoch: number; verifyOnly: boolean; topics: TopicPartitions },
  version: number,
): Promise<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[]> {
  const exists = (topic: string, p: number): boolean => p >= 0 && p < ctx.partitions.partitionCount(topic);
  const missing = t.topics.some((topic) => topic.partitions.some((p) => !exists(topic.name, p)));
  let code: number = ErrorCode.NONE;
  if (!missing) {
    const partitions = t.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition })));
    code = fencedFor(await txns.addPartitions(t.transactionalId, t.producerId, t.producerEpoch, partitions, t.verifyOnly), version, 2);
  }
  return t.topics.map((topic) => ({
    name: topic.name,
    resultsByPartition: topic.partitions.map((partitionIndex) => ({
      partitionIndex,
      partitionErrorCode: !missing ? code : exists(topic.name, partitionIndex) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    })),
  }));
}

/** AddPartitionsToTxn: v0-3 from producers (one transaction); v4+ batched, from brokers, with KIP-890's verify-only form. */
export function addPartitionsToTxnHandler(ctx: BrokerContext, txns: TransactionCoordinator) {
  return handler(apis.AddPartitionsToTxn, 0, 5, async (req, { version }) => {
    const res = createAddPartitionsToTxnResponse();
    if (version <= 3) {
      res.resultsByTopicV3AndBelow = await addPartitionsOf(
        ctx,
        txns,
        { transactionalId: req.v3AndBelowTransactionalId, producerId: req.v3AndBelowProducerId, producerEpoch: req.v3AndBelowProducerEpoch, verifyOnly: false, topics: req.v3AndBelowTopics },
        version,
      );
      return res;
    }
    res.resultsByTransaction = await Promise.all(
      req.transactions.map(async (t) => ({ transactionalId: t.transactionalId, topicResults: await addPartitionsOf(ctx, txns, t, version) })),
    );
    return res;
  });
}

/** AddOffsetsToTxn: the group's __consumer_offsets partition joins the transaction, for the TxnOffsetCommit to come. */
export function addOffsetsToTxnHandler(ctx: BrokerContext, txns: TransactionCoordinator) {
  return handler(apis.AddOffsetsToTxn, 0, 4, async (req, { version }) => {
    const res = createAddOffsetsToTxnResponse();
    if (req.groupId === '') {
      res.errorCode = ErrorCode.INVALID_GROUP_ID;
      return res;
    }
    if (ctx.partitions.partitionCount(OFFSETS_TOPIC) === 0) await ensureInternalTopic(ctx, OFFSETS_TOPIC);
    const count = ctx.partitions.partitionCount(OFFSETS_TOPIC);
    if (count === 0) {
      res.errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
      return res;
    }
    const partition = { topic: OFFSETS_TOPIC, partition: coordinatorPartitionFor(req.groupId, count) };
    res.errorCode = fencedFor(await txns.addPartitions(req.transactionalId, req.producerId, req.producerEpoch, [partition], false), version, 2);
    return res;
  });
}

/** EndTxn: commit or abort. v5 (KIP-890 part 2, an epoch bump per transaction) is not served. */
export function endTxnHandler(txns: TransactionCoordinator) {
  return handler(apis.EndTxn, 0, 4, async (req, { version }) => {
    const res = createEndTxnResponse();
    res.errorCode = fencedFor(await txns.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed), version, 2);
    return res;
  });
}

/** WriteTxnMarkers: a transaction coordinator (on another broker) ends a transaction in partitions led here. */
export function writeTxnMarkersHandler(ctx: BrokerContext, groups: GroupCoordinator, appender: CoordinatorLog) {
  return handler(apis.WriteTxnMarkers, 0, 1, async (req) => {
    const res = createWriteTxnMarkersResponse();
    res.markers = await Promise.all(
      req.markers.map(async (m) => {
        const marker = { producerId: m.producerId, producerEpoch: m.producerEpoch, coordinatorEpoch: m.coordinatorEpoch, commit: m.transactionResult };
        const topics = await Promise.all(
          m.topics.map(async (t) => ({
            name: t.name,
            partitions: await Promise.all(
              t.partitionIndexes.map(async (partitionIndex) => ({ partitionIndex, errorCode: await writeMarkerHere(ctx, groups, appender, marker, t.name, partitionIndex) })),
            ),
          })),
        );
        return { producerId: m.producerId, topics };
      }),
    );
    return res;
  });
}

/** TxnOffsetCommit: offsets written in the producer's transaction, visible to the group once it commits. */
export function txnOffsetCommitHandler(ctx: BrokerContext, groups: GroupCoordinator) {
  return handler(apis.TxnOffsetCommit, 0, 4, async (req, { version }) => {
    const res = createTxnOffsetCommitResponse();
    const ref = {
      groupId: req.groupId,
      generationId: version >= 3 ? req.generationId : -1,
      memberId: version >= 3 ? req.memberId : '',
      groupInstanceId: version >= 3 ? req.groupInstanceId : null,
    };
    const answers = await commitRequestedOffsets(ctx, groups, req.groupId, groups.transactionalCommitCheck(ref), req.topics, version >= 2, {
      id: req.producerId,
      epoch: req.producerEpoch,
    });
    res.topics = answers.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, errorCode: fencedFor(p.errorCode, version, 3) })) }));
    return res;
  });
}

function topicsOf(md: TransactionMetadata): { topic: string; partitions: number[] }[] {
  return [...md.partitions].map(([topic, ids]) => ({ topic, partitions: [...ids].sort((a, b) => a - b) }));
}

/** DescribeTransactions: the state of transactional ids this broker coordinates. */
export function describeTransactionsHandler(txns: TransactionCoordinator) {
  return handler(apis.DescribeTransactions, 0, 0, (req) => {
    const res = createDescribeTransactionsResponse();
    res.transactionStates = req.transactionalIds.map((transactionalId) => {
      const md = txns.describe(transactionalId);
      if (typeof md === 'number') {
        return { errorCode: md, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [] };
      }
      return {
        errorCode: ErrorCode.NONE,
        transactionalId,
        transactionState: TXN_STATE_NAMES[md.state],
        transactionTimeoutMs: md.timeoutMs,
        transactionStartTimeMs: BigInt(md.startTimestamp),
        producerId: md.producerId,
        producerEpoch: md.producerEpoch,
        topics: topicsOf(md),
      };
    });
    return res;
  });
}

/** ListTransactions: the transactions this broker coordinates (admin clients ask every broker), filtered as asked. */
export function listTransactionsHandler(txns: TransactionCoordinator) {
  return handler(apis.ListTransactions, 0, 1, (req, { version }) => {
    const res = createListTransactionsResponse();
    const known = new Set(TXN_STATE_NAMES);
    res.unknownStateFilters = req.stateFilters.filter((s) => !known.has(s));
    const states = new Set(req.stateFilters);
    const producers = new Set(req.producerIdFilters);
    const minDuration = version >= 1 ? Number(req.durationFilter) : -1;
    const now = Date.now();
    res.transactionStates = txns
      .all()
      .filter(
        (md) =>
          (states.size === 0 || states.has(TXN_STATE_NAMES[md.state])) &&
          (producers.size === 0 || producers.has(md.producerId)) &&
          (minDuration < 0 || (md.startTimestamp >= 0 && now - md.startTimestamp > minDuration)),
      )
      .map((md) => ({ transactionalId: md.transactionalId, producerId: md.producerId, transactionState: TXN_STATE_NAMES[md.state] }));
    return res;
  });
}
