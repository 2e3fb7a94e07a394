import { versionedRecord } from './coordinator-log.js';
import { Reader } from '../protocol/primitives/reader.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { OffsetCommitKeyCodec } from '../protocol/generated/group-coordinator/offset-commit-key.js';
import { OffsetCommitValueCodec, type OffsetCommitValue } from '../protocol/generated/group-coordinator/offset-commit-value.js';
import { GroupMetadataKeyCodec } from '../protocol/generated/group-coordinator/group-metadata-key.js';
import { GroupMetadataValueCodec, type GroupMetadataValue } from '../protocol/generated/group-coordinator/group-metadata-value.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** Key versions of __consumer_offsets records, as Kafka writes them. */
const OFFSET_COMMIT_KEY_VERSION = 1;
const GROUP_METADATA_KEY_VERSION = 2;
/** Value versions written: the newest non-flexible ones, which every Kafka tool reads. */
const OFFSET_COMMIT_VALUE_VERSION = 3;
const GROUP_METADATA_VALUE_VERSION = 3;

export function offsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return versionedRecord(OFFSET_COMMIT_KEY_VERSION, (w) => OffsetCommitKeyCodec.write(w, { group, topic, partition }, OFFSET_COMMIT_KEY_VERSION));
}

export function offsetCommitValue(value: OffsetCommitValue): Buffer {
  // Only version 1 carries an expire timestamp (Kafka writes it for OffsetCommit v2-4's retention time).
  const version = value.expireTimestamp >= 0n ? 1 : OFFSET_COMMIT_VALUE_VERSION;
  return versionedRecord(version, (w) => OffsetCommitValueCodec.write(w, value, version));
}

export function groupMetadataKey(group: string): Buffer {
  return versionedRecord(GROUP_METADATA_KEY_VERSION, (w) => GroupMetadataKeyCodec.write(w, { group }, GROUP_METADATA_KEY_VERSION));
}

export function groupMetadataValue(value: GroupMetadataValue): Buffer {
  return versionedRecord(GROUP_METADATA_VALUE_VERSION, (w) => GroupMetadataValueCodec.write(w, value, GROUP_METADATA_VALUE_VERSION));
}

export type OffsetsTopicRecord =
  | { kind: 'offset'; group: string; topic: string; partition: number; value: OffsetCommitValue | null }
  | { kind: 'group'; group: string; value: GroupMetadataValue | null };

/**
 * Reads one record of __consumer_offsets; a null value is a tombstone. Keys of record types
 * this coordinator does not keep (the new consumer protocol's, share groups') give null.
 */
export function readOffsetsTopicRecord(key: Buffer, value: Buffer | null): OffsetsTopicRecord | null {
  const kr = new Reader(key);
  const keyVersion = kr.int16();
  const readValue = <T>(codec: { read(r: Reader, v: number): T }): T | null => {
    if (value === null) return null;
    const vr = new Reader(value);
    return codec.read(vr, vr.int16());
  };
  if (keyVersion === 0 || keyVersion === 1) {
    const k = OffsetCommitKeyCodec.read(kr, keyVersion);
    return { kind: 'offset', group: k.group, topic: k.topic, partition: k.partition, value: readValue(OffsetCommitValueCodec) };
  }
  if (keyVersion === GROUP_METADATA_KEY_VERSION) {
    const k = GroupMetadataKeyCodec.read(kr, keyVersion);
    return { kind: 'group', group: k.group, value: readValue(GroupMetadataValueCodec) };
  }
  if (keyVersion < 0) throw new ProtocolError('invalid-value', `__consumer_offsets key version ${keyVersion}`);
  return null;
}
