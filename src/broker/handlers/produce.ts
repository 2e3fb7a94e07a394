import type { TopicConfigValues } from '../../config/broker-config.js';
import { log } from '../../log.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import {
  createProduceResponse,
  createProduceResponsePartitionProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../../protocol/generated/messages/produce-response.js';
import type { ProduceRequest } from '../../protocol/generated/messages/produce-request.js';
import { RecordBatchHeader } from '../../protocol/records/batch-header.js';
import { StorageError } from '../../storage/storage-error.js';
import type { BrokerContext } from '../broker-context.js';
import type { Partition } from '../partition.js';
import { checkProducedRecords, type ProducedRecordsRules } from '../produce-validation.js';
import { hasProducerId, type BatchMetadata } from '../producers/producer-entry.js';
import { producerStateOf, type PartitionProducerState } from '../producers/producer-state.js';
import { inTopicCodec, topicCodec } from '../recompress.js';
import { handler } from '../router.js';

const ACKS_NONE = 0;
const ACKS_ALL = -1;

/** Why a partition the request names cannot take records, by the error lookup gives. */
const UNSERVED: Record<number, string> = {
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: 'This server does not host this topic-partition.',
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
  /** Settle once the partitions' answers are final (durable, or failed). */
  waits: Promise<void>[];
}

function partitionError(index: number, errorCode: number, errorMessage: string | null, batchIndex = -1): ProduceResponsePartitionProduceResponse {
  const r = createProduceResponsePartitionProduceResponse();
  r.index = index;
  r.errorCode = errorCode;
  r.errorMessage = errorMessage;
  r.baseOffset = -1n;
  if (batchIndex >= 0) r.recordErrors = [{ batchIndex, batchIndexErrorMessage: errorMessage }];
  return r;
}

/**
 * Produce: validate each partition's batch, check its producer's sequence, append it (offsets
 * assigned in place; records re-encoded only when the topic's compression.type names another
 * codec) and answer once it is as durable as acks and the flush mode ask. acks=0 gets no
 * response at all.
 */
export function produceHandler(ctx: BrokerContext) {
  return handler(apis.Produce, 3, 11, async (req: ProduceRequest, { version }) => {
    const call: ProduceCall = { ctx, req, version, now: Date.now(), waits: [] };
    const res = createProduceResponse();
    for (const topic of req.topicData) {
      const partitionResponses: ProduceResponsePartitionProduceResponse[] = [];
      res.responses.push({ name: topic.name, partitionResponses });
      for (const data of topic.partitionData) {
        const partition = ctx.partitions.lookup(topic.name, data.index);
        partitionResponses.push(
          typeof partition === 'number'
            ? partitionError(data.index, partition, UNSERVED[partition] ?? null)
            : produceToPartition(call, partition, ctx.topicConfig(topic.name), data.records as Buffer | null),
        );
      }
    }
    await Promise.all(call.waits);
    return req.acks === ACKS_NONE ? null : res;
  });
}

function produceToPartition(call: ProduceCall, partition: Partition, config: TopicConfigValues, records: Buffer | null): ProduceResponsePartitionProduceResponse {
  const index = partition.index;
  const rules: ProducedRecordsRules = {
    version: call.version,
    maxMessageBytes: config['max.message.bytes'],
    compacted: config['cleanup.policy'].includes('compact'),
  };
  const problem = checkProducedRecords(records, rules);
  if (problem) return partitionError(index, problem.errorCode, problem.message, problem.batchIndex);
  if (call.req.acks === ACKS_ALL && config['min.insync.replicas'] > 1) {
    return partitionError(index, ErrorCode.NOT_ENOUGH_REPLICAS, `The in-sync replicas (1) are fewer than min.insync.replicas ${config['min.insync.replicas']}.`);
  }
  const batch = records!;
  if (header.reset(batch).isTransactional) {
    // Transactional producers cannot get a producer id here (InitProducerId refuses them).
    return partitionError(index, ErrorCode.INVALID_TXN_STATE, 'Sluice does not support transactions: transactional batches are refused');
  }
  let producers: PartitionProducerState | null = null;
  if (hasProducerId(batch)) {
    producers = producerStateOf(partition.log);
    const verdict = producers.check(header);
    if (verdict.kind === 'rejected') return partitionError(index, verdict.errorCode, verdict.message);
    if (verdict.kind === 'duplicate') return answerDuplicate(call, partition, verdict.batch);
  }
  const stored = inTopicCodec(batch, topicCodec(config['compression.type']));
  if (stored !== batch) {
    const recoded = checkProducedRecords(stored, rules);
    if (recoded) return partitionError(index, recoded.errorCode, `after recompression to ${config['compression.type']}: ${recoded.message}`);
  }
  const r = createProduceResponsePartitionProduceResponse();
  r.index = index;
  try {
    const appended = partition.log.append(stored, { leaderEpoch: partition.leaderEpoch, now: call.now, assignOffsets: true });
    // Before anything else can append: the state must follow the log batch by batch.
    producers?.apply(header.reset(stored), call.now);
    call.ctx.metrics.recordProduce(partition.topic, appended.recordCount, stored.length);
    r.baseOffset = BigInt(appended.firstOffset);
    r.logAppendTimeMs = BigInt(appended.logAppendTime);
    r.logStartOffset = BigInt(partition.log.logStartOffset);
    const end = appended.lastOffset + 1;
    call.waits.push(
      appended.durable.then(
        () => partition.advanceHighWatermark(end),
        (e: unknown) => {
          log.error({ err: e, partition: partition.key }, 'flush failed');
          Object.assign(r, partitionError(index, ErrorCode.KAFKA_STORAGE_ERROR, 'the log could not be flushed'));
        },
      ),
    );
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    const code = { 'invalid-record': ErrorCode.INVALID_RECORD, 'record-too-large': ErrorCode.RECORD_LIST_TOO_LARGE } as Record<string, number>;
    return partitionError(index, code[e.kind] ?? ErrorCode.KAFKA_STORAGE_ERROR, e.message);
  }
  return r;
}

/**
 * A retry of one of the producer's last batches: nothing is appended, and the answer is the
 * original's (Kafka's), given no sooner than the original's, which may still be on its way to
 * disk: once the high watermark has passed it, or REQUEST_TIMED_OUT after the request's timeout.
 */
function answerDuplicate(call: ProduceCall, partition: Partition, original: BatchMetadata): ProduceResponsePartitionProduceResponse {
  const r = createProduceResponsePartitionProduceResponse();
  r.index = partition.index;
  r.baseOffset = BigInt(original.firstOffset);
  r.logAppendTimeMs = partition.log.config.timestampType === 'log-append' ? BigInt(original.timestamp) : -1n;
  r.logStartOffset = BigInt(partition.log.logStartOffset);
  call.waits.push(
    highWatermarkPast(partition, original.lastOffset, call.req.timeoutMs).then((reached) => {
      if (!reached) Object.assign(r, partitionError(partition.index, ErrorCode.REQUEST_TIMED_OUT, 'the original of this retried batch is not durable yet'));
    }),
  );
  return r;
}

/** Whether the high watermark moves past `offset` within `timeoutMs`. */
function highWatermarkPast(partition: Partition, offset: number, timeoutMs: number): Promise<boolean> {
  if (partition.highWatermark > offset) return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (reached: boolean): void => {
      clearTimeout(timer);
      stop();
      resolve(reached);
    };
    const timer = setTimeout(() => settle(false), timeoutMs);
    const stop = partition.onNewData(() => {
      if (partition.highWatermark > offset) settle(true);
    });
  });
}
