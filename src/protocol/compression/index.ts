import { ProtocolError } from '../protocol-error.js';
import { COMPRESSION_TYPES, CompressionType, compressionName, isCompressionType } from './compression-type.js';
import { gzipCompress, gzipDecompress } from './gzip.js';
import { lz4Compress, lz4Decompress } from './lz4.js';
import { overCap } from './output-cap.js';
import { snappyCompress, snappyDecompress } from './snappy.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

export { COMPRESSION_TYPES, CompressionType, compressionName, isCompressionType };

interface Codec {
  /** level: the codec's own scale; codecs without levels ignore it. */
  compress(data: Buffer, level?: number): Buffer;
  decompress(data: Buffer, maxOutputBytes: number): Buffer;
}

const identity: Codec = {
  compress: (data) => data,
  decompress: (data) => data,
};

/** Indexed by CompressionType. */
const CODECS: readonly Codec[] = [
  identity,
  { compress: gzipCompress, decompress: gzipDecompress },
  { compress: snappyCompress, decompress: snappyDecompress },
  // lz4_flex compresses at one speed: lz4 has no levels here.
  { compress: lz4Compress, decompress: lz4Decompress },
  { compress: zstdCompress, decompress: zstdDecompress },
];

export function compress(type: CompressionType, data: Buffer, level?: number): Buffer {
  try {
    return codecFor(type).compress(data, level);
  } catch (err) {
    throw asCompressionError(type, err);
  }
}

/**
 * Decompresses data, refusing to produce more than maxOutputBytes. type is a raw attributes
 * value, so unassigned ids arrive here and fail like corrupt input does.
 */
export function decompress(type: number, data: Buffer, maxOutputBytes: number): Buffer {
  let out: Buffer;
  try {
    out = codecFor(type).decompress(data, maxOutputBytes);
  } catch (err) {
    throw asCompressionError(type, err);
  }
  // Codecs refuse what they can see coming before allocating; this is the guarantee for the rest.
  if (out.length > maxOutputBytes) throw overCap(compressionName(type), maxOutputBytes, out.length);
  return out;
}

function codecFor(type: number): Codec {
  if (!isCompressionType(type)) throw new ProtocolError('compression', compressionName(type));
  return CODECS[type];
}

/** Libraries throw plain Errors (and our parsers other ProtocolError kinds); callers get one kind. */
function asCompressionError(type: number, err: unknown): ProtocolError {
  if (err instanceof ProtocolError && err.kind === 'compression') return err;
  const name = compressionName(type);
  const reason = err instanceof Error ? err.message : String(err);
  return new ProtocolError('compression', reason.startsWith(name) ? reason : `${name}: ${reason}`);
}
