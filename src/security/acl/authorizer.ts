import type { AclImage, AclTable } from '../../metadata/image.js';
import { AclOperation, OPERATIONS_OF, PatternType, Permission, WILDCARD, WILDCARD_PRINCIPAL, nameOf } from './acl-codes.js';

/** Who asks, from where: a connection's principal ("User:name") and remote address. */
export interface Requester {
  readonly principal: string;
  readonly host: string;
}

export interface AuthorizerSettings {
  /** authorizer.class.name is set: without it every principal may do everything. */
  enabled: boolean;
  superUsers: readonly string[];
  allowEveryoneIfNoAclFound: boolean;
}

/** ALLOW of these implies ALLOW of the key (Kafka: DESCRIBE by READ/WRITE/DELETE/ALTER, DESCRIBE_CONFIGS by ALTER_CONFIGS). */
const IMPLIED_BY = new Map<number, readonly number[]>([
  [AclOperation.DESCRIBE, [AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]],
  [AclOperation.DESCRIBE_CONFIGS, [AclOperation.ALTER_CONFIGS]],
]);

/** The binding's pattern covers the resource name: an exact or `*` literal, or a prefix. */
function coversName(acl: AclImage, name: string): boolean {
  if (acl.patternType === PatternType.LITERAL) return acl.resourceName === name || acl.resourceName === WILDCARD;
  return acl.patternType === PatternType.PREFIXED && name.startsWith(acl.resourceName);
}

function appliesTo(acl: AclImage, who: Requester): boolean {
  return (acl.principal === who.principal || acl.principal === WILDCARD_PRINCIPAL) && (acl.host === who.host || acl.host === WILDCARD);
}

/** The bindings of one resource type, by how they name resources. */
interface TypeBindings {
  all: AclImage[];
  /** LITERAL bindings by resource name, `*` among them. */
  literal: Map<string, AclImage[]>;
  prefixed: AclImage[];
}

/**
 * The bindings by resource type and name, so a check looks at the bindings that can match it,
 * not at every binding: thousands of ACLs times an all-topics Metadata request otherwise.
 */
class AclIndex {
  private readonly byType = new Map<number, TypeBindings>();

  constructor(acls: Iterable<AclImage>) {
    for (const acl of acls) {
      let t = this.byType.get(acl.resourceType);
      if (!t) this.byType.set(acl.resourceType, (t = { all: [], literal: new Map(), prefixed: [] }));
      t.all.push(acl);
      if (acl.patternType === PatternType.PREFIXED) t.prefixed.push(acl);
      else if (acl.patternType === PatternType.LITERAL) {
        const same = t.literal.get(acl.resourceName);
        if (same) same.push(acl);
        else t.literal.set(acl.resourceName, [acl]);
      }
    }
  }

  ofType(resourceType: number): readonly AclImage[] {
    return this.byType.get(resourceType)?.all ?? [];
  }

  /** The bindings whose pattern covers the resource. */
  *covering(resourceType: number, name: string): Generator<AclImage> {
    const t = this.byType.get(resourceType);
    if (!t) return;
    yield* t.literal.get(name) ?? [];
    if (name !== WILDCARD) yield* t.literal.get(WILDCARD) ?? [];
    for (const acl of t.prefixed) if (name.startsWith(acl.resourceName)) yield acl;
  }
}

/**
 * Kafka's ACL semantics (StandardAuthorizer): a super user may do everything; otherwise a
 * matching DENY wins over any ALLOW, an ALLOW of the operation (or ALL, or one that implies it)
 * allows, and a resource that no binding matches at all is allowed only with
 * allow.everyone.if.no.acl.found.
 */
export class Authorizer {
  /** Called on every denial, for the metrics. */
  onDenied: ((resourceType: string, operation: string) => void) | null = null;

  private index: { table: AclTable; changes: number; index: AclIndex } | null = null;

  constructor(
    private readonly acls: () => AclTable,
    private readonly settings: () => AuthorizerSettings,
  ) {}

  private bindings(): AclIndex {
    const table = this.acls();
    if (this.index?.table !== table || this.index.changes !== table.changes) this.index = { table, changes: table.changes, index: new AclIndex(table.values()) };
    return this.index.index;
  }

  get enabled(): boolean {
    return this.settings().enabled;
  }

  private bypasses(who: Requester): boolean {
    const s = this.settings();
    return !s.enabled || s.superUsers.includes(who.principal);
  }

  /**
   * Whether `who` may do `operation` to the resource; counts a denial unless `quietly` (as
   * Kafka does not log the topics an all-topics Metadata request leaves out).
   */
  authorize(who: Requester, resourceType: number, name: string, operation: number, quietly = false): boolean {
    const allowed = this.bypasses(who) || this.decide(who, resourceType, name, operation);
    if (!allowed && !quietly) this.onDenied?.(nameOf('resourceType', resourceType), nameOf('operation', operation));
    return allowed;
  }

  private decide(who: Requester, resourceType: number, name: string, operation: number): boolean {
    let anyForResource = false;
    let allowed = false;
    const implying = IMPLIED_BY.get(operation) ?? [];
    for (const acl of this.bindings().covering(resourceType, name)) {
      anyForResource = true;
      if (!appliesTo(acl, who)) continue;
      const exact = acl.operation === operation || acl.operation === AclOperation.ALL;
      if (acl.permission === Permission.DENY && exact) return false;
      if (acl.permission === Permission.ALLOW && (exact || implying.includes(acl.operation))) allowed = true;
    }
    return allowed || (!anyForResource && this.settings().allowEveryoneIfNoAclFound);
  }

  /**
   * Whether `who` may do `operation` to some resource of the type (Kafka's
   * authorizeByResourceType, e.g. WRITE on any topic for an idempotent producer): an ALLOW for
   * some name that no DENY of the same or a wider pattern takes away.
   */
  authorizeAny(who: Requester, resourceType: number, operation: number): boolean {
    if (this.bypasses(who)) return true;
    const mine = this.bindings().ofType(resourceType).filter((a) => appliesTo(a, who));
    const denies = mine.filter((a) => a.permission === Permission.DENY && (a.operation === operation || a.operation === AclOperation.ALL));
    const deniedName = (name: string) => denies.some((d) => coversName(d, name));
    const allowed = mine.some(
      (a) => a.permission === Permission.ALLOW && (a.operation === operation || a.operation === AclOperation.ALL) && !deniedName(a.resourceName),
    );
    if (!allowed) this.onDenied?.(nameOf('resourceType', resourceType), nameOf('operation', operation));
    return allowed;
  }

  /** The authorized-operations bit field (one bit per operation code) of a resource, without counting denials. */
  authorizedOperations(who: Requester, resourceType: number, name: string): number {
    const ops = OPERATIONS_OF.get(resourceType) ?? [];
    const bypass = this.bypasses(who);
    return ops.reduce((field, op) => (bypass || this.decide(who, resourceType, name, op) ? field | (1 << op) : field), 0);
  }
}
