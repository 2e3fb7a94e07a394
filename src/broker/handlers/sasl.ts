import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { SaslAuthenticateRequest } from '../../protocol/generated/messages/sasl-authenticate-request.js';
import { createSaslAuthenticateResponse } from '../../protocol/generated/messages/sasl-authenticate-response.js';
import type { SaslHandshakeRequest } from '../../protocol/generated/messages/sasl-handshake-request.js';
import { createSaslHandshakeResponse } from '../../protocol/generated/messages/sasl-handshake-response.js';
import { SaslSession } from '../../security/sasl/session.js';
import { handler, type RequestContext } from '../router.js';

const sessionOf = (ctx: RequestContext): SaslSession | null => (ctx.connection.authenticator instanceof SaslSession ? ctx.connection.authenticator : null);

/**
 * SaslHandshake: picks the mechanism (v1: its tokens follow in SaslAuthenticate; v0: bare).
 * On a listener without SASL, Kafka answers ILLEGAL_SASL_STATE.
 */
export function saslHandshakeHandler() {
  return handler(apis.SaslHandshake, 0, 1, (req: SaslHandshakeRequest, ctx) => {
    const session = sessionOf(ctx);
    if (session) return session.handshake(req.mechanism, ctx.version);
    const res = createSaslHandshakeResponse();
    res.errorCode = ErrorCode.ILLEGAL_SASL_STATE;
    return res;
  });
}

/** SaslAuthenticate: one token of the exchange; v1+ tells the session's lifetime (KIP-368). */
export function saslAuthenticateHandler() {
  return handler(apis.SaslAuthenticate, 0, 2, (req: SaslAuthenticateRequest, ctx) => {
    const session = sessionOf(ctx);
    if (session) return session.authenticate(req.authBytes);
    const res = createSaslAuthenticateResponse();
    res.errorCode = ErrorCode.ILLEGAL_SASL_STATE;
    res.errorMessage = `SASL is not enabled on listener ${ctx.connection.listenerName}`;
    return res;
  });
}
