import { Reader } from '../../protocol/primitives/reader.js';
import { ShareGroupMetadataKeyCodec } from '../../protocol/generated/group-coordinator/share-group-metadata-key.js';
import { ShareGroupMetadataValueCodec } from '../../protocol/generated/group-coordinator/share-group-metadata-value.js';
import { ShareGroupMemberMetadataKeyCodec } from '../../protocol/generated/group-coordinator/share-group-member-metadata-key.js';
import { ShareGroupMemberMetadataValueCodec, type ShareGroupMemberMetadataValue } from '../../protocol/generated/group-coordinator/share-group-member-metadata-value.js';
import { ShareGroupCurrentMemberAssignmentKeyCodec } from '../../protocol/generated/group-coordinator/share-group-current-member-assignment-key.js';
import {
  ShareGroupCurrentMemberAssignmentValueCodec,
  type ShareGroupCurrentMemberAssignmentValue,
} from '../../protocol/generated/group-coordinator/share-group-current-member-assignment-value.js';
import { versionedRecord, type CoordinatorRecord } from '../coordinator-log.js';

/**
 * The share group records of __consumer_offsets, in Kafka's formats: the key version is the
 * record type (KIP-932's numbering), every value is version 0.
 */
const KEY = { MEMBER_METADATA: 10, METADATA: 11, CURRENT_ASSIGNMENT: 14 } as const;

export type ShareGroupRecord =
  | { kind: 'metadata'; groupId: string; epoch: number | null }
  | { kind: 'member'; groupId: string; memberId: string; value: ShareGroupMemberMetadataValue | null }
  | { kind: 'assignment'; groupId: string; memberId: string; value: ShareGroupCurrentMemberAssignmentValue | null };

export function groupEpochRecord(groupId: string, epoch: number | null): CoordinatorRecord {
  return {
    key: versionedRecord(KEY.METADATA, (w) => ShareGroupMetadataKeyCodec.write(w, { groupId }, KEY.METADATA)),
    value: epoch === null ? null : versionedRecord(0, (w) => ShareGroupMetadataValueCodec.write(w, { epoch }, 0)),
  };
}

export function memberMetadataRecord(groupId: string, memberId: string, value: ShareGroupMemberMetadataValue | null): CoordinatorRecord {
  return {
    key: versionedRecord(KEY.MEMBER_METADATA, (w) => ShareGroupMemberMetadataKeyCodec.write(w, { groupId, memberId }, KEY.MEMBER_METADATA)),
    value: value && versionedRecord(0, (w) => ShareGroupMemberMetadataValueCodec.write(w, value, 0)),
  };
}

export function memberAssignmentRecord(groupId: string, memberId: string, value: ShareGroupCurrentMemberAssignmentValue | null): CoordinatorRecord {
  return {
    key: versionedRecord(KEY.CURRENT_ASSIGNMENT, (w) => ShareGroupCurrentMemberAssignmentKeyCodec.write(w, { groupId, memberId }, KEY.CURRENT_ASSIGNMENT)),
    value: value && versionedRecord(0, (w) => ShareGroupCurrentMemberAssignmentValueCodec.write(w, value, 0)),
  };
}

/** One __consumer_offsets record, when it is a share group record this coordinator keeps; a null value is a tombstone. */
export function readShareGroupRecord(key: Buffer, value: Buffer | null): ShareGroupRecord | null {
  const kr = new Reader(key);
  const type = kr.int16();
  const vr = value === null ? null : new Reader(value);
  const vv = vr?.int16() ?? 0;
  switch (type) {
    case KEY.METADATA:
      return { kind: 'metadata', groupId: ShareGroupMetadataKeyCodec.read(kr, type).groupId, epoch: vr && ShareGroupMetadataValueCodec.read(vr, vv).epoch };
    case KEY.MEMBER_METADATA: {
      const k = ShareGroupMemberMetadataKeyCodec.read(kr, type);
      return { kind: 'member', groupId: k.groupId, memberId: k.memberId, value: vr && ShareGroupMemberMetadataValueCodec.read(vr, vv) };
    }
    case KEY.CURRENT_ASSIGNMENT: {
      const k = ShareGroupCurrentMemberAssignmentKeyCodec.read(kr, type);
      return { kind: 'assignment', groupId: k.groupId, memberId: k.memberId, value: vr && ShareGroupCurrentMemberAssignmentValueCodec.read(vr, vv) };
    }
    default:
      return null;
  }
}
