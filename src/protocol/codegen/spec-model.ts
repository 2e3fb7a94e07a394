import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPEC_OVERLAY_DIR } from './locations.js';

/** Inclusive version range; max is Infinity for open ranges ("3+"). null stands for "none". */
export interface VersionRange {
  min: number;
  max: number;
}

export type PrimitiveName =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'bytes'
  | 'uuid'
  | 'records';

export type FieldType =
  | { kind: 'primitive'; name: PrimitiveName }
  | { kind: 'array'; element: FieldType }
  | { kind: 'struct'; struct: StructSpec };

export interface FieldSpec {
  name: string;
  jsName: string;
  type: FieldType;
  versions: VersionRange | null;
  nullableVersions: VersionRange | null;
  /** Set for tagged fields: they live only in the tagged section. */
  tag: number | null;
  taggedVersions: VersionRange | null;
  /** A field-level override of the message's flexible versions (only ClientId uses it). */
  flexibleVersions: VersionRange | null | undefined;
  ignorable: boolean;
  defaultValue: string | undefined;
  about: string | undefined;
}

export interface StructSpec {
  name: string;
  fields: FieldSpec[];
}

export type MessageKind = 'request' | 'response' | 'header' | 'data';

export interface MessageSpec {
  name: string;
  kind: MessageKind;
  apiKey: number | null;
  /** Where the spec came from, relative to the spec root: "messages/ProduceRequest.json". */
  source: string;
  validVersions: VersionRange;
  flexibleVersions: VersionRange | null;
  deprecatedVersions: VersionRange | null;
  root: StructSpec;
  /** Every struct other than the root, in declaration order. */
  structs: StructSpec[];
}

export const SPEC_FOLDERS = ['messages', 'group-coordinator', 'transaction-coordinator', 'share-coordinator'] as const;

const PRIMITIVES = new Set<string>([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'uuid', 'records',
]);

/** Kafka's spec files are JSON with // line comments; strip them without touching strings. */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

export function parseRange(text: string | undefined, what: string): VersionRange | null {
  if (text === undefined || text === 'none') return null;
  let m = /^(\d+)\+$/.exec(text);
  if (m) return { min: Number(m[1]), max: Infinity };
  m = /^(\d+)-(\d+)$/.exec(text);
  if (m) return { min: Number(m[1]), max: Number(m[2]) };
  m = /^(\d+)$/.exec(text);
  if (m) return { min: Number(m[1]), max: Number(m[1]) };
  throw new Error(`${what}: bad version range "${text}"`);
}

export function camelCase(name: string): string {
  return name[0].toLowerCase() + name.slice(1);
}

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  tag?: number | string;
  taggedVersions?: string;
  flexibleVersions?: string;
  ignorable?: boolean;
  default?: string | number | boolean;
  about?: string;
  fields?: RawField[];
}

interface RawSpec {
  name: string;
  type: MessageKind;
  apiKey?: number;
  validVersions: string;
  flexibleVersions: string;
  deprecatedVersions?: string;
  fields: RawField[];
  commonStructs?: { name: string; fields: RawField[] }[];
}

