import type { ExternalBytes } from './primitives/writer.js';

/**
 * The value of a `records` field: bytes in memory, or, when the broker encodes a Fetch response,
 * a region of a segment file that the network layer sends without copying. Decoding always
 * yields a Buffer.
 */
export type RecordsData = Buffer | ExternalBytes;
