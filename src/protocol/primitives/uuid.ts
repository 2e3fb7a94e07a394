/** Kafka's "no id" UUID, in the dashed hex form the codec uses for uuid fields. */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** 16 bytes as a dashed hex UUID string. */
export function uuidFromBytes(bytes: Buffer, at = 0): string {
  const hex = bytes.toString('hex', at, at + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
