import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { log } from '../../log.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { DescribeLogDirsRequest } from '../../protocol/generated/messages/describe-log-dirs-request.js';
import {
  createDescribeLogDirsResponse,
  createDescribeLogDirsResponseDescribeLogDirsResult,
  type DescribeLogDirsResponseDescribeLogDirsResult,
  type DescribeLogDirsResponseDescribeLogDirsTopic,
} from '../../protocol/generated/messages/describe-log-dirs-response.js';
import type { BrokerContext } from '../broker-context.js';
import type { Partition } from '../../replication/partition.js';
import type { LogMove } from '../../storage/log-manager.js';
import { handler } from '../router.js';

/** Which partitions the request asks about: null for all of them. */
function selection(req: DescribeLogDirsRequest): ((p: Partition) => boolean) | null {
  if (req.topics === null) return null;
  const wanted = new Map(req.topics.map((t) => [t.topic, new Set(t.partitions)]));
  return (p) => wanted.get(p.topic)?.has(p.index) ?? false;
}

function describeDir(dir: string, partitions: Partition[], futures: LogMove[] = []): DescribeLogDirsResponseDescribeLogDirsResult {
  const r = createDescribeLogDirsResponseDescribeLogDirsResult();
  r.logDir = dir;
  const byTopic = new Map<string, DescribeLogDirsResponseDescribeLogDirsTopic>();
  for (const p of partitions) {
    let topic = byTopic.get(p.topic);
    if (!topic) byTopic.set(p.topic, (topic = { name: p.topic, partitions: [] }));
    topic.partitions.push({ partitionIndex: p.index, partitionSize: BigInt(p.log.size), offsetLag: BigInt(p.lag), isFutureKey: false });
  }
  // Future replicas (AlterReplicaLogDirs under way), as Kafka lists them: in their target directory.
  for (const m of futures) {
    let topic = byTopic.get(m.topic);
    if (!topic) byTopic.set(m.topic, (topic = { name: m.topic, partitions: [] }));
    topic.partitions.push({ partitionIndex: m.partition, partitionSize: BigInt(m.bytes), offsetLag: 0n, isFutureKey: true });
  }
  r.topics = [...byTopic.values()];
  try {
    const fs = statfsSync(dir, { bigint: true });
    r.totalBytes = fs.blocks * fs.bsize;
    // What an unprivileged writer may still use, as Java's FileStore.getUsableSpace reports.
    r.usableBytes = fs.bavail * fs.bsize;
  } catch (e) {
    log.warn({ err: e, dir }, 'log directory unreadable');
    r.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
  }
  return r;
}

/** DescribeLogDirs: every log directory with the size of each partition log it holds. */
export function describeLogDirsHandler(ctx: BrokerContext) {
  return handler(apis.DescribeLogDirs, 0, 4, (req: DescribeLogDirsRequest) => {
    const res = createDescribeLogDirsResponse();
    const selected = selection(req);
    const partitions = ctx.partitions.all().filter((p) => selected === null || selected(p));
    const offline = ctx.logs.offlineDirs();
    res.results = ctx.config.logDirs.map((d) => {
      const dir = resolve(d);
      if (offline.has(dir)) {
        // As Kafka answers for a failed directory: the error, and nothing about its partitions.
        const r = createDescribeLogDirsResponseDescribeLogDirsResult();
        r.logDir = dir;
        r.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
        return r;
      }
      return describeDir(
        dir,
        partitions.filter((p) => dirname(p.log.dir) === dir),
        ctx.logs.futureLogs().filter((m) => m.dir === dir && (req.topics === null || req.topics.some((t) => t.topic === m.topic && t.partitions.includes(m.partition)))),
      );
    });
    return res;
  });
}
