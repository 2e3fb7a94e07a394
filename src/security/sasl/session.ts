import { log } from '../../log.js';
import type { Connection, ConnectionAuthenticator } from '../../network/connection.js';
import type { FrameLimit } from '../../network/frame-decoder.js';
import { apiByKey } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { SaslAuthenticateResponse } from '../../protocol/generated/messages/sasl-authenticate-response.js';
import type { SaslHandshakeResponse } from '../../protocol/generated/messages/sasl-handshake-response.js';
import { scramMechanismNamed, type ScramCredential, type ScramMechanism } from '../scram/mechanisms.js';
import { ScramServerExchange } from '../scram/server.js';
import { AuthenticationFailure, type SaslExchange } from './exchange.js';
import type { ListenerSasl } from './listener-sasl.js';
import { PlainServerExchange } from './plain.js';

const SASL_HANDSHAKE = 17;
const API_VERSIONS = 18;
const SASL_AUTHENTICATE = 36;

/** What sessions need from the broker. */
export interface SaslServices {
  scramCredential(mechanism: ScramMechanism, user: string): ScramCredential | undefined;
  /** Counts an outcome; `mechanism` is one the listener offers, or "unsupported". */
  outcome(listener: string, mechanism: string, succeeded: boolean): void;
}

/**
 * One connection's SASL state on a SASL_PLAINTEXT or SASL_SSL listener, as Kafka's server
 * authenticator keeps it: ApiVersions and SaslHandshake first, then the mechanism's tokens in
 * SaslAuthenticate requests (handshake v1) or bare (handshake v0), then requests as the user.
 * A SaslHandshake on an authenticated connection starts a re-authentication (KIP-368).
 */
export class SaslSession implements ConnectionAuthenticator {
  private state: 'start' | 'exchange' | 'authenticated' = 'start';
  private exchange: SaslExchange | null = null;
  private mechanism: string | null = null;
  /** Handshake v0: the tokens come bare, without SaslAuthenticate around them. */
  private raw = false;
  /** The authenticated user; kept through a re-authentication, which must not change it. */
  private user: string | null = null;
  private expiresAt = Infinity;

  constructor(
    private readonly connection: Connection,
    private readonly settings: ListenerSasl,
    private readonly services: SaslServices,
  ) {}

  get expectsRawToken(): boolean {
    return this.raw && this.state === 'exchange';
  }

  refusal(apiKey: number | null): string | null {
    if (this.state === 'authenticated') {
      if (apiKey !== SASL_HANDSHAKE && Date.now() >= this.expiresAt) return 'the SASL session expired (connections.max.reauth.ms) without re-authentication';
      return null;
    }
    if (apiKey === null) return null;
    const allowed = this.state === 'start' ? apiKey === API_VERSIONS || apiKey === SASL_HANDSHAKE : apiKey === SASL_AUTHENTICATE;
    if (allowed) return null;
    const name = apiByKey(apiKey)?.name ?? `api key ${apiKey}`;
    return `unexpected ${name} request ${this.state === 'start' ? 'before' : 'during'} SASL authentication`;
  }

  frameLimit(): FrameLimit | null {
    return this.state === 'authenticated' ? null : { bytes: this.settings.maxReceiveSize, setting: 'sasl.server.max.receive.size' };
  }

  handshake(mechanism: string, version: number): SaslHandshakeResponse {
    const response = { errorCode: ErrorCode.NONE, mechanisms: this.settings.mechanisms };
    if (!this.settings.mechanisms.includes(mechanism)) {
      this.fail('unsupported', `SASL mechanism "${mechanism}" is not enabled (${this.settings.mechanisms.join(', ')})`);
      return { ...response, errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM };
    }
    const reauthenticating = this.state === 'authenticated';
    if (reauthenticating && (mechanism !== this.mechanism || version === 0)) {
      this.fail(mechanism, `re-authentication ${version === 0 ? 'with SaslHandshake v0' : `changed the SASL mechanism from ${this.mechanism} to ${mechanism}`}`);
      return { ...response, errorCode: ErrorCode.ILLEGAL_SASL_STATE };
    }
    this.mechanism = mechanism;
    this.exchange = this.exchangeFor(mechanism, reauthenticating ? 're-authentication' : 'authentication');
    this.raw = version === 0;
    this.state = 'exchange';
    return response;
  }

  authenticate(token: Buffer): SaslAuthenticateResponse {
    const response = { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
    if (this.state !== 'exchange' || this.raw) {
      this.fail(this.mechanism ?? 'unsupported', `SaslAuthenticate ${this.state === 'authenticated' ? 'after authentication, without a SaslHandshake' : 'after SaslHandshake v0'}`);
      return { ...response, errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate request received after successful authentication' };
    }
    try {
      const { response: authBytes, user } = this.exchange!.step(token);
      return { ...response, authBytes, sessionLifetimeMs: BigInt(user === null ? 0 : this.complete(user)) };
    } catch (e) {
      if (!(e instanceof AuthenticationFailure)) throw e;
      this.fail(this.mechanism!, e.message);
      return { ...response, errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: e.clientMessage };
    }
  }

  async rawToken(token: Buffer): Promise<Buffer | null> {
    try {
      const { response, user } = this.exchange!.step(token);
      if (user !== null) this.complete(user);
      return response;
    } catch (e) {
      if (!(e instanceof AuthenticationFailure)) throw e;
      // Kafka answers a failed bare exchange by closing: there is no frame to carry an error in.
      this.fail(this.mechanism!, e.message);
      return null;
    }
  }

  /** The user is in: the connection acts as them until the session's lifetime ends. Returns it (0: none). */
  private complete(user: string): number {
    if (this.user !== null && this.user !== user) {
      throw new AuthenticationFailure(`Cannot change principals during re-authentication from User:${this.user}: User:${user}`, `re-authentication as ${user} after ${this.user}`);
    }
    this.user = user;
    this.state = 'authenticated';
    this.connection.principal = `User:${user}`;
    const lifetime = this.settings.maxReauthMs;
    this.expiresAt = lifetime > 0 ? Date.now() + lifetime : Infinity;
    this.services.outcome(this.connection.listenerName, this.mechanism!, true);
    log.debug({ connection: this.connection.id, principal: this.connection.principal, mechanism: this.mechanism }, 'SASL authentication succeeded');
    return lifetime;
  }

  private fail(mechanism: string, reason: string): void {
    this.services.outcome(this.connection.listenerName, mechanism, false);
    this.connection.closeAfterResponses(`SASL authentication failed: ${reason}`);
  }

  private exchangeFor(mechanism: string, phase: string): SaslExchange {
    if (mechanism === 'PLAIN') return new PlainServerExchange((user) => this.settings.plainUsers.get(user));
    const scram = scramMechanismNamed(mechanism);
    if (!scram) throw new Error(`no exchange for SASL mechanism ${mechanism}`);
    return new ScramServerExchange(scram, (user) => this.services.scramCredential(scram, user), phase);
  }
}
