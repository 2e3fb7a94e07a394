import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { FetchRequest } from '../../protocol/generated/messages/fetch-request.js';
import {
  createFetchResponse,
  createFetchResponsePartitionData,
  type FetchResponse,
  type FetchResponsePartitionData,
} from '../../protocol/generated/messages/fetch-response.js';
import { StorageError } from '../../storage/storage-error.js';
import type { BrokerContext } from '../broker-context.js';
import type { Partition } from '../partition.js';
import { handler } from '../router.js';

const READ_COMMITTED = 1;
const NO_RECORDS = Buffer.alloc(0);

interface Built {
  response: FetchResponse;
  bytes: number;
  hasError: boolean;
  partitions: Partition[];
}

/**
 * One pass over the requested partitions: file regions from each log up to its high
 * watermark, within partition_max_bytes and max_bytes (the first non-empty partition always
 * gets a whole batch, KIP-74). Nothing is read into memory: records are file regions.
 */
function build(ctx: BrokerContext, req: FetchRequest, version: number): Built {
  const response = createFetchResponse();
  let remaining = req.maxBytes;
  let bytes = 0;
  let hasError = false;
  const partitions: Partition[] = [];
  for (const t of req.topics) {
    const name = version >= 13 ? (ctx.metadata.topicById(t.topicId)?.name ?? null) : t.topic;
    const out: FetchResponsePartitionData[] = [];
    response.responses.push({ topic: t.topic, topicId: t.topicId, partitions: out });
    for (const wanted of t.partitions) {
      const data = createFetchResponsePartitionData();
      data.partitionIndex = wanted.partition;
      data.records = NO_RECORDS;
      data.abortedTransactions = req.isolationLevel === READ_COMMITTED ? [] : null;
      out.push(data);
      const p = name === null ? ErrorCode.UNKNOWN_TOPIC_ID : ctx.partitions.lookup(name, wanted.partition);
      if (typeof p === 'number') {
        data.errorCode = p;
        data.highWatermark = -1n;
        data.lastStableOffset = -1n;
        data.logStartOffset = -1n;
        hasError = true;
        continue;
      }
      partitions.push(p);
      data.highWatermark = BigInt(p.highWatermark);
      data.lastStableOffset = BigInt(p.highWatermark);
      data.logStartOffset = BigInt(p.log.logStartOffset);
      if (remaining <= 0 && bytes > 0) continue;
      try {
        const region = p.log.read(Number(wanted.fetchOffset), Math.min(wanted.partitionMaxBytes, Math.max(remaining, 0)), p.highWatermark);
        if (region) {
          data.records = region;
          bytes += region.byteLength;
          remaining -= region.byteLength;
        }
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        // Anything else is the log's directory failing: this partition's answer says so.
        data.errorCode = e.kind === 'offset-out-of-range' ? ErrorCode.OFFSET_OUT_OF_RANGE : ErrorCode.KAFKA_STORAGE_ERROR;
        hasError = true;
      }
    }
  }
  return { response, bytes, hasError, partitions };
}

function recordBytesOut(ctx: BrokerContext, res: FetchResponse): void {
  for (const t of res.responses) {
    let bytes = 0;
    for (const p of t.partitions) bytes += p.records?.byteLength ?? 0;
    ctx.metrics.recordFetch(t.topic || (ctx.metadata.topicById(t.topicId)?.name ?? ''), bytes);
  }
}

/**
 * Fetch: answers at once when min_bytes are there (or on any error), else parks the request
 * until appends bring enough or max_wait_ms passes. Waiting is driven by the partitions'
 * new-data events, never by polling. Fetch sessions (KIP-227) are declined with session id 0,
 * which the protocol allows: clients then send full fetch requests.
 */
export function fetchHandler(ctx: BrokerContext) {
  return handler(apis.Fetch, 4, 17, async (req: FetchRequest, { version }) => {
    if (req.sessionId !== 0 && req.sessionEpoch !== -1) {
      // An incremental fetch on a session we never created.
      const res = createFetchResponse();
      res.errorCode = ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
      return res;
    }
    let built = build(ctx, req, version);
    if (built.hasError || built.bytes >= req.minBytes || req.maxWaitMs <= 0 || built.partitions.length === 0) {
      recordBytesOut(ctx, built.response);
      return built.response;
    }
    await new Promise<void>((resolve) => {
      const stops: (() => void)[] = [];
      const done = (): void => {
        clearTimeout(timer);
        for (const stop of stops) stop();
        resolve();
      };
      const timer = setTimeout(done, req.maxWaitMs);
      const recheck = (): void => {
        built = build(ctx, req, version);
        if (built.hasError || built.bytes >= req.minBytes) done();
      };
      for (const p of built.partitions) stops.push(p.onNewData(recheck));
    });
    const final = build(ctx, req, version);
    recordBytesOut(ctx, final.response);
    return final.response;
  });
}
