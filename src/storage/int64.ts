/**
 * int64 fields read and written as JS numbers. The storage layer keeps offsets, positions and
 * timestamps as numbers: exact below 2^53 (285 years of offsets at a million a second) and free
 * of the BigInt allocations that would otherwise land on every append and every lookup.
 */
export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

export function writeInt64(buf: Buffer, value: number, at: number): void {
  const hi = Math.floor(value / 0x1_0000_0000);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(value - hi * 0x1_0000_0000, at + 4);
}
