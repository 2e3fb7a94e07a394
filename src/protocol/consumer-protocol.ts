import { ConsumerProtocolAssignmentCodec } from './generated/messages/consumer-protocol-assignment.js';
import { ConsumerProtocolSubscriptionCodec, type ConsumerProtocolSubscription } from './generated/messages/consumer-protocol-subscription.js';
import type { MessageCodec } from './codec-runtime.js';
import { Reader } from './primitives/reader.js';

/** Partitions of one topic, by name, as the classic consumer protocol carries them. */
export interface NamedPartitions {
  topic: string;
  partitions: number[];
}

/**
 * Consumer-protocol messages (the classic group protocol's member metadata and assignments)
 * travel as an int16 version and the message in that version. Newer versions only add fields,
 * so reading a newer one as the newest we know is safe.
 */
export function encodeVersioned<T>(codec: MessageCodec<T>, message: T, version: number): Buffer {
  const head = Buffer.alloc(2);
  head.writeInt16BE(version);
  return Buffer.concat([head, codec.encode(message, version)]);
}

export function decodeVersioned<T>(codec: MessageCodec<T>, bytes: Buffer): T {
  const r = new Reader(bytes);
  return codec.read(r, Math.min(r.int16(), codec.maxVersion));
}

/** A member's subscription; throws on bytes that are not one. */
export function decodeSubscription(bytes: Buffer): ConsumerProtocolSubscription {
  return decodeVersioned(ConsumerProtocolSubscriptionCodec, bytes);
}

/** An assignment, partitions sorted; an empty buffer (no assignment yet) is an empty list. */
export function decodeAssignment(bytes: Buffer): NamedPartitions[] {
  if (bytes.length === 0) return [];
  return decodeVersioned(ConsumerProtocolAssignmentCodec, bytes).assignedPartitions.map((t) => ({ topic: t.topic, partitions: [...t.partitions].sort((x, y) => x - y) }));
}

/** Version 0 reads everywhere; the coordinator answers in Kafka's current version 3. */
export function encodeAssignment(assignment: readonly NamedPartitions[], version = 0): Buffer {
  return encodeVersioned(ConsumerProtocolAssignmentCodec, { assignedPartitions: assignment.map((a) => ({ topic: a.topic, partitions: [...a.partitions] })), userData: null }, version);
}
