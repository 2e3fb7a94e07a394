import { compressSync, uncompressSync } from 'snappy';
import { Reader } from '../primitives/reader.js';
import { ProtocolError } from '../protocol-error.js';
import { checkDeclaredSize } from './output-cap.js';

/**
 * Kafka snappy comes in two framings. The Java client writes snappy-java's "xerial" stream: a
 * 16-byte header (magic, version, compatible version) followed by blocks, each an int32
 * big-endian length and a raw snappy block. Some other clients write one raw snappy block. We
 * read both and write xerial, the only form Java consumers read.
 */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]); // \x82SNAPPY\0
const XERIAL_HEADER_SIZE = 16;
/** What snappy-java writes in both version fields. */
const XERIAL_VERSION = 1;
/** snappy-java's default block size: each block holds up to this many uncompressed bytes. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

export function snappyCompress(data: Buffer): Buffer {
  const blocks: Buffer[] = [];
  let size = XERIAL_HEADER_SIZE;
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_SIZE) {
    const block = compressSync(data.subarray(at, at + XERIAL_BLOCK_SIZE));
    blocks.push(block);
    size += 4 + block.length;
  }
  const out = Buffer.allocUnsafe(size);
  XERIAL_MAGIC.copy(out, 0);
  out.writeInt32BE(XERIAL_VERSION, 8);
  out.writeInt32BE(XERIAL_VERSION, 12);
  let pos = XERIAL_HEADER_SIZE;
  for (const block of blocks) {
    pos = out.writeInt32BE(block.length, pos);
    pos += block.copy(out, pos);
  }
  return out;
}

export function snappyDecompress(data: Buffer, maxOutputBytes: number): Buffer {
  return isXerial(data) ? decompressXerial(data, maxOutputBytes) : decompressRawBlock(data, maxOutputBytes);
}

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_MAGIC.length && XERIAL_MAGIC.equals(data.subarray(0, XERIAL_MAGIC.length));
}

/** A raw block starts with its uncompressed length as an unsigned varint. */
function declaredLength(block: Buffer): number {
  return new Reader(block).uvarint();
}

function uncompressBlock(block: Buffer): Buffer {
  return uncompressSync(block, { asBuffer: true }) as Buffer;
}

function decompressRawBlock(block: Buffer, maxOutputBytes: number): Buffer {
  checkDeclaredSize('snappy', declaredLength(block), maxOutputBytes);
  return uncompressBlock(block);
}

/** Sums every block's declared length against the cap before decompressing any of them. */
function decompressXerial(data: Buffer, maxOutputBytes: number): Buffer {
  const r = new Reader(data);
  r.skip(XERIAL_HEADER_SIZE);
  const blocks: Buffer[] = [];
  let total = 0;
  while (r.remaining > 0) {
    const length = r.int32();
    if (length <= 0) throw new ProtocolError('compression', `snappy: xerial block length ${length}`);
    const block = r.slice(length);
    total += declaredLength(block);
    checkDeclaredSize('snappy', total, maxOutputBytes);
    blocks.push(block);
  }
  if (blocks.length === 1) return uncompressBlock(blocks[0]);
  return Buffer.concat(blocks.map(uncompressBlock), total);
}
