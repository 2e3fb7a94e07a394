/** One mechanism's server side of a SASL exchange, token by token. */
export interface SaslExchange {
  /**
   * Takes the client's next token: the token to send back, and the authenticated user once the
   * exchange is complete (null while it goes on). Throws AuthenticationFailure.
   */
  step(token: Buffer): { response: Buffer; user: string | null };
}

/** A failed exchange: what the client is told (Kafka's words), and what the log says. */
export class AuthenticationFailure extends Error {
  constructor(
    readonly clientMessage: string,
    detail: string,
    /** The user the client claimed, when it got that far. */
    readonly user: string | null = null,
  ) {
    super(detail);
    this.name = 'AuthenticationFailure';
  }
}
