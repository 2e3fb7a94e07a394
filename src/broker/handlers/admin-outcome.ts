import { log } from '../../log.js';
import { MetadataWriteError } from '../../metadata/store.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { fileSystemFailure, type StorageErrorKind } from '../../storage/storage-error.js';

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

/** What an operator can do about the resources a broker runs out of most. */
const HINTS: Partial<Record<StorageErrorKind, string>> = {
  'no-descriptors': "too many files are open: raise the broker's limit (ulimit -n)",
  'disk-full': 'the log directory is out of space',
};

/**
 * The answer for a change that failed and was taken back whole (ReplicaManager, the metadata store):
 * KAFKA_STORAGE_ERROR naming the cause when the file system failed (a full disk, too many open
 * files, an I/O error), UNKNOWN_SERVER_ERROR otherwise. One warning line; the broker goes on.
 */
export function rolledBack(what: string, e: unknown): Outcome {
  // The metadata refused the change itself (a name taken meanwhile, etcd away): its own answer.
  if (e instanceof MetadataWriteError) return failed(e.errorCode, `${what}: ${e.message}`);
  const failure = fileSystemFailure(e, what);
  const hint = failure && HINTS[failure.kind];
  const message = `${what}: ${e instanceof Error ? e.message : String(e)}${hint ? ` — ${hint}` : ''}`;
  log.warn({ err: e }, `${message}; nothing of the change was kept`);
  return { errorCode: failure ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: message };
}
