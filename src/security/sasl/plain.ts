import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticationFailure, type SaslExchange } from './exchange.js';

const INVALID = 'Authentication failed: Invalid username or password';

/** Compares through a digest, so neither the length nor the content leaks through timing. */
function samePassword(a: string, b: string): boolean {
  const hash = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(hash(a), hash(b));
}

/** PLAIN (RFC 4616): one token, `authzid NUL authcid NUL password`, checked against the JAAS users. */
export class PlainServerExchange implements SaslExchange {
  constructor(private readonly passwordOf: (user: string) => string | undefined) {}

  step(token: Buffer): { response: Buffer; user: string } {
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) throw new AuthenticationFailure('Invalid SASL/PLAIN response: expected 3 tokens', `PLAIN: ${parts.length} fields instead of 3`);
    const [authzid, user, password] = parts;
    if (user === '') throw new AuthenticationFailure('Authentication failed: username not specified', 'PLAIN: empty user name');
    if (authzid !== '' && authzid !== user) {
      throw new AuthenticationFailure('Authentication failed: Client requested an authorization id that is different from username', `PLAIN: authorization id "${authzid}" for user "${user}"`, user);
    }
    const expected = this.passwordOf(user);
    if (expected === undefined || !samePassword(password, expected)) {
      throw new AuthenticationFailure(INVALID, `PLAIN: ${expected === undefined ? 'unknown user' : 'wrong password for user'} "${user}"`, user);
    }
    return { response: Buffer.alloc(0), user };
  }
}
