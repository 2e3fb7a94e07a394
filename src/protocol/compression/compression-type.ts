/** The codec ids of the attributes field's low three bits. 5 to 7 are unassigned. */
export const CompressionType = {
  None: 0,
  Gzip: 1,
  Snappy: 2,
  Lz4: 3,
  Zstd: 4,
} as const;

export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType];

/** Every codec a batch may carry, in id order. */
export const COMPRESSION_TYPES: readonly CompressionType[] = Object.values(CompressionType);

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function isCompressionType(type: number): type is CompressionType {
  return Number.isInteger(type) && type >= 0 && type < NAMES.length;
}

/** A readable name for error messages and logs, including for unassigned ids. */
export function compressionName(type: number): string {
  return isCompressionType(type) ? NAMES[type] : `unknown codec ${type}`;
}
