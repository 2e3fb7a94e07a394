import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { decodeRecordBatch, encodeRecordBatch } from '../protocol/records/record-batch.js';
import type { RecordHeaderInput, RecordInput } from '../protocol/records/record.js';
import type { Partition } from '../replication/partition.js';
import { waitForHighWatermark } from '../replication/high-watermark-wait.js';
import type { ShareGroupConfigSource } from '../coordinator/share/share-group-config.js';
import type { DeadLetter } from '../coordinator/share/share-partition.js';
import type { ShareKey } from '../coordinator/share/share-state-store.js';
import { batchesFrom, forEachBatch } from '../storage/log-reader.js';
import type { BrokerContext } from './broker-context.js';
import { DLQ_HEADERS } from './dead-letter-headers.js';
import { createTopic } from './topic-creation.js';

export { DLQ_HEADERS };

/** How far back recovery looks in a dead-letter partition for letters written before a crash. */
const RECOVERY_SCAN_RECORDS = 10_000;
const WRITE_TIMEOUT_MS = 10_000;

class DeadLetterError extends Error {}

/** The record at `offset` of a partition's log, or null when there is none (compacted, deleted). */
function recordAt(p: Partition, offset: number): { input: RecordInput; timestamp: bigint } | null {
  const batch = batchesFrom(p.log, offset, 1, p.highWatermark).find((b) => b.baseOffset <= offset && b.lastOffset >= offset);
  if (!batch) return null;
  const decoded = decodeRecordBatch(batch.bytes);
  const r = decoded.records.find((x) => Number(decoded.baseOffset) + x.offsetDelta === offset);
  return r ? { input: { key: r.key, value: r.value, headers: r.headers }, timestamp: decoded.baseTimestamp + BigInt(r.timestampDelta) } : null;
}

/** The (group, topic, partition, offset) a dead letter names, as one string. */
function identity(headers: readonly { key: string; value: Uint8Array | null }[]): string | null {
  const get = (k: string) => {
    const h = headers.find((x) => x.key === k);
    return h?.value ? Buffer.from(h.value).toString() : null;
  };
  const parts = [get(DLQ_HEADERS.group), get(DLQ_HEADERS.topic), get(DLQ_HEADERS.partition), get(DLQ_HEADERS.offset)];
  return parts.some((x) => x === null) ? null : parts.join('\0');
}

/**
 * Writes a share group's dead letters (KIP-1191's dead-letter topic, errors.deadletterqueue.topic.name):
 * the record as it was, with headers naming its topic, partition, offset, group, delivery count
 * and why, to the dead-letter topic's partition of the same number (modulo its partition count).
 * The topic is made on first use when topics may be auto-created. A dead-letter topic that is
 * the record's own topic is refused: the record would come back to the same group.
 */
export class ShareDeadLetters {
  private readonly refused = new Set<string>();
  /** Dead letters written since start, for /metrics. */
  written = 0;

  constructor(
    private readonly ctx: BrokerContext,
    private readonly config: ShareGroupConfigSource,
  ) {}

  async write(key: ShareKey, letters: readonly DeadLetter[], recovering: boolean): Promise<void> {
    const dlq = this.config(key.groupId).deadLetterTopic;
    const source = this.ctx.metadata.topicById(key.topicId)?.name;
    if (dlq === null || source === undefined) return;
    if (dlq === source) {
      this.refuseOnce(key.groupId, dlq, 'the dead-letter topic is the topic the records come from: they are archived without a dead letter');
      return;
    }
    const target = await this.partitionOf(dlq, key.partition);
    const from = this.ctx.partitions.lookupLeader(source, key.partition);
    if (typeof from === 'number') throw new DeadLetterError(`${source}-${key.partition} is not led here`);
    const written = recovering ? this.alreadyWritten(target) : new Set<string>();
    const now = Date.now();
    const records: RecordInput[] = [];
    for (const l of letters) {
      const id = [key.groupId, source, String(key.partition), String(l.offset)].join('\0');
      if (written.has(id)) continue;
      const original = recordAt(from, l.offset);
      if (!original) continue;
      const context: RecordHeaderInput[] = [
        [DLQ_HEADERS.topic, source],
        [DLQ_HEADERS.partition, String(key.partition)],
        [DLQ_HEADERS.offset, String(l.offset)],
        [DLQ_HEADERS.group, key.groupId],
        [DLQ_HEADERS.deliveryCount, String(l.deliveryCount)],
        [DLQ_HEADERS.reason, l.reason],
        [DLQ_HEADERS.timestamp, String(original.timestamp)],
      ].map(([k, v]) => ({ key: k, value: Buffer.from(v) }));
      records.push({ key: original.input.key, value: original.input.value, headers: [...(original.input.headers ?? []), ...context], offsetDelta: records.length });
    }
    if (records.length === 0) return;
    const appended = target.appendAsLeader(encodeRecordBatch({ baseTimestamp: BigInt(now), records }), now);
    await appended.durable;
    const outcome = await waitForHighWatermark(target, appended.lastOffset + 1, WRITE_TIMEOUT_MS);
    if (outcome !== 'reached') throw new DeadLetterError(`dead letters to ${target.key} not replicated: ${outcome}`);
    this.written += records.length;
    log.info({ group: key.groupId, topic: source, partition: key.partition, deadLetterTopic: dlq, records: records.length }, 'records dead-lettered');
  }

  private refuseOnce(groupId: string, dlq: string, why: string): void {
    if (this.refused.has(`${groupId}\0${dlq}`)) return;
    this.refused.add(`${groupId}\0${dlq}`);
    log.error({ group: groupId, deadLetterTopic: dlq }, why);
  }

  /** The dead-letter topic's partition for a source partition, made when it does not exist and may be. */
  private async partitionOf(dlq: string, sourcePartition: number): Promise<Partition> {
    if (!this.ctx.metadata.topic(dlq)) {
      if (!this.ctx.config.autoCreateTopicsEnable) throw new DeadLetterError(`dead-letter topic ${dlq} does not exist and auto.create.topics.enable is false`);
      const created = await createTopic(this.ctx, { name: dlq, numPartitions: -1, replicationFactor: -1, configs: new Map() });
      if (created.errorCode !== ErrorCode.NONE && created.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) throw new DeadLetterError(`dead-letter topic ${dlq} could not be created: ${created.errorMessage}`);
    }
    const count = this.ctx.partitions.partitionCount(dlq);
    if (count === 0) throw new DeadLetterError(`dead-letter topic ${dlq} has no partitions here yet`);
    const p = this.ctx.partitions.lookupLeader(dlq, sourcePartition % count);
    if (typeof p === 'number') throw new DeadLetterError(`${dlq}-${sourcePartition % count} is not led here`);
    return p;
  }

  /** The letters at the end of a dead-letter partition, by identity: what a crash may have left written. */
  private alreadyWritten(p: Partition): Set<string> {
    const out = new Set<string>();
    forEachBatch(p.log, Math.max(p.log.logStartOffset, p.log.logEndOffset - RECOVERY_SCAN_RECORDS), p.log.logEndOffset, (bytes) => {
      for (const r of decodeRecordBatch(bytes).records) {
        const id = identity(r.headers);
        if (id !== null) out.add(id);
      }
    });
    return out;
  }
}
