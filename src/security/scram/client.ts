import { randomBytes } from 'node:crypto';
import { formatClientFirstBare, parseServerFinal, parseServerFirst, ScramMessageError } from './messages.js';
import { clientKeyOf, digest, hmac, saltPassword, sameBytes, xor, type ScramMechanism } from './mechanisms.js';

const GS2_HEADER = 'n,,';

/** The client side of a SCRAM exchange: first(), then final(serverFirst), then verify(serverFinal). */
export class ScramClientExchange {
  private readonly nonce = randomBytes(24).toString('base64');
  private readonly bare: string;
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly mechanism: ScramMechanism,
    user: string,
    private readonly password: string,
  ) {
    this.bare = formatClientFirstBare(user, this.nonce);
  }

  first(): Buffer {
    return Buffer.from(GS2_HEADER + this.bare);
  }

  final(serverFirstToken: Buffer): Buffer {
    const text = serverFirstToken.toString('utf8');
    const server = parseServerFirst(text);
    if (!server.nonce.startsWith(this.nonce)) throw new ScramMessageError('the server nonce does not extend ours');
    const salted = saltPassword(this.mechanism, this.password, server.salt, server.iterations);
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${server.nonce}`;
    const authMessage = `${this.bare},${text},${withoutProof}`;
    const clientKey = clientKeyOf(this.mechanism, salted);
    const proof = xor(clientKey, hmac(this.mechanism, digest(this.mechanism, clientKey), authMessage));
    this.serverSignature = hmac(this.mechanism, hmac(this.mechanism, salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  /** Checks the server knew the credential too: a server that merely accepts is not trusted. */
  verify(serverFinalToken: Buffer): void {
    const result = parseServerFinal(serverFinalToken.toString('utf8'));
    if ('error' in result) throw new ScramMessageError(`the server refused: ${result.error}`);
    if (!this.serverSignature || !sameBytes(result.signature, this.serverSignature)) throw new ScramMessageError('the server signature does not match');
  }
}
