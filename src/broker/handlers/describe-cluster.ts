import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { DescribeClusterRequest } from '../../protocol/generated/messages/describe-cluster-request.js';
import { createDescribeClusterResponse } from '../../protocol/generated/messages/describe-cluster-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { liveBrokers } from '../cluster-view.js';
import { authorizedOperations } from './authorized-operations.js';

/** Kafka's EndpointType ids. */
const EndpointType = { BROKER: 1, CONTROLLER: 2 } as const;
const ENDPOINT_NAMES: Record<number, string> = { [EndpointType.BROKER]: 'BROKER', [EndpointType.CONTROLLER]: 'CONTROLLER' };

/** DescribeCluster: the registered brokers and the controller. */
export function describeClusterHandler(ctx: BrokerContext) {
  return handler(apis.DescribeCluster, 0, 1, (req: DescribeClusterRequest, { version, connection }) => {
    const res = createDescribeClusterResponse();
    const wanted = req.endpointType;
    if (wanted !== EndpointType.BROKER) {
      // Controllers are not a separate endpoint here: Sluice answers as a broker only.
      const known = ENDPOINT_NAMES[wanted];
      const code = version === 0 ? ErrorCode.INVALID_REQUEST : known ? ErrorCode.MISMATCHED_ENDPOINT_TYPE : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE;
      res.errorCode = code;
      res.errorMessage = known
        ? `The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type ${known}`
        : `Unsupported endpoint type ${wanted}`;
      return res;
    }
    res.clusterId = ctx.metadata.clusterId;
    res.controllerId = ctx.metadata.controllerId;
    res.brokers = liveBrokers(ctx, connection.listenerName).map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack }));
    res.clusterAuthorizedOperations = authorizedOperations('cluster', req.includeClusterAuthorizedOperations);
    return res;
  });
}
