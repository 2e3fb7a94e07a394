/**
 * Kafka's "authorized operations not requested" value (Integer.MIN_VALUE), which a response
 * carries where the client did not ask for authorized operations.
 */
export const OPERATIONS_OMITTED = -2147483648;

/** Kafka's AclOperation codes (the bit each sets in an authorized-operations field). */
export const AclOperation = {
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

/** Kafka's Utils.to32BitField: one bit per operation code. */
function bits(...codes: number[]): number {
  return codes.reduce((field, code) => field | (1 << code), 0);
}

const A = AclOperation;

/**
 * What a principal may do to each resource type when no authorizer runs, as Kafka answers it
 * (AclEntry.supportedOperations, then to32BitField): every operation the resource type has.
 * Sluice has no authorizer, so these are what Metadata, DescribeCluster and DescribeGroups
 * report when a client asks for authorized operations.
 */
export const AUTHORIZED_OPERATIONS = {
  /** READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS. */
  topic: bits(A.READ, A.WRITE, A.CREATE, A.DELETE, A.ALTER, A.DESCRIBE, A.DESCRIBE_CONFIGS, A.ALTER_CONFIGS),
  /** READ, DELETE, DESCRIBE. */
  group: bits(A.READ, A.DELETE, A.DESCRIBE),
  /** CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE. */
  cluster: bits(A.CREATE, A.ALTER, A.DESCRIBE, A.CLUSTER_ACTION, A.DESCRIBE_CONFIGS, A.ALTER_CONFIGS, A.IDEMPOTENT_WRITE),
  /** WRITE, DESCRIBE. */
  transactionalId: bits(A.WRITE, A.DESCRIBE),
} as const;

/** The field's value: the resource type's operations when asked for, else Kafka's "not requested". */
export function authorizedOperations(resource: keyof typeof AUTHORIZED_OPERATIONS, requested: boolean): number {
  return requested ? AUTHORIZED_OPERATIONS[resource] : OPERATIONS_OMITTED;
}
