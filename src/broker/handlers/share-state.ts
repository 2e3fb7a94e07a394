import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { ReadShareGroupStateRequest } from '../../protocol/generated/messages/read-share-group-state-request.js';
import { createReadShareGroupStateResponse } from '../../protocol/generated/messages/read-share-group-state-response.js';
import type { WriteShareGroupStateRequest } from '../../protocol/generated/messages/write-share-group-state-request.js';
import { createWriteShareGroupStateResponse } from '../../protocol/generated/messages/write-share-group-state-response.js';
import type { RecordStateId } from '../../coordinator/share/share-partition.js';
import { SHARE_STATE_TOPIC, shareStateKey, type StoredShareState } from '../../coordinator/share/share-state-log.js';
import { ShareStateError, type RemoteShareState, type ShareKey, type ShareStateStore } from '../../coordinator/share/share-state-store.js';
import { coordinatorWriteError } from '../../coordinator/coordinator-log.js';
import type { BrokerContext } from '../broker-context.js';
import type { PeerConnections } from '../peer-connections.js';
import { handler } from '../router.js';

type WireBatch = { firstOffset: bigint; lastOffset: bigint; deliveryState: number; deliveryCount: number };

const toWire = (s: StoredShareState): WireBatch[] =>
  s.batches.map((b) => ({ firstOffset: BigInt(b.firstOffset), lastOffset: BigInt(b.lastOffset), deliveryState: b.state, deliveryCount: b.deliveryCount }));
const fromWire = (batches: readonly WireBatch[]): StoredShareState['batches'] =>
  batches.map((b) => ({ firstOffset: Number(b.firstOffset), lastOffset: Number(b.lastOffset), state: b.deliveryState as RecordStateId, deliveryCount: b.deliveryCount }));

/**
 * ReadShareGroupState (Kafka's share coordinator side): the stored state of share-partitions
 * whose __share_group_state partition this broker leads, for the broker leading the topic
 * partition. A share-partition never written answers with state epoch -1 (Kafka's "no state").
 */
export function readShareGroupStateHandler(store: ShareStateStore) {
  return handler(apis.ReadShareGroupState, 0, 0, (req: ReadShareGroupStateRequest) => {
    const res = createReadShareGroupStateResponse();
    res.results = req.topics.map((t) => ({
      topicId: t.topicId,
      partitions: t.partitions.map((p) => {
        const state = store.storedState({ groupId: req.groupId, topicId: t.topicId, partition: p.partition });
        const none = { partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: null, stateEpoch: -1, startOffset: -1n, stateBatches: [] as WireBatch[] };
        if (typeof state === 'number') return { ...none, errorCode: state };
        if (state === null) return none;
        return { ...none, stateEpoch: state.stateEpoch, startOffset: BigInt(state.startOffset), stateBatches: toWire(state) };
      }),
    }));
    return res;
  });
}

/** WriteShareGroupState: stores share-partition states this broker is the share coordinator of. */
export function writeShareGroupStateHandler(store: ShareStateStore) {
  return handler(apis.WriteShareGroupState, 0, 0, async (req: WriteShareGroupStateRequest) => {
    const res = createWriteShareGroupStateResponse();
    res.results = await Promise.all(
      req.topics.map(async (t) => ({
        topicId: t.topicId,
        partitions: await Promise.all(
          t.partitions.map(async (p) => {
            try {
              await store.store({
                groupId: req.groupId,
                topicId: t.topicId,
                partition: p.partition,
                stateEpoch: p.stateEpoch,
                leaderEpoch: p.leaderEpoch,
                startOffset: Number(p.startOffset),
                batches: fromWire(p.stateBatches),
              });
              return { partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: null };
            } catch (e) {
              return { partition: p.partition, errorCode: e instanceof ShareStateError ? e.errorCode : coordinatorWriteError(e), errorMessage: (e as Error).message };
            }
          }),
        ),
      })),
    );
    return res;
  });
}

/** Reads and writes share state kept by other brokers, over the broker's peer connections. */
export function remoteShareState(ctx: BrokerContext, peers: PeerConnections): RemoteShareState {
  return {
    leaderOf(index) {
      const leader = ctx.metadata.partition(SHARE_STATE_TOPIC, index)?.leader;
      return leader === undefined || leader < 0 ? null : leader;
    },
    async read(nodeId, key: ShareKey) {
      const res = await peers.request(nodeId, (conn) =>
        conn.send('ReadShareGroupState', { groupId: key.groupId, topics: [{ topicId: key.topicId, partitions: [{ partition: key.partition, leaderEpoch: -1 }] }] }, 0),
      );
      const p = res.results[0]?.partitions[0];
      if (!p) throw new ShareStateError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `broker ${nodeId} answered no share state`);
      if (p.errorCode !== ErrorCode.NONE) throw new ShareStateError(p.errorCode, `broker ${nodeId} could not read ${shareStateKey(key.groupId, key.topicId, key.partition)}`);
      if (p.stateEpoch < 0) return null;
      return { ...key, stateEpoch: p.stateEpoch, leaderEpoch: -1, startOffset: Number(p.startOffset), batches: fromWire(p.stateBatches) };
    },
    async write(nodeId, state) {
      const res = await peers.request(nodeId, (conn) =>
        conn.send(
          'WriteShareGroupState',
          {
            groupId: state.groupId,
            topics: [{ topicId: state.topicId, partitions: [{ partition: state.partition, stateEpoch: state.stateEpoch, leaderEpoch: state.leaderEpoch, startOffset: BigInt(state.startOffset), stateBatches: toWire(state) }] }],
          },
          0,
        ),
      );
      const code = res.results[0]?.partitions[0]?.errorCode ?? ErrorCode.COORDINATOR_NOT_AVAILABLE;
      if (code !== ErrorCode.NONE) throw new ShareStateError(code, `broker ${nodeId} could not store share state (error ${code})`);
    },
  };
}
