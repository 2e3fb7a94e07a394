/**
 * Kafka's "authorized operations not requested" value (Integer.MIN_VALUE), which Sluice sends
 * everywhere a response has such a field: it has no ACLs to report.
 */
export const OPERATIONS_OMITTED = -2147483648;
