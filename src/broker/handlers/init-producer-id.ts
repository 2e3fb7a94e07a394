import { log } from '../../log.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { InitProducerIdRequest } from '../../protocol/generated/messages/init-producer-id-request.js';
import { createInitProducerIdResponse, type InitProducerIdResponse } from '../../protocol/generated/messages/init-producer-id-response.js';
import type { ProducerIdManager } from '../../coordinator/transactions/producer-id-manager.js';
import { handler } from '../router.js';
import { MetadataWriteError } from '../../metadata/store.js';
import type { TransactionCoordinator } from '../../coordinator/transactions/transaction-coordinator.js';
import { fencedFor } from './transactions.js';

/** "No producer yet" in InitProducerId v3+, for both the id and the epoch. */
const NO_PRODUCER_ID = -1n;
const NO_PRODUCER_EPOCH = -1;

function failed(errorCode: number): InitProducerIdResponse {
  const res = createInitProducerIdResponse();
  res.errorCode = errorCode;
  res.producerId = NO_PRODUCER_ID;
  res.producerEpoch = NO_PRODUCER_EPOCH;
  return res;
}

/** The metadata store away (etcd down) is worth a retry; anything else is not. */
function idsUnavailable(e: unknown): InitProducerIdResponse {
  log.error({ err: e }, 'could not reserve producer ids');
  return failed(e instanceof MetadataWriteError ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.UNKNOWN_SERVER_ERROR);
}

/**
 * InitProducerId. With a transactional id the transaction coordinator answers (an epoch bump
 * that fences older producers of the id). Without one, as Kafka answers idempotent producers:
 * always a new producer id with epoch 0, even when v3+ names the producer's current id and
 * epoch; Kafka bumps epochs (KIP-360) only for transactional ids, whose state the coordinator
 * keeps, and an idempotent producer bumps its own epoch or, like this, starts over.
 */
export function initProducerIdHandler(ids: ProducerIdManager, txns: TransactionCoordinator) {
  return handler(apis.InitProducerId, 0, 5, async (req: InitProducerIdRequest, { version }) => {
    // Kafka refuses an id without an epoch, or the reverse, and an empty transactional id.
    if ((req.producerId === NO_PRODUCER_ID) !== (req.producerEpoch === NO_PRODUCER_EPOCH) || req.transactionalId === '') return failed(ErrorCode.INVALID_REQUEST);
    if (req.transactionalId !== null) {
      const current = version >= 3 ? { producerId: req.producerId, producerEpoch: req.producerEpoch } : null;
      let result;
      try {
        result = await txns.initProducerId(req.transactionalId, req.transactionTimeoutMs, current);
      } catch (e) {
        return idsUnavailable(e);
      }
      const res = failed(fencedFor(result.errorCode, version, 4));
      if (result.errorCode === ErrorCode.NONE) Object.assign(res, { producerId: result.producerId, producerEpoch: result.producerEpoch });
      return res;
    }
    let producerId: bigint;
    try {
      producerId = await ids.nextProducerId();
    } catch (e) {
      return idsUnavailable(e);
    }
    const res = createInitProducerIdResponse();
    res.producerId = producerId;
    res.producerEpoch = 0;
    return res;
  });
}
