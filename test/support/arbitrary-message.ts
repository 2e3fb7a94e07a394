import fc from 'fast-check';
import type { FieldSpec, FieldType, MessageSpec, StructSpec, VersionRange } from '../../src/protocol/codegen/spec-model.js';

const inRange = (r: VersionRange | null, v: number): boolean => r !== null && v >= r.min && v <= r.max;

/** The value a generated create function gives a field, so absent fields encode cleanly. */
function defaultValue(f: FieldSpec, create: (s: StructSpec) => unknown): unknown {
  const d = f.defaultValue;
  if (d === 'null') return null;
  const t = f.type;
  if (t.kind === 'array') return [];
  if (t.kind === 'struct') return create(t.struct);
  switch (t.name) {
    case 'bool':
      return d === 'true';
    case 'int64':
      return d === undefined ? 0n : BigInt(d);
    case 'string':
      return d ?? '';
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
    case 'bytes':
    case 'records':
      return Buffer.alloc(0);
    default:
      return d === undefined ? 0 : Number(d);
  }
}

function createStruct(s: StructSpec): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of s.fields) o[f.jsName] = defaultValue(f, createStruct);
  return o;
}

const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));

function primitive(name: string): fc.Arbitrary<unknown> {
  switch (name) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float64':
      return fc.double();
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 12 });
    case 'uuid':
      return hex(16).map((h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b));
    default:
      throw new Error(`no arbitrary for ${name}`);
  }
}

/**
 * Random values of a message at one version: fields present in that version are random (null
 * where the version allows it), absent ones keep their defaults, and flexible versions carry
 * some unknown tagged fields, which must round-trip too.
 */
export function arbitraryMessage(spec: MessageSpec, version: number, maxDepth = 3): fc.Arbitrary<unknown> {
  const flexible = inRange(spec.flexibleVersions, version);

  const typeArb = (t: FieldType, depth: number): fc.Arbitrary<unknown> => {
    if (t.kind === 'array') return fc.array(typeArb(t.element, depth + 1), { maxLength: depth >= maxDepth ? 0 : 3 });
    if (t.kind === 'struct') return structArb(t.struct, depth + 1);
    return primitive(t.name);
  };

  const fieldArb = (f: FieldSpec, depth: number): fc.Arbitrary<unknown> => {
    const present = f.tag === null ? inRange(f.versions, version) : flexible && inRange(f.taggedVersions, version);
    if (!present) return fc.constant(defaultValue(f, createStruct));
    const value = typeArb(f.type, depth);
    return inRange(f.nullableVersions, version) ? fc.option(value, { nil: null, freq: 4 }) : value;
  };

  const unknownTags = (known: number[]) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: 300 }).filter((t) => !known.includes(t)), { maxLength: 2 })
      .chain((tags) =>
        fc.tuple(...tags.sort((a, b) => a - b).map((tag) => fc.uint8Array({ maxLength: 6 }).map((d) => ({ tag, data: Buffer.from(d) })))),
      );

  const structArb = (s: StructSpec, depth: number): fc.Arbitrary<unknown> => {
    const fields: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of s.fields) fields[f.jsName] = fieldArb(f, depth);
    const record = fc.record(fields).map((r) => ({ ...r }));
    if (!flexible) return record;
    const known = s.fields.filter((f) => f.tag !== null).map((f) => f.tag!);
    return fc.tuple(record, fc.option(unknownTags(known), { nil: undefined, freq: 3 })).map(([r, unknown]) => {
      const o = r as Record<string, unknown>;
      if (unknown !== undefined && unknown.length > 0) o.unknownTaggedFields = unknown;
      return o;
    });
  };

  return structArb(spec.root, 0);
}

export function versionsOf(spec: MessageSpec): number[] {
  const out: number[] = [];
  for (let v = spec.validVersions.min; v <= spec.validVersions.max; v++) out.push(v);
  return out;
}
