import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync, gzipSync } from 'node:zlib';
import { overCap } from './output-cap.js';

/** level -1 (or none): zlib's default. */
export function gzipCompress(data: Buffer, level = -1): Buffer {
  return gzipSync(data, { level });
}

/** zlib stops inflating at maxOutputLength by itself, so a gzip bomb never gets its memory. */
export function gzipDecompress(data: Buffer, maxOutputBytes: number): Buffer {
  // zlib wants 1 <= maxOutputLength <= the largest Buffer; a zero cap is enforced by the caller.
  const limit = Math.min(bufferConstants.MAX_LENGTH, Math.max(1, maxOutputBytes));
  try {
    return gunzipSync(data, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw overCap('gzip', maxOutputBytes);
    throw err;
  }
}
