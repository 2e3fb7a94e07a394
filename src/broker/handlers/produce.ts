import type { TopicConfigValues } from '../../config/broker-config.js';
import { log } from '../../log.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import {
  createProduceResponse,
  createProduceResponsePartitionProduceResponse,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../../protocol/generated/messages/produce-response.js';
import type { ProduceRequest } from '../../protocol/generated/messages/produce-request.js';
import { RecordBatchHeader } from '../../protocol/records/batch-header.js';
import { emptiedBatch } from '../../protocol/records/record-batch.js';
import { DURABLE } from '../../storage/partition-log.js';
import { StorageError } from '../../storage/storage-error.js';
import type { BrokerContext } from '../broker-context.js';
import type { Partition } from '../../replication/partition.js';
import { waitForHighWatermark } from '../../replication/high-watermark-wait.js';
import { currentLeader, endpointOf } from '../cluster-view.js';
import { checkProducedRecords, isRecordSetProblem, timestampWindowOf, type ProducedRecordsRules } from '../produce-validation.js';
import { hasProducerId } from '../../protocol/records/batch-layout.js';
import type { BatchMetadata } from '../../replication/producers/producer-entry.js';
import { producerStateOf, type PartitionProducerState } from '../../replication/producers/producer-state.js';
import { inTopicCodec, topicCodec, topicCodecLevel } from '../recompress.js';
import { handler } from '../router.js';
import type { TransactionVerifier } from '../transaction-verification.js';
import { delayOf, type DelayedRecord } from '../../delay/delay-headers.js';

const ACKS_NONE = 0;
const ACKS_ALL = -1;

/** Why a partition the request names cannot take records, by the error lookup gives. */
const UNSERVED: Record<number, string> = {
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: 'This server does not host this topic-partition.',
  [ErrorCode.NOT_LEADER_OR_FOLLOWER]: 'This server is not the leader for that topic-partition.',
  [ErrorCode.KAFKA_STORAGE_ERROR]: 'The partition is offline: its log directory failed or its log is missing.',
};

/** One view for every batch: handlers run on the event loop, and nothing here awaits mid-batch. */
const header = new RecordBatchHeader();

/** What every partition of one request shares. */
interface ProduceCall {
  ctx: BrokerContext;
  req: ProduceRequest;
  version: number;
  now: number;
  /** Settle once the partitions' answers are final (replicated as acks asks, or failed). */
  waits: Promise<void>[];
  /** Leaders named in NOT_LEADER_OR_FOLLOWER answers, whose endpoints v10+ responses carry. */
  leaders: Set<number>;
  /** Asks transaction coordinators about first transactional batches; null when transaction.partition.verification.enable is off. */
  verifier: TransactionVerifier | null;
}

function partitionError(
  index: number,
  errorCode: number,
  errorMessage: string | null,
  batchIndex = -1,
  recordErrors?: { batchIndex: number; message: string }[],
): ProduceResponsePartitionProduceResponse {
  const r = createProduceResponsePartitionProduceResponse();
  r.index = index;
  r.errorCode = errorCode;
  r.errorMessage = errorMessage;
  r.baseOffset = -1n;
  if (recordErrors) r.recordErrors = recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }));
  else if (batchIndex >= 0) r.recordErrors = [{ batchIndex, batchIndexErrorMessage: errorMessage }];
  return r;
}

/** NOT_LEADER_OR_FOLLOWER with the leader the metadata names (KIP-951), so the client goes there at once. */
function notLeader(call: ProduceCall, topic: string, index: number, message: string): ProduceResponsePartitionProduceResponse {
  const r = partitionError(index, ErrorCode.NOT_LEADER_OR_FOLLOWER, message);
  r.currentLeader = currentLeader(call.ctx, topic, index);
  if (r.currentLeader.leaderId >= 0) call.leaders.add(r.currentLeader.leaderId);
  return r;
}

