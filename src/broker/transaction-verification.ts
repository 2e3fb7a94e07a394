import { coordinatorPartitionFor } from '../coordinator/coordinator-log.js';
import type { TransactionCoordinator } from '../coordinator/transactions/transaction-coordinator.js';
import { TRANSACTION_STATE_TOPIC } from '../coordinator/transactions/transaction-metadata.js';
import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { BrokerContext } from './broker-context.js';
import type { PeerConnections } from './peer-connections.js';

/** What a producer's first transactional batch to a partition names. */
export interface TransactionalWrite {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  topic: string;
  partition: number;
}

/**
 * Coordinator answers a produce cannot pass on as they are: the client retries the produce on
 * NOT_ENOUGH_REPLICAS (Kafka's mapping for verification that could not be done), and a fenced
 * producer hears INVALID_PRODUCER_EPOCH, which every Produce version knows.
 */
function produceErrorOf(code: number): number {
  switch (code) {
    case ErrorCode.NONE:
    case ErrorCode.INVALID_TXN_STATE:
    case ErrorCode.INVALID_PRODUCER_ID_MAPPING:
      return code;
    case ErrorCode.PRODUCER_FENCED:
    case ErrorCode.INVALID_PRODUCER_EPOCH:
      return ErrorCode.INVALID_PRODUCER_EPOCH;
    default:
      return ErrorCode.NOT_ENOUGH_REPLICAS;
  }
}

/**
 * KIP-890 part 1: before a partition leader appends a producer's first transactional batch, it
 * asks the transaction coordinator whether the partition is in the producer's open transaction
 * (AddPartitionsToTxn, verify only). A batch that arrives after its transaction ended (a
 * delayed retry, a zombie) would otherwise open a transaction no coordinator knows, holding
 * the last stable offset, and so every read_committed consumer, forever.
 */
export class TransactionVerifier {
  /** Verifications under way, shared by the batches of one producer to one partition. */
  private readonly pending = new Map<string, Promise<number>>();

  constructor(
    private readonly ctx: BrokerContext,
    private readonly txns: TransactionCoordinator,
    private readonly peers: PeerConnections,
  ) {}

  /** NONE when the write may be appended; otherwise the Produce error to answer with. */
  verify(w: TransactionalWrite): Promise<number> {
    const key = `${w.transactionalId}\0${w.producerId}\0${w.producerEpoch}\0${w.topic}\0${w.partition}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.ask(w).then(produceErrorOf, (e: Error) => {
        log.warn({ transactionalId: w.transactionalId, err: e.message }, 'could not verify a transactional produce with its coordinator');
        return ErrorCode.NOT_ENOUGH_REPLICAS;
      });
      this.pending.set(key, p);
      void p.finally(() => this.pending.delete(key));
    }
    return p;
  }

  private async ask(w: TransactionalWrite): Promise<number> {
    const count = this.ctx.partitions.partitionCount(TRANSACTION_STATE_TOPIC);
    if (count === 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const leader = this.ctx.metadata.partition(TRANSACTION_STATE_TOPIC, coordinatorPartitionFor(w.transactionalId, count))?.leader ?? -1;
    const partitions = [{ topic: w.topic, partition: w.partition }];
    if (leader === this.ctx.config.nodeId) return this.txns.addPartitions(w.transactionalId, w.producerId, w.producerEpoch, partitions, true);
    if (leader < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const res = await this.peers.request(leader, (conn) =>
      conn.send(
        'AddPartitionsToTxn',
        {
          transactions: [
            { transactionalId: w.transactionalId, producerId: w.producerId, producerEpoch: w.producerEpoch, verifyOnly: true, topics: [{ name: w.topic, partitions: [w.partition] }] },
          ],
          v3AndBelowTransactionalId: '',
          v3AndBelowProducerId: 0n,
          v3AndBelowProducerEpoch: 0,
          v3AndBelowTopics: [],
        },
        Math.max(4, conn.versionFor('AddPartitionsToTxn')),
      ),
    );
    if (res.errorCode !== ErrorCode.NONE) return res.errorCode;
    return res.resultsByTransaction[0]?.topicResults[0]?.resultsByPartition[0]?.partitionErrorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}
