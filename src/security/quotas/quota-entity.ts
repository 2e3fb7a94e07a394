/**
 * Kafka's client quota entities (KIP-55, KIP-546): who a quota applies to, the quota keys each
 * kind of entity takes, and the checks AlterClientQuotas and DescribeClientQuotas make.
 */
import { isIP } from 'node:net';

export const USER = 'user';
export const CLIENT_ID = 'client-id';
export const IP = 'ip';
export type EntityType = typeof USER | typeof CLIENT_ID | typeof IP;
const ENTITY_TYPES: readonly EntityType[] = [USER, CLIENT_ID, IP];

/** One part of an entity; a null name is the `<default>` entity of its type. */
export interface EntityPart {
  type: EntityType;
  name: string | null;
}

/** The quota keys, by the entities they apply to, and whether Kafka takes only whole numbers. */
export const QUOTA_KEYS = {
  producer_byte_rate: { entities: 'client', whole: true },
  consumer_byte_rate: { entities: 'client', whole: true },
  request_percentage: { entities: 'client', whole: false },
  controller_mutation_rate: { entities: 'client', whole: false },
  connection_creation_rate: { entities: 'ip', whole: true },
} as const;
export type QuotaKey = keyof typeof QUOTA_KEYS;

export const isQuotaKey = (key: string): key is QuotaKey => Object.hasOwn(QUOTA_KEYS, key);

/** The quota values set on one entity, by key. */
export type QuotaValues = Partial<Record<QuotaKey, number>>;

/** Why a request was refused: answered as INVALID_REQUEST with this message. */
export class InvalidQuotaRequest extends Error {}

const DEFAULT_MARK = '<default>';

/**
 * The entity as one string, for the metadata store: its parts in a fixed order, each name
 * URI-encoded so that a user really called `<default>` stays apart from the default entity.
 */
export function entityKey(parts: readonly EntityPart[]): string {
  return [...parts]
    .sort((a, b) => ENTITY_TYPES.indexOf(a.type) - ENTITY_TYPES.indexOf(b.type))
    .map((p) => `${p.type}=${p.name === null ? DEFAULT_MARK : encodeURIComponent(p.name)}`)
    .join('&');
}

export function entityOfKey(key: string): EntityPart[] {
  return key.split('&').map((part) => {
    const eq = part.indexOf('=');
    const value = part.slice(eq + 1);
    return { type: part.slice(0, eq) as EntityType, name: value === DEFAULT_MARK ? null : decodeURIComponent(value) };
  });
}

/** The entity types of a request, each once, with ip never beside user or client-id. */
function checkTypes(types: readonly string[]): void {
  const seen = new Set<string>();
  for (const t of types) {
    if (!(ENTITY_TYPES as readonly string[]).includes(t)) throw new InvalidQuotaRequest(`Unhandled client quota entity type: ${t}`);
    if (seen.has(t)) throw new InvalidQuotaRequest(`Duplicate ${t} entity type in the quota entity`);
    seen.add(t);
  }
  if (seen.has(IP) && seen.size > 1) throw new InvalidQuotaRequest('Invalid quota entity combination, IP entity should not be combined with User or ClientId');
}

/** An entity AlterClientQuotas may change. */
export function validEntity(parts: readonly { entityType: string; entityName: string | null }[]): EntityPart[] {
  if (parts.length === 0) throw new InvalidQuotaRequest('Invalid empty client quota entity');
  checkTypes(parts.map((p) => p.entityType));
  for (const p of parts) {
    if (p.entityType === IP && p.entityName !== null && isIP(p.entityName) === 0) throw new InvalidQuotaRequest(`${p.entityName} is not a valid IP address`);
  }
  return parts.map((p) => ({ type: p.entityType as EntityType, name: p.entityName }));
}

/** A quota key the entity can take. */
export function validKey(entity: readonly EntityPart[], key: string): QuotaKey {
  if (!isQuotaKey(key)) throw new InvalidQuotaRequest(`Unknown quota key '${key}'`);
  const forIp = entity.some((p) => p.type === IP);
  if ((QUOTA_KEYS[key].entities === 'ip') !== forIp) throw new InvalidQuotaRequest(`Quota key '${key}' does not apply to ${forIp ? 'an IP' : 'a user or client-id'} entity`);
  return key;
}

/** A quota key and value the entity can take. */
export function validQuota(entity: readonly EntityPart[], rawKey: string, value: number): QuotaKey {
  const key = validKey(entity, rawKey);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidQuotaRequest(`Quota ${key} must be a positive number, got ${value}`);
  if (QUOTA_KEYS[key].whole && !Number.isInteger(value)) throw new InvalidQuotaRequest(`Quota ${key} must be a whole number, got ${value}`);
  return key;
}

/** DescribeClientQuotas' match types. */
export const MatchType = { EXACT: 0, DEFAULT: 1, SPECIFIED: 2 } as const;

export interface FilterComponent {
  entityType: string;
  matchType: number;
  match: string | null;
}

/** Whether a stored entity passes a DescribeClientQuotas filter (checked by `checkFilter` first). */
export function matchesFilter(entity: readonly EntityPart[], components: readonly FilterComponent[], strict: boolean): boolean {
  if (strict && entity.length !== components.length) return false;
  return components.every((c) => {
    const part = entity.find((p) => p.type === c.entityType);
    if (!part) return false;
    if (c.matchType === MatchType.EXACT) return part.name === c.match;
    if (c.matchType === MatchType.DEFAULT) return part.name === null;
    return part.name !== null;
  });
}

export function checkFilter(components: readonly FilterComponent[]): void {
  checkTypes(components.map((c) => c.entityType));
  for (const c of components) {
    if (c.matchType === MatchType.EXACT && c.match === null) throw new InvalidQuotaRequest(`Request specified a null name to match for entity type ${c.entityType}`);
    if (c.matchType !== MatchType.EXACT && c.matchType !== MatchType.DEFAULT && c.matchType !== MatchType.SPECIFIED) {
      throw new InvalidQuotaRequest(`Unexpected match type ${c.matchType} for entity type ${c.entityType}`);
    }
  }
}

/** The user of a principal: "User:alice" is alice; unauthenticated clients are ANONYMOUS. */
export function userOf(principal: string): string {
  const colon = principal.indexOf(':');
  return colon < 0 ? principal : principal.slice(colon + 1);
}