/**
 * Produce: validate each partition's batch, check its producer's sequence, append it as leader
 * (offsets and leader epoch assigned in place; records re-encoded only when the topic's
 * compression.type names another codec) and answer once acks are satisfied: acks=1 when the
 * leader has it (durable in sync flush mode), acks=all when every in-sync replica has it (the
 * high watermark passed it) within the request's timeout, with min.insync.replicas checked
 * before and after. acks=0 gets no response at all.
 */
export function produceHandler(ctx: BrokerContext, verifier: TransactionVerifier) {
  return handler(apis.Produce, 3, 11, (req: ProduceRequest, { version, connection }) => {
    const call: ProduceCall = { ctx, req, version, now: Date.now(), waits: [], leaders: new Set(), verifier: ctx.config.transactionPartitionVerificationEnable ? verifier : null };
    const res = createProduceResponse();
    // A broker that cannot prove its registration is alive may have been replaced as leader.
    const session = ctx.store.session();
    for (const topic of req.topicData) {
      const partitionResponses: ProduceResponsePartitionProduceResponse[] = [];
      res.responses.push({ name: topic.name, partitionResponses });
      for (const data of topic.partitionData) {
        const partition = ctx.partitions.lookupLeader(topic.name, data.index);
        if (partition === ErrorCode.NOT_LEADER_OR_FOLLOWER) partitionResponses.push(notLeader(call, topic.name, data.index, UNSERVED[partition]));
        else if (typeof partition === 'number') partitionResponses.push(partitionError(data.index, partition, UNSERVED[partition] ?? null));
        else if (!session.valid) partitionResponses.push(notLeader(call, topic.name, data.index, `This broker cannot prove it still leads: ${session.reason}.`));
        else partitionResponses.push(produceToPartition(call, partition, ctx.topicConfig(topic.name), data.records as Buffer | null));
        // The records are in the log now; an acks=all wait must not hold the request's frame
        // (up to a MiB per pipelined request) until the followers have fetched.
        data.records = null;
      }
    }
    const answer = (): ProduceResponse | null => {
      if (version >= 10) res.nodeEndpoints = [...call.leaders].flatMap((id) => endpointOf(ctx, id, connection.listenerName) ?? []);
      return req.acks === ACKS_NONE ? null : res;
    };
    // acks=1 with nothing to verify, the common case, is answered at once.
    return call.waits.length === 0 ? answer() : settleWaits(call.waits).then(answer);
  });
}

/** A verified batch appends after its wait, and adds its own wait for acks. */
async function settleWaits(waits: Promise<void>[]): Promise<void> {
  while (waits.length > 0) await Promise.all(waits.splice(0));
}

