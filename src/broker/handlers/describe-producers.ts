import { apis } from '../../protocol/generated/api-table.js';
import { errorByCode } from '../../protocol/generated/errors.js';
import type { DescribeProducersRequest } from '../../protocol/generated/messages/describe-producers-request.js';
import {
  createDescribeProducersResponse,
  createDescribeProducersResponsePartitionResponse,
  type DescribeProducersResponsePartitionResponse,
} from '../../protocol/generated/messages/describe-producers-response.js';
import type { BrokerContext } from '../broker-context.js';
import { producerStateOf } from '../../replication/producers/producer-state.js';
import { handler } from '../router.js';

/**
 * DescribeProducers: the producers each partition keeps state for, with the first offset of a
 * transaction still open there (what `sluice transactions abort` and Kafka's tool look for).
 */
export function describeProducersHandler(ctx: BrokerContext) {
  return handler(apis.DescribeProducers, 0, 0, (req: DescribeProducersRequest) => {
    const now = Date.now();
    const res = createDescribeProducersResponse();
    for (const topic of req.topics) {
      const partitions: DescribeProducersResponsePartitionResponse[] = [];
      res.topics.push({ name: topic.name, partitions });
      for (const index of topic.partitionIndexes) {
        const r = createDescribeProducersResponsePartitionResponse();
        r.partitionIndex = index;
        partitions.push(r);
        const partition = ctx.partitions.lookup(topic.name, index);
        if (typeof partition === 'number') {
          r.errorCode = partition;
          r.errorMessage = errorByCode(partition)?.message ?? null;
          continue;
        }
        r.activeProducers = producerStateOf(partition.log)
          .activeProducers(now)
          .map((p) => ({
            producerId: p.producerId,
            producerEpoch: p.epoch,
            lastSequence: p.lastSequence,
            lastTimestamp: BigInt(p.lastTimestamp),
            coordinatorEpoch: p.coordinatorEpoch,
            currentTxnStartOffset: BigInt(p.currentTxnFirstOffset),
          }));
      }
    }
    return res;
  });
}
