import { ProtocolError } from '../protocol-error.js';

/** The error for output beyond the caller's cap: a decompression bomb or a misconfigured limit. */
export function overCap(codec: string, maxOutputBytes: number, size?: number): ProtocolError {
  const what = size === undefined ? 'output' : `output of ${size} bytes`;
  return new ProtocolError('compression', `${codec} ${what} exceeds the ${maxOutputBytes}-byte cap`);
}

/** Before allocating: an output size that the format declares up front must fit under the cap. */
export function checkDeclaredSize(codec: string, size: number, maxOutputBytes: number): void {
  if (size > maxOutputBytes) throw overCap(codec, maxOutputBytes, size);
}