export function parseSpec(text: string, source: string): MessageSpec {
  const raw = JSON.parse(stripJsonComments(text)) as RawSpec;
  const where = `${source} (${raw.name})`;
  const structs = new Map<string, StructSpec>();
  const order: StructSpec[] = [];

  // Declare every named struct first: a field may refer to a struct declared later in the file.
  const declare = (name: string): StructSpec => {
    let s = structs.get(name);
    if (!s) {
      s = { name, fields: [] };
      structs.set(name, s);
      order.push(s);
    }
    return s;
  };
  const declareInline = (fields: RawField[]): void => {
    for (const f of fields) {
      if (f.fields) {
        declare(f.type.replace(/^\[\]/, ''));
        declareInline(f.fields);
      }
    }
  };
  for (const c of raw.commonStructs ?? []) {
    declare(c.name);
    declareInline(c.fields);
  }
  declareInline(raw.fields);

  const resolveType = (type: string, field: string): FieldType => {
    if (type.startsWith('[]')) return { kind: 'array', element: resolveType(type.slice(2), field) };
    if (PRIMITIVES.has(type)) return { kind: 'primitive', name: type as PrimitiveName };
    const s = structs.get(type);
    if (!s) throw new Error(`${where}: field ${field} has unknown type ${type}`);
    return { kind: 'struct', struct: s };
  };
  const toFields = (fields: RawField[]): FieldSpec[] =>
    fields.map((f) => {
      const type = resolveType(f.type, f.name);
      if (f.fields) {
        const s = structs.get(f.type.replace(/^\[\]/, ''))!;
        if (s.fields.length === 0) s.fields = toFields(f.fields);
      }
      return {
        name: f.name,
        jsName: camelCase(f.name),
        type,
        versions: parseRange(f.versions, `${where}.${f.name}`),
        nullableVersions: parseRange(f.nullableVersions, `${where}.${f.name}`),
        tag: f.tag === undefined ? null : Number(f.tag),
        taggedVersions: parseRange(f.taggedVersions, `${where}.${f.name}`),
        flexibleVersions: 'flexibleVersions' in f ? parseRange(f.flexibleVersions, `${where}.${f.name}`) : undefined,
        ignorable: f.ignorable === true,
        defaultValue: f.default === undefined ? undefined : String(f.default),
        about: f.about,
      };
    });
  for (const c of raw.commonStructs ?? []) structs.get(c.name)!.fields = toFields(c.fields);
  const rootFields = toFields(raw.fields);

  const validVersions = parseRange(raw.validVersions, where);
  if (!validVersions) throw new Error(`${where}: no valid versions`);
  return {
    name: raw.name,
    kind: raw.type,
    apiKey: raw.apiKey ?? null,
    source,
    validVersions,
    flexibleVersions: parseRange(raw.flexibleVersions, where),
    deprecatedVersions: parseRange(raw.deprecatedVersions, where),
    root: { name: raw.name, fields: rootFields },
    structs: order,
  };
}

export interface ErrorSpec {
  code: number;
  name: string;
  message: string | null;
  retriable: boolean;
}

export interface ProtocolSpecs {
  messages: MessageSpec[];
  errors: ErrorSpec[];
}

function specFiles(root: string): string[] {
  return SPEC_FOLDERS.flatMap((folder) => (existsSync(join(root, folder)) ? readdirSync(join(root, folder)) : []).filter((f) => f.endsWith('.json')).map((f) => `${folder}/${f}`));
}

/**
 * A spec from the overlay folder: a whole spec, or `{"extends": "<reference path>", ...}`, the
 * reference spec with the top-level keys given (a new validVersions, say) put in its place.
 */
function overlaySpecText(root: string, overlay: string, source: string): string {
  const raw = JSON.parse(stripJsonComments(readFileSync(join(overlay, source), 'utf8'))) as Record<string, unknown>;
  if (typeof raw.extends !== 'string') return JSON.stringify(raw);
  const { extends: base, ...changes } = raw;
  return JSON.stringify({ ...(JSON.parse(stripJsonComments(readFileSync(join(root, base), 'utf8'))) as object), ...changes });
}

/**
 * Reads every message spec and the error table under a kafka-protocol folder, with the
 * overlay's specs (see specs/README.md) in place of the reference ones of the same path.
 */
export function loadSpecs(root: string, overlay = SPEC_OVERLAY_DIR): ProtocolSpecs {
  const texts = new Map<string, string>();
  for (const source of specFiles(root)) texts.set(source, readFileSync(join(root, source), 'utf8'));
  for (const source of specFiles(overlay)) texts.set(source, overlaySpecText(root, overlay, source));
  const messages = [...texts.keys()].sort().map((source) => parseSpec(texts.get(source)!, source));
  const errors = (JSON.parse(readFileSync(join(root, 'errors.json'), 'utf8')) as ErrorSpec[]).map((e) => ({
    code: e.code,
    name: e.name,
    message: e.message,
    retriable: e.retriable,
  }));
  return { messages, errors };
}
