import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';

/** A SCRAM mechanism (RFC 5802 with the hash of RFC 7677), with Kafka's ScramMechanism id. */
export interface ScramMechanism {
  readonly name: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  /** Kafka's id of the mechanism in DescribeUserScramCredentials and AlterUserScramCredentials. */
  readonly type: number;
  readonly hash: 'sha256' | 'sha512';
  readonly keyLength: number;
}

export const SCRAM_MECHANISMS: readonly ScramMechanism[] = [
  { name: 'SCRAM-SHA-256', type: 1, hash: 'sha256', keyLength: 32 },
  { name: 'SCRAM-SHA-512', type: 2, hash: 'sha512', keyLength: 64 },
];

/** Kafka's bounds on a credential's iterations: RFC 7677's minimum, and a cap on login cost. */
export const MIN_ITERATIONS = 4096;
export const MAX_ITERATIONS = 16384;

export const scramMechanismNamed = (name: string): ScramMechanism | undefined => SCRAM_MECHANISMS.find((m) => m.name === name);
export const scramMechanismOfType = (type: number): ScramMechanism | undefined => SCRAM_MECHANISMS.find((m) => m.type === type);

/** What the server keeps of a password: enough to check a proof and sign back, not to log in. */
export interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

export const hmac = (m: ScramMechanism, key: Buffer, data: Buffer | string): Buffer => createHmac(m.hash, key).update(data).digest();
export const digest = (m: ScramMechanism, data: Buffer): Buffer => createHash(m.hash).update(data).digest();

/** Hi() of RFC 5802: PBKDF2 with the mechanism's HMAC. */
export function saltPassword(m: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, m.keyLength, m.hash);
}

export const clientKeyOf = (m: ScramMechanism, saltedPassword: Buffer): Buffer => hmac(m, saltedPassword, 'Client Key');

export function credentialOf(m: ScramMechanism, salt: Buffer, saltedPassword: Buffer, iterations: number): ScramCredential {
  return {
    salt,
    storedKey: digest(m, clientKeyOf(m, saltedPassword)),
    serverKey: hmac(m, saltedPassword, 'Server Key'),
    iterations,
  };
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

export const sameBytes = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);
