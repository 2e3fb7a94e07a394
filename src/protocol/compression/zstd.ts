import { compress } from 'zstd-napi';
import zstd from 'zstd-napi/binding.js';
import { ProtocolError } from '../protocol-error.js';
import { checkDeclaredSize, overCap } from './output-cap.js';

/**
 * zstd-napi's one-shot decompress allocates whatever the frame header claims, and Java clients
 * write frames without a content size at all. So we drive the streaming API ourselves, growing
 * the output up to one byte past the cap: a bomb stops there.
 */

/** One context for the process: decompression is synchronous, so calls never overlap. */
const dctx = new zstd.DCtx();
const STREAM_OUT_SIZE = zstd.dStreamOutSize();

/** No level: the library's default (3, as Kafka's). */
export function zstdCompress(data: Buffer, level?: number): Buffer {
  return compress(data, level === undefined ? undefined : { compressionLevel: level });
}

export function zstdDecompress(data: Buffer, maxOutputBytes: number): Buffer {
  // A previous call may have stopped mid-frame.
  dctx.reset(zstd.ResetDirective.sessionOnly);
  const limit = maxOutputBytes + 1;
  let out = Buffer.allocUnsafe(Math.min(limit, firstOutputSize(data, maxOutputBytes)));
  let produced = 0;
  let input = data;
  for (;;) {
    const [pending, written, consumed] = dctx.decompressStream(out.subarray(produced), input);
    produced += written;
    input = input.subarray(consumed);
    if (produced >= limit) throw overCap('zstd', maxOutputBytes);
    // pending is 0 exactly when a frame has been decoded and flushed completely.
    if (input.length === 0 && pending === 0) return out.subarray(0, produced);
    if (produced === out.length) {
      const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(STREAM_OUT_SIZE, produced * 2)));
      out.copy(grown, 0, 0, produced);
      out = grown;
    } else if (written === 0 && consumed === 0) {
      throw new ProtocolError('compression', 'zstd: input ends inside a frame');
    }
  }
}

/** The first frame's declared size when it has one (refused early if over the cap), else a guess. */
function firstOutputSize(data: Buffer, maxOutputBytes: number): number {
  const declared = zstd.getFrameContentSize(data);
  if (declared === null) return Math.max(STREAM_OUT_SIZE, data.length * 4);
  checkDeclaredSize('zstd', declared, maxOutputBytes);
  return declared;
}
