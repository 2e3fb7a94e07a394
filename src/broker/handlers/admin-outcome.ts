import { ErrorCode } from '../../protocol/generated/errors.js';

/** The answer for one topic or resource of an admin request: Kafka's ApiError. */
export interface Outcome {
  errorCode: number;
  errorMessage: string | null;
}

export const succeeded = (): Outcome => ({ errorCode: ErrorCode.NONE, errorMessage: null });

/** Kafka leaves the message null where the code says it all; so do these answers. */
export const failed = (errorCode: number, errorMessage: string | null = null): Outcome => ({ errorCode, errorMessage });

export const isFailure = (o: Outcome): boolean => o.errorCode !== ErrorCode.NONE;

/** The keys given more than once: Kafka refuses those entries rather than act on any of them. */
export function repeated<T>(keys: Iterable<T>): Set<T> {
  const seen = new Set<T>();
  const twice = new Set<T>();
  for (const k of keys) (seen.has(k) ? twice : seen).add(k);
  return twice;
}
