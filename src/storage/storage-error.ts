/** Errors of the storage layer, each of which the broker answers with a Kafka error code. */
export type StorageErrorKind =
  | 'offset-out-of-range' // OFFSET_OUT_OF_RANGE
  | 'invalid-record' // INVALID_RECORD / CORRUPT_MESSAGE
  | 'record-too-large' // MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE
  | 'log-closed' // KAFKA_STORAGE_ERROR / NOT_LEADER: the log is closing or deleted
  | 'disk-full' // KAFKA_STORAGE_ERROR: nothing was written; writes resume once there is space
  | 'no-descriptors' // KAFKA_STORAGE_ERROR: the process is out of file descriptors
  | 'io-error' // KAFKA_STORAGE_ERROR: the log directory failed and goes offline
  | 'log-dir-offline'; // KAFKA_STORAGE_ERROR: the log is in a directory that failed earlier

export class StorageError extends Error {
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

/**
 * A failure of the file system (an errno error from node:fs or the addon) as a StorageError;
 * null for anything else, which is a bug to surface as it is.
 */
export function fileSystemFailure(e: unknown, where: string): StorageError | null {
  if (e instanceof StorageError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || code.startsWith('ERR_')) return null;
  // A failed fsync may already have dropped the dirty pages it could not write, whatever the
  // reason it gives: only the directory going offline is safe then.
  const syscall = (e as NodeJS.ErrnoException).syscall;
  const synced = syscall === 'fsync' || syscall === 'fdatasync';
  const kind: StorageErrorKind =
    synced ? 'io-error' : code === 'ENOSPC' || code === 'EDQUOT' ? 'disk-full' : code === 'EMFILE' || code === 'ENFILE' ? 'no-descriptors' : 'io-error';
  return new StorageError(kind, `${where}: ${(e as Error).message}`, { cause: e });
}
