/**
 * SCRAM's messages (RFC 5802 section 7): comma-separated attributes `k=value`, names with ','
 * and '=' escaped as =2C and =3D.
 */

export class ScramMessageError extends Error {}

export function escapeName(name: string): string {
  return name.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

export function unescapeName(text: string): string {
  if (/=(?!2C|3D)/.test(text)) throw new ScramMessageError(`invalid escape in name "${text}"`);
  return text.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

/** Attributes in order; extensions beyond the ones asked for are kept, as RFC 5802 allows. */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!m) throw new ScramMessageError(`malformed attribute "${part}"`);
    if (!out.has(m[1])) out.set(m[1], m[2]);
  }
  return out;
}

function need(attrs: Map<string, string>, key: string, what: string): string {
  const v = attrs.get(key);
  if (v === undefined || v === '') throw new ScramMessageError(`${what} lacks ${key}=`);
  return v;
}

export interface ClientFirst {
  /** The gs2 header (`n,,` or `n,a=authzid,`), echoed base64 in the final message's c=. */
  gs2Header: string;
  bare: string;
  user: string;
  nonce: string;
}

const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export function parseClientFirst(text: string): ClientFirst {
  // Channel binding ('p') needs TLS channel data Kafka does not offer; 'y' and 'n' go without.
  const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(text);
  if (!m) throw new ScramMessageError('client-first-message: expected a gs2 header without channel binding');
  const bare = m[3];
  const attrs = attributes(bare);
  const nonce = need(attrs, 'r', 'client-first-message');
  if (!NONCE.test(nonce)) throw new ScramMessageError('client-first-message: invalid nonce');
  const user = unescapeName(need(attrs, 'n', 'client-first-message'));
  if (m[2] !== undefined && m[2] !== 'a=' && unescapeName(m[2].slice(2)) !== user) {
    throw new ScramMessageError('client-first-message: an authorization id other than the user name');
  }
  return { gs2Header: `${m[1]},${m[2] ?? ''},`, bare, user, nonce };
}

export const formatClientFirstBare = (user: string, nonce: string): string => `n=${escapeName(user)},r=${nonce}`;

export interface ServerFirst {
  nonce: string;
  salt: Buffer;
  iterations: number;
}

export const formatServerFirst = (s: ServerFirst): string => `r=${s.nonce},s=${s.salt.toString('base64')},i=${s.iterations}`;

export function parseServerFirst(text: string): ServerFirst {
  const attrs = attributes(text);
  const iterations = Number(need(attrs, 'i', 'server-first-message'));
  if (!Number.isInteger(iterations) || iterations <= 0) throw new ScramMessageError('server-first-message: invalid iteration count');
  return { nonce: need(attrs, 'r', 'server-first-message'), salt: Buffer.from(need(attrs, 's', 'server-first-message'), 'base64'), iterations };
}

export interface ClientFinal {
  channelBinding: string;
  nonce: string;
  proof: Buffer;
  /** The message up to the proof: what the proof signs. */
  withoutProof: string;
}

export function parseClientFinal(text: string): ClientFinal {
  const at = text.lastIndexOf(',p=');
  if (at < 0) throw new ScramMessageError('client-final-message lacks p=');
  const withoutProof = text.slice(0, at);
  const attrs = attributes(withoutProof);
  return {
    channelBinding: need(attrs, 'c', 'client-final-message'),
    nonce: need(attrs, 'r', 'client-final-message'),
    proof: Buffer.from(text.slice(at + 3), 'base64'),
    withoutProof,
  };
}

/** The server's last word: its signature, or e=<reason> (RFC 5802's server-error). */
export function parseServerFinal(text: string): { signature: Buffer } | { error: string } {
  const attrs = attributes(text);
  const error = attrs.get('e');
  return error !== undefined ? { error } : { signature: Buffer.from(need(attrs, 'v', 'server-final-message'), 'base64') };
}
