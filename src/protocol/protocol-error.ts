/**
 * The only exception the protocol layer throws on bad input. The network layer turns it into a
 * Kafka error code or a closed connection; anything else escaping a decoder is a bug.
 */
export type ProtocolErrorKind =
  | 'truncated' // the input ended inside a value
  | 'invalid-length' // a length or count that is negative (and not null) or larger than the input
  | 'invalid-varint' // a varint longer than its type allows
  | 'invalid-value' // a value outside what its field allows (bad bool, bad magic...)
  | 'checksum' // a record batch whose CRC does not match its bytes (Kafka's CORRUPT_MESSAGE)
  | 'unsupported-version' // a version outside an API's or a schema's valid range
  | 'unencodable' // a message that cannot be written in the requested version
  | 'compression'; // a compressed block that does not decompress

export class ProtocolError extends Error {
  readonly kind: ProtocolErrorKind;

  constructor(kind: ProtocolErrorKind, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.kind = kind;
  }
}
