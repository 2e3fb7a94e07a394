import { log } from '../../log.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { InitProducerIdRequest } from '../../protocol/generated/messages/init-producer-id-request.js';
import { createInitProducerIdResponse, type InitProducerIdResponse } from '../../protocol/generated/messages/init-producer-id-response.js';
import type { ProducerIdManager } from '../producers/producer-id-manager.js';
import { handler } from '../router.js';
import { MetadataWriteError } from '../../metadata/store.js';

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

/**
 * InitProducerId for idempotent producers, as Kafka's coordinator answers a null transactional
 * id: always a new producer id with epoch 0, even when v3+ names the producer's current id and
 * epoch. Kafka bumps epochs (KIP-360) only for transactional ids, whose state the coordinator
 * keeps; an idempotent producer bumps its own epoch or, like this, starts over with a new id.
 *
 * Transactions are not supported: a transactional id gets INVALID_REQUEST, which clients treat
 * as fatal and explain as a broker that does not support the request. Kafka answers an empty
 * transactional id with the same code.
 */
export function initProducerIdHandler(ids: ProducerIdManager) {
  return handler(apis.InitProducerId, 0, 5, async (req: InitProducerIdRequest, { connection }) => {
    if (req.transactionalId !== null) {
      log.warn({ transactionalId: req.transactionalId, client: connection.remoteAddress }, 'InitProducerId refused: transactions are not supported');
      return failed(ErrorCode.INVALID_REQUEST);
    }
    // Kafka refuses an id without an epoch, or the reverse.
    if ((req.producerId === NO_PRODUCER_ID) !== (req.producerEpoch === NO_PRODUCER_EPOCH)) return failed(ErrorCode.INVALID_REQUEST);
    let producerId: bigint;
    try {
      producerId = await ids.nextProducerId();
    } catch (e) {
      log.error({ err: e }, 'could not reserve producer ids');
      // The metadata store away (etcd down) is worth a retry; anything else is not.
      return failed(e instanceof MetadataWriteError ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.UNKNOWN_SERVER_ERROR);
    }
    const res = createInitProducerIdResponse();
    res.producerId = producerId;
    res.producerEpoch = 0;
    return res;
  });
}
