import { Reader } from '../../protocol/primitives/reader.js';
import { ShareSnapshotKeyCodec, type ShareSnapshotKey } from '../../protocol/generated/share-coordinator/share-snapshot-key.js';
import { ShareSnapshotValueCodec } from '../../protocol/generated/share-coordinator/share-snapshot-value.js';
import { versionedRecord, type CoordinatorRecord } from '../coordinator-log.js';
import type { RecordStateId, StateBatch } from './share-partition.js';

/** Kafka's internal topic of share-partition state (KIP-932's share coordinator). */
export const SHARE_STATE_TOPIC = '__share_group_state';

/** The record type (key version) of a ShareSnapshot; 1, ShareUpdate, carries deltas Sluice does not write. */
const SNAPSHOT = 0;

/** A share-partition's state as stored. */
export interface StoredShareState {
  groupId: string;
  topicId: string;
  partition: number;
  startOffset: number;
  stateEpoch: number;
  leaderEpoch: number;
  batches: StateBatch[];
}

/** The key a share-partition's records are filed under: Kafka's share coordinator key, group:topicId:partition. */
export function shareStateKey(groupId: string, topicId: string, partition: number): string {
  return `${groupId}:${topicId}:${partition}`;
}

function snapshotKey(k: ShareSnapshotKey): Buffer {
  return versionedRecord(SNAPSHOT, (w) => ShareSnapshotKeyCodec.write(w, k, 0));
}

/** A full snapshot of a share-partition (each write replaces the last; compaction keeps only it). */
export function snapshotRecord(s: StoredShareState, snapshotEpoch: number): CoordinatorRecord {
  return {
    key: snapshotKey({ groupId: s.groupId, topicId: s.topicId, partition: s.partition }),
    value: versionedRecord(0, (w) =>
      ShareSnapshotValueCodec.write(
        w,
        {
          snapshotEpoch,
          stateEpoch: s.stateEpoch,
          leaderEpoch: s.leaderEpoch,
          startOffset: BigInt(s.startOffset),
          stateBatches: s.batches.map((b) => ({ firstOffset: BigInt(b.firstOffset), lastOffset: BigInt(b.lastOffset), deliveryState: b.state, deliveryCount: b.deliveryCount })),
        },
        0,
      ),
    ),
  };
}

/** The tombstone that deletes a share-partition's state. */
export function deletionRecord(groupId: string, topicId: string, partition: number): CoordinatorRecord {
  return { key: snapshotKey({ groupId, topicId, partition }), value: null };
}

/** A record of __share_group_state read back: a snapshot, a deletion (state null), or null for a type not written here. */
export function readShareStateRecord(key: Buffer, value: Buffer | null): { groupId: string; topicId: string; partition: number; state: StoredShareState | null } | null {
  const kr = new Reader(key);
  if (kr.int16() !== SNAPSHOT) return null;
  const k = ShareSnapshotKeyCodec.read(kr, 0);
  if (value === null) return { ...k, state: null };
  const vr = new Reader(value);
  const v = ShareSnapshotValueCodec.read(vr, Math.min(vr.int16(), ShareSnapshotValueCodec.maxVersion));
  return {
    ...k,
    state: {
      ...k,
      startOffset: Number(v.startOffset),
      stateEpoch: v.stateEpoch,
      leaderEpoch: v.leaderEpoch,
      batches: v.stateBatches.map((b) => ({ firstOffset: Number(b.firstOffset), lastOffset: Number(b.lastOffset), state: b.deliveryState as RecordStateId, deliveryCount: b.deliveryCount })),
    },
  };
}
