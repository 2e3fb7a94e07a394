export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/**
 * A decoded record. key, value and header values are views into the batch (or, for compressed
 * batches, into its decompressed records), not copies.
 *
 * The name shadows TypeScript's global Record<K, V> in modules that import it; where both are
 * needed, import it under another name (import type { Record as KafkaRecord }).
 */
export interface Record {
  attributes: number;
  /** Milliseconds after the batch's baseTimestamp. */
  timestampDelta: number;
  /** Offsets after the batch's baseOffset. */
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface RecordHeaderInput {
  key: string;
  value: Uint8Array | null;
}

/**
 * A record to encode. A decoded Record fits as it is; the bookkeeping fields default to what a
 * producer writes: attributes 0, timestampDelta 0, offsetDelta the record's index, no headers.
 */
export interface RecordInput {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly RecordHeaderInput[];
  attributes?: number;
  timestampDelta?: number;
  offsetDelta?: number;
}
