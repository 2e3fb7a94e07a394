/**
 * Java .properties files (Kafka's server.properties) and --override key=value strings, read
 * into ordered maps of raw strings. What the keys mean is load-config.ts's business.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';

const WHITESPACE = new Set([' ', '\t', '\f']);
const ESCAPED: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function skipWhitespace(s: string, from: number): number {
  let i = from;
  while (i < s.length && WHITESPACE.has(s[i])) i++;
  return i;
}

/** A natural line continues on the next when it ends in an odd number of backslashes. */
function continues(line: string): boolean {
  let backslashes = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

function unescape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\' || i === s.length - 1) {
      out += s[i];
      continue;
    }
    const c = s[++i];
    if (c === 'u') {
      const hex = s.slice(i + 1, i + 5);
      if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw new Error('malformed \\uXXXX escape');
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += ESCAPED[c] ?? c;
    }
  }
  return out;
}

/** Splits a logical line at the first unescaped '=', ':' or whitespace, as Java does. */
function splitEntry(line: string): [string, string] {
  let end = 0;
  while (end < line.length && line[end] !== '=' && line[end] !== ':' && !WHITESPACE.has(line[end])) {
    end += line[end] === '\\' ? 2 : 1;
  }
  end = Math.min(end, line.length);
  let valueStart = skipWhitespace(line, end);
  if (line[valueStart] === '=' || line[valueStart] === ':') valueStart = skipWhitespace(line, valueStart + 1);
  return [unescape(line.slice(0, end)), unescape(line.slice(valueStart))];
}

/**
 * Parses .properties text: key=value, key: value or "key value"; # and ! comment lines;
 * backslash continuations; \t \n \r \f \uXXXX and \<char> escapes. A repeated key keeps its
 * last value. `origin` names the source in error messages.
 */
export function parseProperties(text: string, origin = 'properties'): Map<string, string> {
  const lines = text.split(/\r\n|\r|\n/);
  const props = new Map<string, string>();
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    let logical = lines[i].slice(skipWhitespace(lines[i], 0));
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue;
    while (continues(logical) && i + 1 < lines.length) {
      const next = lines[++i];
      logical = logical.slice(0, -1) + next.slice(skipWhitespace(next, 0));
    }
    if (continues(logical)) logical = logical.slice(0, -1);
    try {
      const [key, value] = splitEntry(logical);
      props.delete(key);
      props.set(key, value);
    } catch (e) {
      problems.push(`${origin}:${lineNumber}: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return props;
}

/** Reads a server.properties file as UTF-8 (a superset of the Latin-1 Java assumes for ASCII files). */
export function readPropertiesFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    throw new ConfigError([`cannot read config file ${path}: ${why}`]);
  }
  return parseProperties(text, path);
}

/** One --override argument: "key=value", split at the first '='; the value may be empty. */
export function parseOverride(text: string): [string, string] {
  const eq = text.indexOf('=');
  const key = eq < 0 ? '' : text.slice(0, eq).trim();
  if (key === '') throw new ConfigError([`--override ${text}: expected key=value`]);
  return [key, text.slice(eq + 1)];
}
