import { isUtf8 } from 'node:buffer';
import type { FetchedRecord } from '../client/fetcher.js';

export const RECORD_FORMATS = ['raw', 'text', 'json'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);

/** Bytes as JSON: a string when they are valid UTF-8, else base64, said in `<field>Encoding`. */
function jsonBytes(field: string, bytes: Buffer | null): Record<string, string | null> {
  if (bytes === null) return { [field]: null };
  if (isUtf8(bytes)) return { [field]: bytes.toString('utf8') };
  return { [field]: bytes.toString('base64'), [`${field}Encoding`]: 'base64' };
}

function asJson(r: FetchedRecord): string {
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: Number(r.offset),
    timestamp: Number(r.timestamp),
    ...jsonBytes('key', r.key),
    ...jsonBytes('value', r.value),
    // A list rather than an object: header keys may repeat, and their order can matter.
    headers: r.headers.map((h) => {
      const v = jsonBytes('value', h.value);
      return v.valueEncoding ? { key: h.key, value: v.value, encoding: v.valueEncoding } : { key: h.key, value: v.value };
    }),
  });
}

/**
 * One record as a line of output. raw: the value's bytes as they are (for piping data
 * through); text: `key<TAB>value` (the value alone when there is no key); json: one object.
 */
export function formatRecord(r: FetchedRecord, format: RecordFormat): Buffer {
  switch (format) {
    case 'raw':
      return Buffer.concat([r.value ?? EMPTY, NEWLINE]);
    case 'text':
      return Buffer.concat(r.key === null ? [r.value ?? EMPTY, NEWLINE] : [r.key, Buffer.from('\t'), r.value ?? EMPTY, NEWLINE]);
    case 'json':
      return Buffer.from(`${asJson(r)}\n`);
  }
}
