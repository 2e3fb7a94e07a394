import type { ApiEntry } from '../protocol/api-entry.js';
import type { RequestHeader } from '../protocol/generated/messages/request-header.js';
import { createApiVersionsResponse, type ApiVersionsResponse } from '../protocol/generated/messages/api-versions-response.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { Connection, ConnectionAuthenticator, ConnectionInfo, HandlerResult, RequestRouter } from '../network/connection.js';

export interface RequestContext {
  header: RequestHeader;
  version: number;
  connection: ConnectionInfo;
}

export interface ApiHandler {
  readonly api: ApiEntry<unknown, unknown>;
  readonly minVersion: number;
  readonly maxVersion: number;
  handle(request: unknown, ctx: RequestContext): Promise<HandlerResult> | HandlerResult;
}

/**
 * A handler for the versions [minVersion, maxVersion] of one API: the versions ApiVersions
 * advertises are exactly the ones registered here. Returning null sends no response.
 */
export function handler<Req, Res>(
  api: ApiEntry<Req, Res>,
  minVersion: number,
  maxVersion: number,
  handle: (request: Req, ctx: RequestContext) => Promise<Res | null> | Res | null,
): ApiHandler {
  if (minVersion < api.minVersion || maxVersion > api.maxVersion) {
    throw new Error(`${api.name}: versions ${minVersion}-${maxVersion} outside the codec's ${api.minVersion}-${api.maxVersion}`);
  }
  return { api: api as ApiEntry<unknown, unknown>, minVersion, maxVersion, handle: handle as ApiHandler['handle'] };
}

/** Routes decoded requests to their handlers by api key and version. */
export class Router implements RequestRouter {
  private readonly handlers = new Map<number, ApiHandler>();
  /** Called as each request starts; the function it returns is called when its response is ready. */
  observe: ((api: string) => () => void) | null = null;
  /** Measures each answered request against its client's quotas, throttling it when over. */
  quotas: { begin(header: RequestHeader, request: unknown, connection: ConnectionInfo): ((response: HandlerResult) => Promise<void>) | null } | null = null;
  /** The authenticator of each new connection (SASL listeners); none until set. */
  authenticatorFor: ((connection: Connection) => ConnectionAuthenticator | null) | null = null;
  /** Checks each request against the ACLs before its handler serves it (src/security/acl); none without an authorizer. */
  authorize: ((api: ApiHandler['api'], request: unknown, ctx: RequestContext, serve: (request: unknown) => HandlerResult | Promise<HandlerResult>) => HandlerResult | Promise<HandlerResult>) | null = null;

  register(...handlers: ApiHandler[]): void {
    for (const h of handlers) this.handlers.set(h.api.apiKey, h);
  }

  supports(apiKey: number, apiVersion: number): boolean {
    const h = this.handlers.get(apiKey);
    return h !== undefined && apiVersion >= h.minVersion && apiVersion <= h.maxVersion;
  }

  /** The advertised version ranges, by api key. */
  supportedApis(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return [...this.handlers.values()]
      .map((h) => ({ apiKey: h.api.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey);
  }

  unsupportedApiVersionsResponse(): ApiVersionsResponse {
    const res = createApiVersionsResponse();
    res.errorCode = ErrorCode.UNSUPPORTED_VERSION;
    res.apiKeys = this.supportedApis();
    return res;
  }

  /**
   * Serves a request. A handler that answers at once (a produce with acks=1, most metadata)
   * is answered without a promise: each one a request goes through costs an allocation and a
   * turn of the microtask queue, which small requests feel.
   */
  handle(header: RequestHeader, body: unknown, connection: ConnectionInfo): HandlerResult | Promise<HandlerResult> {
    const h = this.handlers.get(header.requestApiKey)!;
    const done = this.observe?.(h.api.name) ?? null;
    // Before the handler, which may let go of the request's records once they are stored.
    const settleQuotas = this.quotas?.begin(header, body, connection) ?? null;
    let response: HandlerResult | Promise<HandlerResult>;
    try {
      const ctx = { header, version: header.requestApiVersion, connection };
      response = this.authorize ? this.authorize(h.api, body, ctx, (request) => h.handle(request, ctx)) : h.handle(body, ctx);
    } catch (e) {
      done?.();
      throw e;
    }
    if (settleQuotas !== null) return settle(response, settleQuotas, done);
    if (!(response instanceof Promise)) {
      done?.();
      return response;
    }
    // One reaction, not an async function's promise, generator and awaits: a parked fetch holds
    // whatever its request allocated until it is answered.
    if (done === null) return response;
    return response.then(
      (settled) => {
        done();
        return settled;
      },
      (e: unknown) => {
        done();
        throw e;
      },
    );
  }
}

async function settle(response: HandlerResult | Promise<HandlerResult>, settleQuotas: (response: HandlerResult) => Promise<void>, done: (() => void) | null): Promise<HandlerResult> {
  try {
    const settled = await response;
    await settleQuotas(settled);
    return settled;
  } finally {
    done?.();
  }
}
