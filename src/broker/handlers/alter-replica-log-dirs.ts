import { resolve } from 'node:path';
import { log } from '../../log.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { AlterReplicaLogDirsRequest } from '../../protocol/generated/messages/alter-replica-log-dirs-request.js';
import { createAlterReplicaLogDirsResponse, type AlterReplicaLogDirsResponseAlterReplicaLogDirTopicResult } from '../../protocol/generated/messages/alter-replica-log-dirs-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';

/** Where one partition's replica here may go: NONE when the move starts (or it is there already), else Kafka's error. */
function startMove(ctx: BrokerContext, dir: string, topic: string, index: number): number {
  if (!ctx.logs.logDirs.includes(dir)) return ErrorCode.LOG_DIR_NOT_FOUND;
  if (ctx.logs.offlineDirs().has(dir)) return ErrorCode.KAFKA_STORAGE_ERROR;
  if (!ctx.partitions.isMoving(topic, index)) {
    const p = ctx.partitions.lookup(topic, index);
    if (p === ErrorCode.KAFKA_STORAGE_ERROR) return ErrorCode.KAFKA_STORAGE_ERROR;
    if (typeof p === 'number') return ErrorCode.REPLICA_NOT_AVAILABLE;
    if (ctx.logs.dirOfLog(topic, index) === dir) return ErrorCode.NONE;
  }
  ctx.partitions.moveToDir(topic, index, dir).catch((e: unknown) => {
    log.warn({ partition: `${topic}-${index}`, dir, err: (e as Error).message }, 'log directory move failed: the partition stays where it was');
  });
  return ErrorCode.NONE;
}

/**
 * AlterReplicaLogDirs: moves replicas here to other log directories, online (see
 * ReplicaManager.moveToDir). Answered as soon as each move starts, as Kafka does; DescribeLogDirs
 * shows the future replica meanwhile, and the partition in its new directory once done.
 */
export function alterReplicaLogDirsHandler(ctx: BrokerContext) {
  return handler(apis.AlterReplicaLogDirs, apis.AlterReplicaLogDirs.minVersion, apis.AlterReplicaLogDirs.maxVersion, (req: AlterReplicaLogDirsRequest) => {
    const res = createAlterReplicaLogDirsResponse();
    const byTopic = new Map<string, AlterReplicaLogDirsResponseAlterReplicaLogDirTopicResult>();
    for (const d of req.dirs) {
      const dir = resolve(d.path);
      for (const t of d.topics) {
        let result = byTopic.get(t.name);
        if (!result) byTopic.set(t.name, (result = { topicName: t.name, partitions: [] }));
        for (const index of t.partitions) result.partitions.push({ partitionIndex: index, errorCode: startMove(ctx, dir, t.name, index) });
      }
    }
    res.results = [...byTopic.values()];
    return res;
  });
}
