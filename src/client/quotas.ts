import { ErrorCode } from '../protocol/generated/errors.js';
import { check, type KafkaClient } from './kafka-client.js';

/** One part of a quota entity: its type (user, client-id, ip) and name, null for the type's `<default>`. */
export interface QuotaEntityPart {
  type: string;
  name: string | null;
}

export interface ClientQuotaEntry {
  entity: QuotaEntityPart[];
  values: Record<string, number>;
}

/** DescribeClientQuotas match types: exact name, the default, any named entity. */
const EXACT = 0;
const DEFAULT = 1;
const ANY_NAME = 2;

/**
 * The quotas stored for entities that have every part given (a null name: the default of its
 * type; undefined: any named one); no parts: every entity. Any broker answers.
 */
export async function describeClientQuotas(client: KafkaClient, parts: readonly { type: string; name?: string | null }[], strict = false): Promise<ClientQuotaEntry[]> {
  const components = parts.map((p) => ({
    entityType: p.type,
    matchType: p.name === undefined ? ANY_NAME : p.name === null ? DEFAULT : EXACT,
    match: p.name ?? null,
  }));
  const res = await client.call(() => client.any(), 'DescribeClientQuotas', { components, strict });
  check(res.errorCode, 'describe client quotas', res.errorMessage);
  return (res.entries ?? []).map((e) => ({
    entity: e.entity.map((p) => ({ type: p.entityType, name: p.entityName })),
    values: Object.fromEntries(e.values.map((v) => [v.key, v.value])),
  }));
}

/** Sets (a number) and removes (null) quotas of one entity. */
export async function alterClientQuotas(client: KafkaClient, entity: readonly QuotaEntityPart[], changes: Readonly<Record<string, number | null>>, validateOnly = false): Promise<void> {
  const res = await client.call(() => client.any(), 'AlterClientQuotas', {
    entries: [
      {
        entity: entity.map((p) => ({ entityType: p.type, entityName: p.name })),
        ops: Object.entries(changes).map(([key, value]) => ({ key, value: value ?? 0, remove: value === null })),
      },
    ],
    validateOnly,
  });
  for (const e of res.entries) if (e.errorCode !== ErrorCode.NONE) check(e.errorCode, 'alter client quotas', e.errorMessage);
}
