import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { ProtocolError } from '../protocol-error.js';
import { overCap } from './output-cap.js';

/**
 * Kafka's lz4 is one LZ4 frame. lz4-napi decodes a frame in one call with no output limit, and
 * it quietly accepts a missing end mark, trailing bytes and concatenated frames (decoding only
 * the first). So we walk the frame's block headers first: that enforces a single complete frame
 * and bounds the output before anything is inflated. The bound is loose by up to one block (the
 * last is rarely full), so a frame is refused early only when even that cannot explain it; the
 * exact output size is checked after decoding.
 */

const FRAME_MAGIC = 0x184d2204;
const FRAME_VERSION = 1;
/** Block maximum sizes by the BD byte's bits 4-6; ids below 4 are reserved. */
const BLOCK_MAX_SIZES = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];
/**
 * No LZ4 block inflates by more than this: a sequence of n input bytes (token, offset, length
 * extension bytes) yields fewer than 255 * n output bytes, and a literal byte yields one.
 */
const MAX_EXPANSION = 255;

const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICT_ID = 0x01;
/** The high bit of a block size marks a block stored uncompressed. */
const BLOCK_UNCOMPRESSED = 0x80000000;

export function lz4Compress(data: Buffer): Buffer {
  return compressFrameSync(data);
}

export function lz4Decompress(data: Buffer, maxOutputBytes: number): Buffer {
  const { bound, blockMax } = checkFrame(data);
  // Encoders fill every block but the last: a frame within the cap stays within one block of it.
  if (bound - blockMax > maxOutputBytes) throw overCap('lz4', maxOutputBytes);
  return decompressFrameSync(data);
}

function malformed(message: string): ProtocolError {
  return new ProtocolError('compression', `lz4: ${message}`);
}

function need(frame: Buffer, pos: number, n: number): void {
  if (n > frame.length - pos) throw malformed(`frame truncated at byte ${pos}`);
}

/** Checks the framing of exactly one frame; returns the most bytes it can decode to and its block size. */
function checkFrame(frame: Buffer): { bound: number; blockMax: number } {
  need(frame, 0, 7); // magic, FLG, BD, header checksum
  if (frame.readUInt32LE(0) !== FRAME_MAGIC) throw malformed('not an LZ4 frame');
  const flg = frame[4];
  if (flg >>> 6 !== FRAME_VERSION) throw malformed(`unsupported frame version ${flg >>> 6}`);
  const blockMax = BLOCK_MAX_SIZES[(frame[5] >>> 4) & 7];
  if (blockMax === 0) throw malformed('reserved block size id');
  const blockChecksumSize = flg & FLG_BLOCK_CHECKSUM ? 4 : 0;
  let pos = 6 + (flg & FLG_CONTENT_SIZE ? 8 : 0) + (flg & FLG_DICT_ID ? 4 : 0) + 1;
  let bound = 0;
  for (;;) {
    need(frame, pos, 4);
    const word = frame.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break; // end mark
    const size = word & ~BLOCK_UNCOMPRESSED;
    if (size > blockMax) throw malformed(`block of ${size} bytes exceeds the frame's ${blockMax}-byte blocks`);
    bound += word >= BLOCK_UNCOMPRESSED ? size : Math.min(blockMax, size * MAX_EXPANSION);
    need(frame, pos, size + blockChecksumSize);
    pos += size + blockChecksumSize;
  }
  if (flg & FLG_CONTENT_CHECKSUM) {
    need(frame, pos, 4);
    pos += 4;
  }
  if (pos !== frame.length) throw malformed(`${frame.length - pos} bytes follow the frame`);
  return { bound, blockMax };
}
