/** Kafka's wire codes of ACL resource types, pattern types, operations and permissions, and their names. */

export const ResourceType = { ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
export const PatternType = { ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export const AclOperation = {
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
export const Permission = { ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** The only name a CLUSTER resource has. */
export const CLUSTER_NAME = 'kafka-cluster';
/** The resource name (LITERAL) and principal/host that match every one. */
export const WILDCARD = '*';
export const WILDCARD_PRINCIPAL = 'User:*';

function namesOf(codes: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(codes).map(([name, code]) => [code, name]));
}
const NAMES = {
  resourceType: namesOf(ResourceType),
  patternType: namesOf(PatternType),
  operation: namesOf(AclOperation),
  permission: namesOf(Permission),
};

export function nameOf(kind: keyof typeof NAMES, code: number): string {
  return NAMES[kind].get(code) ?? 'UNKNOWN';
}

/** The code of a name (any case, `-` or `_`, e.g. "transactional-id"), or undefined. */
export function codeOf(kind: keyof typeof NAMES, name: string): number | undefined {
  const wanted = name.toUpperCase().replace(/-/g, '_');
  for (const [code, n] of NAMES[kind]) if (n === wanted || n.replace(/_/g, '') === wanted) return code;
  return undefined;
}

/** The operations each resource type has (Kafka's supported operations, which authorized-operations fields list). */
export const OPERATIONS_OF: ReadonlyMap<number, readonly number[]> = new Map([
  [ResourceType.TOPIC, [AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]],
  [ResourceType.GROUP, [AclOperation.READ, AclOperation.DELETE, AclOperation.DESCRIBE]],
  [
    ResourceType.CLUSTER,
    [AclOperation.CREATE, AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE],
  ],
  [ResourceType.TRANSACTIONAL_ID, [AclOperation.WRITE, AclOperation.DESCRIBE]],
  [ResourceType.DELEGATION_TOKEN, [AclOperation.DESCRIBE]],
  [ResourceType.USER, [AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS]],
]);
