import type { AclImage } from '../../metadata/image.js';
import { AclOperation, CLUSTER_NAME, PatternType, Permission, ResourceType, WILDCARD } from './acl-codes.js';

/** A DescribeAcls / DeleteAcls filter: null strings and ANY codes match everything. */
export interface AclFilter {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
  principal: string | null;
  host: string | null;
  operation: number;
  permission: number;
}

const RESOURCE_TYPES = new Set<number>([ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID, ResourceType.DELEGATION_TOKEN, ResourceType.USER]);
const OPERATIONS = new Set<number>(Object.values(AclOperation).filter((op) => op !== AclOperation.ANY));
const PATTERNS = new Set<number>([PatternType.LITERAL, PatternType.PREFIXED]);
const PERMISSIONS = new Set<number>([Permission.ALLOW, Permission.DENY]);

/** Kafka's principal form "Type:name". */
const PRINCIPAL = /^[^:]+:.+$/;

/** Why a binding cannot be created (Kafka answers INVALID_REQUEST), or null. */
export function invalidBinding(a: AclImage): string | null {
  if (!RESOURCE_TYPES.has(a.resourceType)) return 'invalid resource type';
  if (!PATTERNS.has(a.patternType)) return 'invalid pattern type: expected LITERAL or PREFIXED';
  if (!OPERATIONS.has(a.operation)) return 'invalid operation';
  if (!PERMISSIONS.has(a.permission)) return 'invalid permission type: expected ALLOW or DENY';
  if (a.resourceName === '') return 'empty resource name';
  if (a.resourceType === ResourceType.CLUSTER && a.resourceName !== CLUSTER_NAME) return `the cluster resource is named ${CLUSTER_NAME}`;
  if (a.patternType === PatternType.PREFIXED && a.resourceName === WILDCARD) return 'a PREFIXED pattern cannot be the wildcard';
  if (!PRINCIPAL.test(a.principal)) return `invalid principal '${a.principal}': expected Type:name`;
  if (a.host === '') return 'empty host';
  return null;
}

/** Why a filter is malformed (INVALID_REQUEST), or null: UNKNOWN codes (0) and codes out of range are refused. */
export function invalidFilter(f: AclFilter): string | null {
  if (f.resourceType !== ResourceType.ANY && !RESOURCE_TYPES.has(f.resourceType)) return 'invalid resource type filter';
  if (f.patternType < PatternType.ANY || f.patternType > PatternType.PREFIXED) return 'invalid pattern type filter';
  if (f.operation < AclOperation.ANY || f.operation > AclOperation.DESCRIBE_TOKENS) return 'invalid operation filter';
  if (f.permission < Permission.ANY || f.permission > Permission.ALLOW) return 'invalid permission filter';
  return null;
}

/** Kafka's pattern filter: ANY/LITERAL/PREFIXED match names exactly, MATCH matches the bindings that would apply to the name. */
function matchesPattern(f: AclFilter, a: AclImage): boolean {
  if (f.patternType === PatternType.MATCH) {
    if (f.resourceName === null) return true;
    if (a.patternType === PatternType.LITERAL) return a.resourceName === f.resourceName || a.resourceName === WILDCARD;
    return a.patternType === PatternType.PREFIXED && f.resourceName.startsWith(a.resourceName);
  }
  if (f.patternType !== PatternType.ANY && f.patternType !== a.patternType) return false;
  return f.resourceName === null || f.resourceName === a.resourceName;
}

export function matchesFilter(f: AclFilter, a: AclImage): boolean {
  return (
    (f.resourceType === ResourceType.ANY || f.resourceType === a.resourceType) &&
    matchesPattern(f, a) &&
    (f.principal === null || f.principal === a.principal) &&
    (f.host === null || f.host === a.host) &&
    (f.operation === AclOperation.ANY || f.operation === a.operation) &&
    (f.permission === Permission.ANY || f.permission === a.permission)
  );
}
