import { randomBytes } from 'node:crypto';
import { AuthenticationFailure, type SaslExchange } from '../sasl/exchange.js';
import { formatServerFirst, parseClientFinal, parseClientFirst, ScramMessageError, type ClientFirst } from './messages.js';
import { digest, hmac, sameBytes, xor, type ScramCredential, type ScramMechanism } from './mechanisms.js';

/** Kafka's answer to an unknown user: the same as to a wrong password would leak who exists. */
const INVALID_USER = 'Authentication failed: Invalid user credentials';

/** The server side of one SCRAM exchange: client-first, server-first, client-final, server-final. */
export class ScramServerExchange implements SaslExchange {
  private first: { client: ClientFirst; serverFirst: string; nonce: string; credential: ScramCredential } | null = null;
  private done = false;

  constructor(
    private readonly mechanism: ScramMechanism,
    private readonly credentialOf: (user: string) => ScramCredential | undefined,
    /** "authentication" or "re-authentication", as Kafka words its failures. */
    private readonly phase: string,
    /** The server's part of the nonce: random, unless a test needs RFC 7677's exchange word for word. */
    private readonly serverNonce = (): string => randomBytes(18).toString('base64'),
  ) {}

  step(token: Buffer): { response: Buffer; user: string | null } {
    try {
      if (this.done) throw new ScramMessageError('a token after the exchange completed');
      return this.first ? this.final(token.toString('utf8')) : this.start(token.toString('utf8'));
    } catch (e) {
      if (!(e instanceof ScramMessageError)) throw e;
      this.done = true;
      throw new AuthenticationFailure(this.invalidCredentials(), `${this.mechanism.name}: ${e.message}`, this.first?.client.user ?? null);
    }
  }

  private invalidCredentials(): string {
    return `Authentication failed during ${this.phase} due to invalid credentials with SASL mechanism ${this.mechanism.name}`;
  }

  private start(text: string): { response: Buffer; user: null } {
    const client = parseClientFirst(text);
    const credential = this.credentialOf(client.user);
    if (!credential) {
      this.done = true;
      throw new AuthenticationFailure(INVALID_USER, `${this.mechanism.name}: unknown user "${client.user}"`, client.user);
    }
    const nonce = client.nonce + this.serverNonce();
    const serverFirst = formatServerFirst({ nonce, salt: credential.salt, iterations: credential.iterations });
    this.first = { client, serverFirst, nonce, credential };
    return { response: Buffer.from(serverFirst), user: null };
  }

  private final(text: string): { response: Buffer; user: string } {
    const { client, serverFirst, nonce, credential } = this.first!;
    const final = parseClientFinal(text);
    this.done = true;
    // librdkafka before 2.6.1 prefixes its own nonce once more; Kafka accepts that since 3.8.1 and so
    // does Sluice: the proof still signs the message as sent.
    if (!final.nonce.endsWith(nonce)) throw new ScramMessageError('client-final-message: nonce mismatch');
    if (Buffer.from(final.channelBinding, 'base64').toString('utf8') !== client.gs2Header) throw new ScramMessageError('client-final-message: channel binding mismatch');
    const authMessage = `${client.bare},${serverFirst},${final.withoutProof}`;
    const clientSignature = hmac(this.mechanism, credential.storedKey, authMessage);
    const clientKey = final.proof.length === clientSignature.length ? xor(final.proof, clientSignature) : Buffer.alloc(0);
    if (!sameBytes(digest(this.mechanism, clientKey), credential.storedKey)) {
      throw new AuthenticationFailure(this.invalidCredentials(), `${this.mechanism.name}: invalid proof for user "${client.user}"`, client.user);
    }
    const serverSignature = hmac(this.mechanism, credential.serverKey, authMessage);
    return { response: Buffer.from(`v=${serverSignature.toString('base64')}`), user: client.user };
  }
}
