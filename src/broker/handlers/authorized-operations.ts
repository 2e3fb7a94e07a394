import { OPERATIONS_OF, ResourceType } from '../../security/acl/acl-codes.js';

/**
 * Kafka's "authorized operations not requested" value (Integer.MIN_VALUE), which a response
 * carries where the client did not ask for authorized operations.
 */
export const OPERATIONS_OMITTED = -2147483648;

/** Kafka's Utils.to32BitField: one bit per operation code. */
function bits(resourceType: number): number {
  return (OPERATIONS_OF.get(resourceType) ?? []).reduce((field, code) => field | (1 << code), 0);
}

/**
 * What a principal may do to each resource type when no authorizer runs, as Kafka answers it
 * (every operation the resource type has). With `authorizer.class.name` set, the ACL rules
 * (src/security/acl/api-rules.ts) replace these with what the authorizer allows the principal.
 */
export const AUTHORIZED_OPERATIONS = {
  /** READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS. */
  topic: bits(ResourceType.TOPIC),
  /** READ, DELETE, DESCRIBE. */
  group: bits(ResourceType.GROUP),
  /** CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE. */
  cluster: bits(ResourceType.CLUSTER),
  /** WRITE, DESCRIBE. */
  transactionalId: bits(ResourceType.TRANSACTIONAL_ID),
} as const;

/** The field's value: the resource type's operations when asked for, else Kafka's "not requested". */
export function authorizedOperations(resource: keyof typeof AUTHORIZED_OPERATIONS, requested: boolean): number {
  return requested ? AUTHORIZED_OPERATIONS[resource] : OPERATIONS_OMITTED;
}
