import { apis } from '../../protocol/generated/api-table.js';
import type { ListOffsetsRequest } from '../../protocol/generated/messages/list-offsets-request.js';
import {
  createListOffsetsResponse,
  createListOffsetsResponseListOffsetsPartitionResponse,
} from '../../protocol/generated/messages/list-offsets-response.js';
import type { Partition } from '../../replication/partition.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { StorageError } from '../../storage/storage-error.js';
import type { TimestampAndOffset } from '../../storage/partition-log.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';

/** ListOffsets' special timestamps. */
const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

const NOT_FOUND: TimestampAndOffset = { timestamp: -1, offset: -1 };
const READ_COMMITTED = 1;

/** What a consumer of this isolation level may read up to: the high watermark, or (read_committed) the last stable offset. */
function lookup(p: Partition, timestamp: number, committedOnly: boolean): TimestampAndOffset {
  const visibleEnd = committedOnly ? p.lastStableOffset(true) : p.highWatermark;
  switch (timestamp) {
    case LATEST:
      return { timestamp: -1, offset: visibleEnd };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { timestamp: -1, offset: p.log.logStartOffset };
    case MAX_TIMESTAMP:
      return p.log.maxTimestampAndOffset() ?? NOT_FOUND;
    case LATEST_TIERED:
      // Nothing is tiered: there is no such offset.
      return NOT_FOUND;
    default: {
      const found = p.log.offsetForTimestamp(timestamp);
      // Only what consumers may read: below the high watermark.
      return found && found.offset < visibleEnd ? found : NOT_FOUND;
    }
  }
}

/**
 * ListOffsets v0 (what sarama-based tools such as Burrow send): up to maxNumOffsets offsets,
 * largest first, as Kafka's legacyFetchOffsetsBefore gives them (segment starts and the log
 * end); a consumer sees none past the high watermark, which takes their place.
 */
function legacyOffsets(p: Partition, timestamp: number, maxNumOffsets: number): bigint[] {
  const offsets = p.log.legacyOffsetsBefore(timestamp, Math.max(0, maxNumOffsets));
  const hw = p.highWatermark;
  const visible = offsets.some((o) => o > hw) ? [hw, ...offsets.filter((o) => o <= hw)] : offsets;
  return visible.map(BigInt);
}

/** ListOffsets: earliest, latest, max timestamp, or the first offset at or after a time (v0: a list of offsets). */
export function listOffsetsHandler(ctx: BrokerContext) {
  return handler(apis.ListOffsets, 0, 9, (req: ListOffsetsRequest, { version }) => {
    const res = createListOffsetsResponse();
    res.topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((wanted) => {
        const r = createListOffsetsResponseListOffsetsPartitionResponse();
        r.partitionIndex = wanted.partitionIndex;
        // Offsets come from the leader, the one replica sure of its high watermark.
        const p = ctx.partitions.lookupLeader(t.name, wanted.partitionIndex);
        if (typeof p === 'number') {
          r.errorCode = p;
          return r;
        }
        let found: TimestampAndOffset;
        try {
          if (version === 0) {
            r.oldStyleOffsets = legacyOffsets(p, Number(wanted.timestamp), wanted.maxNumOffsets);
            return r;
          }
          found = lookup(p, Number(wanted.timestamp), version >= 2 && req.isolationLevel === READ_COMMITTED);
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          r.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
          return r;
        }
        r.timestamp = BigInt(found.timestamp);
        r.offset = BigInt(found.offset);
        // Leader epochs exist on the wire from v4.
        if (version >= 4) r.leaderEpoch = p.leaderEpoch;
        return r;
      }),
    }));
    return res;
  });
}