function produceToPartition(call: ProduceCall, partition: Partition, config: TopicConfigValues, records: Buffer | null, verified = false): ProduceResponsePartitionProduceResponse {
  const index = partition.index;
  const rules: ProducedRecordsRules = {
    version: call.version,
    maxMessageBytes: config['max.message.bytes'],
    compacted: config['cleanup.policy'].includes('compact'),
    topicPartition: `${partition.topic}-${index}`,
    timestampWindow: timestampWindowOf(config, call.now),
  };
  const checked = checkProducedRecords(records, rules);
  if (isRecordSetProblem(checked)) return partitionError(index, checked.errorCode, checked.message, checked.batchIndex, checked.recordErrors);
  const minIsr = config['min.insync.replicas'];
  if (call.req.acks === ACKS_ALL && partition.isr.length < minIsr) {
    return partitionError(index, ErrorCode.NOT_ENOUGH_REPLICAS, `The in-sync replicas (${partition.isr.length}) are fewer than min.insync.replicas ${minIsr}.`);
  }
  const batch = records!;
  const delay = delayOf(batch, checked, { topicDelayMs: config['sluice.delivery.delay.ms'], maxDelayMs: call.ctx.config.deliveryDelayMaxMs, now: call.now });
  if (delay.kind === 'refused') return partitionError(index, ErrorCode.INVALID_RECORD, `delayed delivery: ${delay.recordErrors[0].message}`, -1, delay.recordErrors);
  let producers: PartitionProducerState | null = null;
  if (hasProducerId(batch)) {
    const transactional = header.reset(batch).isTransactional;
    if (transactional && delay.kind !== 'now') {
      return partitionError(index, ErrorCode.INVALID_RECORD, 'delayed delivery (sluice-delay-ms, sluice-deliver-at, sluice.delivery.delay.ms) is not open to transactional producers: a held record cannot follow its transaction');
    }
    producers = producerStateOf(partition.log);
    if (transactional && !verified && call.verifier && producers.openTransaction(header.producerId) < 0) {
      return verifyFirst(call, partition, config, batch);
    }
    const verdict = producers.check(header.reset(batch));
    if (verdict.kind === 'rejected') return partitionError(index, verdict.errorCode, verdict.message);
    if (verdict.kind === 'duplicate') return answerDuplicate(call, partition, verdict.batch);
  }
  if (delay.kind !== 'now') return holdDelayed(call, partition, config, batch, delay.records, producers);
  const stored = inTopicCodec(batch, topicCodec(config['compression.type']), topicCodecLevel(config));
  if (stored !== batch) {
    const recoded = checkProducedRecords(stored, rules);
    if (isRecordSetProblem(recoded)) return partitionError(index, recoded.errorCode, `after recompression to ${config['compression.type']}: ${recoded.message}`);
  }
  const r = createProduceResponsePartitionProduceResponse();
  r.index = index;
  try {
    const appended = partition.appendAsLeader(stored, call.now);
    // Before anything else can append: the state must follow the log batch by batch.
    producers?.apply(header.reset(stored), call.now);
    call.ctx.metrics.recordProduce(partition.topic, appended.recordCount, stored.length);
    r.baseOffset = BigInt(appended.firstOffset);
    r.logAppendTimeMs = BigInt(appended.logAppendTime);
    r.logStartOffset = BigInt(partition.log.logStartOffset);
    if (call.req.acks === ACKS_ALL || appended.durable !== DURABLE) call.waits.push(awaitAcks(call, partition, appended.durable, appended.lastOffset + 1, minIsr, r));
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    const code = { 'invalid-record': ErrorCode.INVALID_RECORD, 'record-too-large': ErrorCode.RECORD_LIST_TOO_LARGE } as Record<string, number>;
    return partitionError(index, code[e.kind] ?? ErrorCode.KAFKA_STORAGE_ERROR, e.message);
  }
  return r;
}

/**
 * A batch with records due later goes to the delay store instead of the log, and is answered
 * with offset -1: it has none yet (docs/queues.md). An idempotent producer's batch leaves its
 * emptied header in the log, which carries the producer's sequence on (a retry is answered as
 * a duplicate, its next batch follows on) and replicates and survives restarts as any batch.
 */
function holdDelayed(call: ProduceCall, partition: Partition, config: TopicConfigValues, batch: Buffer, records: readonly DelayedRecord[], producers: PartitionProducerState | null): ProduceResponsePartitionProduceResponse {
  const index = partition.index;
  const delayed = call.ctx.delayed;
  if (!delayed) return partitionError(index, ErrorCode.INVALID_RECORD, 'this broker holds no delayed records');
  const r = partitionError(index, ErrorCode.NONE, null);
  const storageError = (e: unknown): void => {
    log.error({ err: e, partition: partition.key }, 'the delay store could not take records');
    Object.assign(r, partitionError(index, ErrorCode.KAFKA_STORAGE_ERROR, 'the delay store could not take the records'));
  };
  try {
    // Held before the sequence is taken: a crash in between makes a retry hold the records twice, never lose them.
    call.waits.push(delayed.hold(partition.topic, index, records, config['sluice.log.flush.mode']).catch(storageError));
    if (producers) {
      const emptied = emptiedBatch(batch);
      const appended = partition.appendAsLeader(emptied, call.now);
      producers.apply(header.reset(emptied), call.now);
      call.waits.push(awaitAcks(call, partition, appended.durable, appended.lastOffset + 1, config['min.insync.replicas'], r));
    }
  } catch (e) {
    storageError(e);
  }
  return r;
}

