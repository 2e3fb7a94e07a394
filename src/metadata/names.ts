import { randomBytes } from 'node:crypto';
import { uuidFromBytes } from '../protocol/primitives/uuid.js';

/** Kafka's cluster id form: 16 random bytes in URL-safe base64, 22 characters. */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export function newTopicId(): string {
  const b = randomBytes(16);
  // Never the all-zero id, which Kafka reserves for "no id".
  b[0] |= 1;
  return uuidFromBytes(b);
}

/** Kafka's topic name rule: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..". */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'the topic name is empty';
  if (name === '.' || name === '..') return `topic name "${name}" is not allowed`;
  if (name.length > 249) return `topic name is ${name.length} characters long, the limit is 249`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `topic name "${name}" may only hold ASCII letters, digits, '.', '_' and '-'`;
  return null;
}
