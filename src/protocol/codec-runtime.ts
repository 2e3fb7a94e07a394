import { ProtocolError } from './protocol-error.js';
import { Reader } from './primitives/reader.js';
import { Writer } from './primitives/writer.js';

/** A tagged field this code does not know, kept as raw bytes so it round-trips. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}

export { ZERO_UUID } from './primitives/uuid.js';

export function unencodable(path: string, version: number, why: string): ProtocolError {
  return new ProtocolError('unencodable', `${path}: ${why} in version ${version}`);
}

export function unsupportedVersion(name: string, version: number, min: number, max: number): ProtocolError {
  return new ProtocolError('unsupported-version', `${name} has no version ${version} (valid: ${min}-${max})`);
}

/** Encodes one known tagged field's value on its own, since the section needs its size first. */
export function encodeTagged(tag: number, write: (w: Writer) => void): TaggedField {
  const w = new Writer(64);
  write(w);
  return { tag, data: Buffer.from(w.finish()) };
}

/** Writes a tagged-field section: the known fields present and the unknown ones, by tag. */
export function writeTaggedSection(w: Writer, known: TaggedField[] | null, unknown: TaggedField[] | undefined): void {
  if (known === null || known.length === 0) {
    if (unknown === undefined || unknown.length === 0) {
      w.uvarint(0);
      return;
    }
    known = [];
  }
  const all = unknown === undefined ? known : known.concat(unknown);
  all.sort((a, b) => a.tag - b.tag);
  w.uvarint(all.length);
  for (const t of all) {
    w.uvarint(t.tag);
    w.uvarint(t.data.length);
    w.raw(t.data);
  }
}

/**
 * Reads a tagged-field section. For each field, `known` is given a reader bounded to the field's
 * bytes and returns false when the tag is not one it knows, so the field is kept as unknown.
 */
export function readTaggedSection(r: Reader, known: ((tag: number, sub: Reader) => boolean) | null): TaggedField[] | undefined {
  const count = r.uvarint();
  if (count > r.remaining / 2) {
    throw new ProtocolError('invalid-length', `${count} tagged fields cannot fit in ${r.remaining} bytes`);
  }
  let unknown: TaggedField[] | undefined;
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    const start = r.take(size);
    if (known !== null && known(tag, new Reader(r.buf, start, start + size))) continue;
    (unknown ??= []).push({ tag, data: Buffer.from(r.buf.subarray(start, start + size)) });
  }
  return unknown;
}

/** A codec for one message at any of its versions. */
export interface MessageCodec<T> {
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version, or null when the message has none. */
  readonly flexibleFrom: number | null;
  write(w: Writer, message: T, version: number): void;
  read(r: Reader, version: number): T;
  encode(message: T, version: number): Buffer;
  decode(bytes: Buffer, version: number): T;
  /** A message with every field at its default. */
  create(): T;
}

/** Builds the codec object around a generated message's read and write functions. */
export function messageCodec<T>(
  name: string,
  minVersion: number,
  maxVersion: number,
  flexibleFrom: number | null,
  write: (w: Writer, m: T, v: number) => void,
  read: (r: Reader, v: number) => T,
  create: () => T,
): MessageCodec<T> {
  const check = (v: number): void => {
    if (!Number.isInteger(v) || v < minVersion || v > maxVersion) throw unsupportedVersion(name, v, minVersion, maxVersion);
  };
  return {
    name,
    minVersion,
    maxVersion,
    flexibleFrom,
    write(w, m, v) {
      check(v);
      write(w, m, v);
    },
    read(r, v) {
      check(v);
      return read(r, v);
    },
    encode(m, v) {
      check(v);
      const w = new Writer();
      write(w, m, v);
      return w.finish();
    },
    decode(bytes, v) {
      check(v);
      return read(new Reader(bytes), v);
    },
    create,
  };
}

/** Arrays this short are made at their size: filled by push, an array starts at 17 slots, and a parked fetch keeps its request's arrays. */
const SIZED_ARRAY_MAX = 1024;

/**
 * An array for `n` decoded elements, to be filled in order (`a[i] = ...`). Longer ones grow as
 * they fill: V8 makes a very long `new Array(n)` a slow dictionary.
 */
export function arrayFor<T>(n: number): T[] {
  return n <= SIZED_ARRAY_MAX ? new Array<T>(n) : [];
}

/** A null where the version does not allow one (a -1 length on a non-nullable field). */
export function unexpectedNull(path: string): ProtocolError {
  return new ProtocolError('invalid-length', `${path}: null is not allowed here`);
}

export function nonNull<T>(value: T | null): T {
  if (value === null) throw new ProtocolError('invalid-length', 'null records where the version does not allow them');
  return value;
}
