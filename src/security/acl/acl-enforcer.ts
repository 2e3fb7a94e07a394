import type { HandlerResult } from '../../network/connection.js';
import type { ApiHandler, RequestContext } from '../../broker/router.js';
import type { MetadataImage } from '../../metadata/image.js';
import { log } from '../../log.js';
import type { Authorizer, Requester } from './authorizer.js';
import { mayFetch, RULES_BY_KEY, type AclCheck } from './api-rules.js';

/** What the enforcer needs of the broker. */
export interface EnforcerContext {
  metadata(): MetadataImage;
  autoCreateTopics(): boolean;
}

/** An IPv4 address as Node reports it on a dual-stack socket, without the IPv6 prefix. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Applies the ACL rules of src/security/acl/api-rules.ts to every request, between the router
 * and the handlers. Requests of other brokers (replica fetches, transaction markers,
 * share-state writes) are held to Kafka's rule like any other: CLUSTER_ACTION on the cluster
 * for the principal they arrive as (docs/security.md says how to grant it).
 */
export class AclEnforcer {
  private readonly unruled = new Set<string>();

  constructor(
    private readonly authorizer: Authorizer,
    private readonly ctx: EnforcerContext,
  ) {}

  requester(connection: RequestContext['connection']): Requester {
    return { principal: connection.principal, host: plainAddress(connection.remoteAddress) };
  }

  check(who: Requester): AclCheck {
    const a = this.authorizer;
    const md = this.ctx.metadata();
    return {
      allowed: (type, name, op) => a.authorize(who, type, name, op),
      visible: (type, name, op) => a.authorize(who, type, name, op, true),
      allowedAny: (type, op) => a.authorizeAny(who, type, op),
      operations: (type, name) => a.authorizedOperations(who, type, name),
      topicName: (id) => md.topicById(id)?.name,
      topicExists: (name) => md.topic(name) !== undefined,
      autoCreate: this.ctx.autoCreateTopics(),
    };
  }

  /** Whether this connection's fetches may read `topic` (see `mayFetch`). */
  fetchAllowed(connection: RequestContext['connection'], topic: string, follower: boolean): boolean {
    return !this.authorizer.enabled || mayFetch(this.check(this.requester(connection)), topic, follower);
  }

  /** Serves the request as its API's rule allows: denied outright, narrowed and amended, or as it is. */
  enforce(api: ApiHandler['api'], request: unknown, ctx: RequestContext, serve: (request: unknown) => HandlerResult | Promise<HandlerResult>): HandlerResult | Promise<HandlerResult> {
    if (!this.authorizer.enabled) return serve(request);
    const rule = RULES_BY_KEY.get(api.apiKey);
    if (!rule) {
      // Fail closed: an API nobody wrote a rule for is not served while ACLs are on.
      if (!this.unruled.has(api.name)) log.error({ api: api.name }, 'no ACL rule for this API: requests refused');
      this.unruled.add(api.name);
      ctx.connection.close(`no ACL rule for ${api.name}`);
      return null;
    }
    const outcome = rule.check(request, this.check(this.requester(ctx.connection)), ctx.version);
    if ('deny' in outcome) return outcome.deny;
    const patch = outcome.patch;
    const response = serve(outcome.serve);
    if (!patch) return response;
    const patched = (r: HandlerResult): HandlerResult => {
      if (r !== null) patch(r);
      return r;
    };
    return response instanceof Promise ? response.then(patched) : patched(response);
  }
}
