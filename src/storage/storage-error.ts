/** Errors of the storage layer, each of which the broker answers with a Kafka error code. */
export type StorageErrorKind =
  | 'offset-out-of-range' // OFFSET_OUT_OF_RANGE
  | 'invalid-record' // INVALID_RECORD / CORRUPT_MESSAGE
  | 'record-too-large' // MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE
  | 'log-closed'; // KAFKA_STORAGE_ERROR / NOT_LEADER: the log is closing or deleted

export class StorageError extends Error {
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}
