import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { AlterClientQuotasRequest, AlterClientQuotasRequestEntryData } from '../../protocol/generated/messages/alter-client-quotas-request.js';
import { createAlterClientQuotasResponse } from '../../protocol/generated/messages/alter-client-quotas-response.js';
import type { DescribeClientQuotasRequest } from '../../protocol/generated/messages/describe-client-quotas-request.js';
import { createDescribeClientQuotasResponse } from '../../protocol/generated/messages/describe-client-quotas-response.js';
import { checkFilter, entityKey, entityOfKey, InvalidQuotaRequest, matchesFilter, validEntity, validKey, validQuota } from '../../security/quotas/quota-entity.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { failed, rolledBack, succeeded, type Outcome } from './admin-outcome.js';

/** DescribeClientQuotas (KIP-546): the stored quotas of the entities a filter matches. */
export function describeClientQuotasHandler(ctx: BrokerContext) {
  return handler(apis.DescribeClientQuotas, 0, 1, (req: DescribeClientQuotasRequest) => {
    const res = createDescribeClientQuotasResponse();
    try {
      checkFilter(req.components);
    } catch (e) {
      if (!(e instanceof InvalidQuotaRequest)) throw e;
      res.errorCode = ErrorCode.INVALID_REQUEST;
      res.errorMessage = e.message;
      res.entries = null;
      return res;
    }
    res.entries = [];
    for (const [key, quotas] of ctx.metadata.clientQuotas) {
      const entity = entityOfKey(key);
      if (!matchesFilter(entity, req.components, req.strict)) continue;
      res.entries.push({
        entity: entity.map((p) => ({ entityType: p.type, entityName: p.name })),
        values: Object.entries(quotas).map(([k, value]) => ({ key: k, value })),
      });
    }
    return res;
  });
}

/** The quotas an entry leaves its entity with, or why the entry is refused. */
function alteredQuotas(ctx: BrokerContext, entry: AlterClientQuotasRequestEntryData): { key: string; quotas: Record<string, number> } | Outcome {
  try {
    const entity = validEntity(entry.entity);
    const seen = new Set<string>();
    const key = entityKey(entity);
    const quotas = { ...ctx.metadata.clientQuotas.get(key) };
    for (const op of entry.ops) {
      if (seen.has(op.key)) throw new InvalidQuotaRequest(`Duplicate quota key '${op.key}' for the entity`);
      seen.add(op.key);
      if (op.remove) {
        delete quotas[validKey(entity, op.key)];
      } else quotas[validQuota(entity, op.key, op.value)] = op.value;
    }
    return { key, quotas };
  } catch (e) {
    if (e instanceof InvalidQuotaRequest) return failed(ErrorCode.INVALID_REQUEST, e.message);
    throw e;
  }
}

/**
 * AlterClientQuotas (KIP-546): sets and removes quotas entity by entity, each answered on its
 * own; with validate_only, checks and changes nothing. Stored with the cluster metadata.
 */
export function alterClientQuotasHandler(ctx: BrokerContext) {
  return handler(apis.AlterClientQuotas, 0, 1, async (req: AlterClientQuotasRequest) => {
    const res = createAlterClientQuotasResponse();
    for (const entry of req.entries) {
      const change = alteredQuotas(ctx, entry);
      let outcome: Outcome = 'errorCode' in change ? change : succeeded();
      if (!('errorCode' in change) && !req.validateOnly) {
        try {
          await ctx.store.setClientQuotas(change.key, change.quotas);
        } catch (e) {
          outcome = rolledBack('altering client quotas', e);
        }
      }
      res.entries.push({ ...outcome, entity: entry.entity.map((p) => ({ entityType: p.entityType, entityName: p.entityName })) });
    }
    return res;
  });
}