/**
 * A producer's first transactional batch to the partition waits for its coordinator's word
 * that the partition is in the open transaction, and is then appended as any other, if this
 * broker still leads the partition.
 */
function verifyFirst(call: ProduceCall, partition: Partition, config: TopicConfigValues, batch: Buffer): ProduceResponsePartitionProduceResponse {
  const r = partitionError(partition.index, ErrorCode.NONE, null);
  const transactionalId = call.req.transactionalId;
  if (transactionalId === null) {
    return partitionError(partition.index, ErrorCode.INVALID_TXN_STATE, 'A transactional batch needs the transactional id of its producer in the request.');
  }
  const write = { transactionalId, producerId: header.producerId, producerEpoch: header.producerEpoch, topic: partition.topic, partition: partition.index };
  call.waits.push(
    call.verifier!.verify(write).then((code) => {
      if (code !== ErrorCode.NONE) return void Object.assign(r, partitionError(partition.index, code, `The transaction coordinator did not verify this partition: error ${code}.`));
      if (call.ctx.partitions.lookupLeader(partition.topic, partition.index) !== partition) {
        return void Object.assign(r, notLeader(call, partition.topic, partition.index, 'Leadership moved while the transaction was verified.'));
      }
      Object.assign(r, produceToPartition(call, partition, config, batch, true));
    }),
  );
  return r;
}

/** Settles an appended batch's answer `r` as acks asks: durable here, then (acks=all) replicated. */
async function awaitAcks(call: ProduceCall, partition: Partition, durable: Promise<void>, end: number, minIsr: number, r: ProduceResponsePartitionProduceResponse): Promise<void> {
  const fail = (errorCode: number, message: string): void => void Object.assign(r, partitionError(partition.index, errorCode, message));
  try {
    await durable;
  } catch (e) {
    log.error({ err: e, partition: partition.key }, 'flush failed');
    return fail(ErrorCode.KAFKA_STORAGE_ERROR, 'the log could not be flushed');
  }
  if (call.req.acks !== ACKS_ALL) return;
  const outcome = await waitForHighWatermark(partition, end, call.req.timeoutMs);
  if (outcome === 'timed-out') return fail(ErrorCode.REQUEST_TIMED_OUT, `the in-sync replicas did not all take the batch within ${call.req.timeoutMs} ms`);
  if (outcome === 'not-leader') return void Object.assign(r, notLeader(call, partition.topic, partition.index, 'Leadership moved before the batch was replicated.'));
  if (partition.isr.length < minIsr) {
    fail(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, `The batch is written, but the in-sync replicas (${partition.isr.length}) fell below min.insync.replicas ${minIsr}.`);
  }
}

/**
 * A retry of one of the producer's last batches: nothing is appended, and the answer is the
 * original's (Kafka's), given no sooner than the original's, which may still be on its way to
 * the in-sync replicas: once the high watermark has passed it, or REQUEST_TIMED_OUT after the
 * request's timeout.
 */
function answerDuplicate(call: ProduceCall, partition: Partition, original: BatchMetadata): ProduceResponsePartitionProduceResponse {
  const r = createProduceResponsePartitionProduceResponse();
  r.index = partition.index;
  r.baseOffset = BigInt(original.firstOffset);
  r.logAppendTimeMs = partition.log.config.timestampType === 'log-append' ? BigInt(original.timestamp) : -1n;
  r.logStartOffset = BigInt(partition.log.logStartOffset);
  call.waits.push(
    waitForHighWatermark(partition, original.lastOffset + 1, call.req.timeoutMs).then((outcome) => {
      if (outcome !== 'reached') Object.assign(r, partitionError(partition.index, ErrorCode.REQUEST_TIMED_OUT, 'the original of this retried batch is not replicated yet'));
    }),
  );
  return r;
}
