/** How the browser gets raw bytes: base64 is compact, hex is what a hex view shows as is. */
export type ByteEncoding = 'base64' | 'hex';

/** A key, value or header value, as raw bytes plus the text they may be. */
export interface BytesView {
  size: number;
  encoding: ByteEncoding;
  data: string;
  /** The bytes as UTF-8, or null when they are not valid UTF-8 (binary: show the raw form). */
  text: string | null;
}

// fatal: invalid UTF-8 must come back as null, not as text full of replacement characters.
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function bytesView(bytes: Buffer | null, encoding: ByteEncoding): BytesView | null {
  if (bytes === null) return null;
  let text: string | null;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = null;
  }
  return { size: bytes.length, encoding, data: bytes.toString(encoding), text };
}
