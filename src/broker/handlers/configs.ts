import { splitList } from '../../config/value-types.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { AlterConfigsRequest } from '../../protocol/generated/messages/alter-configs-request.js';
import { createAlterConfigsResponse } from '../../protocol/generated/messages/alter-configs-response.js';
import type { DescribeConfigsRequest } from '../../protocol/generated/messages/describe-configs-request.js';
import { createDescribeConfigsResponse } from '../../protocol/generated/messages/describe-configs-response.js';
import type {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsRequestAlterableConfig,
} from '../../protocol/generated/messages/incremental-alter-configs-request.js';
import { createIncrementalAlterConfigsResponse } from '../../protocol/generated/messages/incremental-alter-configs-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { failed, repeated, type Outcome } from './admin-outcome.js';
import { alterResource, describeResource, type AlterableResource, type NextOverrides } from './config-resources.js';

/** IncrementalAlterConfigs' operations (Kafka's AlterConfigOp.OpType). */
const OpType = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const OP_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'];

/** DescribeConfigs: TOPIC and BROKER resources from the config table; no broker loggers. */
export function describeConfigsHandler(ctx: BrokerContext) {
  return handler(apis.DescribeConfigs, 0, 4, (req: DescribeConfigsRequest, { version }) => {
    const res = createDescribeConfigsResponse();
    res.results = req.resources.map((r) => {
      // Absent from older versions, the flags read as false there.
      const { outcome, configs } = describeResource(ctx, r.resourceType, r.resourceName, {
        keys: r.configurationKeys,
        includeSynonyms: req.includeSynonyms,
        includeDocumentation: req.includeDocumentation,
      });
      // From v1 the config source says what IsDefault said, which later versions cannot carry.
      if (version >= 1) for (const c of configs) c.isDefault = false;
      return { ...outcome, resourceType: r.resourceType, resourceName: r.resourceName, configs };
    });
    return res;
  });
}

/**
 * Shape errors Kafka finds before it looks at the resource: a key named twice, or a null value
 * where the operation needs one.
 */
function shapeProblem<C extends { name: string; value: string | null }>(configs: readonly C[], needsValue: (c: C) => boolean): Outcome | null {
  if (repeated(configs.map((c) => c.name)).size > 0) return failed(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys');
  const nulls = configs.flatMap((c) => (c.value === null && needsValue(c) ? [c.name] : []));
  if (nulls.length > 0) return failed(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`);
  return null;
}

/** IncrementalAlterConfigs' semantics: each operation edits the current override set. */
function edited(r: AlterableResource, ops: IncrementalAlterConfigsRequestAlterableConfig[]): NextOverrides {
  // A Map, so that a key such as "__proto__" is a key like any other (and refused as unknown).
  const next = new Map(Object.entries(r.current));
  for (const { name, value, configOperation: op } of ops) {
    switch (op) {
      case OpType.SET:
        next.set(name, value!);
        break;
      case OpType.DELETE:
        next.delete(name);
        break;
      case OpType.APPEND:
      case OpType.SUBTRACT: {
        if (!r.isList(name)) return failed(ErrorCode.INVALID_CONFIG, `Can't ${OP_NAMES[op]} to key ${name} because its type is not LIST.`);
        const items = splitList(next.get(name) ?? r.inherited(name) ?? '');
        const given = splitList(value!);
        const result = op === OpType.APPEND ? [...items, ...given.filter((v) => !items.includes(v))] : items.filter((v) => !given.includes(v));
        next.set(name, result.join(','));
        break;
      }
      default:
        return failed(ErrorCode.INVALID_REQUEST, `Unknown config operation ${op} for key ${name}`);
    }
  }
  return { overrides: Object.fromEntries(next) };
}

interface Resource {
  resourceType: number;
  resourceName: string;
}

/**
 * Alters each resource as `plan` says: a shape error, or how to compute the new override set.
 * A resource named twice is refused in every copy and acted on in none, as Kafka does.
 */
async function alterAll<R extends Resource>(
  ctx: BrokerContext,
  resources: readonly R[],
  validateOnly: boolean,
  plan: (r: R) => Outcome | ((current: AlterableResource) => NextOverrides),
): Promise<(Outcome & Resource)[]> {
  const key = (r: R) => `${r.resourceType}:${r.resourceName}`;
  const twice = repeated(resources.map(key));
  const out: (Outcome & Resource)[] = [];
  // One after another: a later resource is checked against what an earlier one changed.
  for (const r of resources) {
    const planned = twice.has(key(r)) ? failed(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.') : plan(r);
    const outcome = typeof planned === 'function' ? await alterResource(ctx, r.resourceType, r.resourceName, planned, validateOnly) : planned;
    out.push({ ...outcome, resourceType: r.resourceType, resourceName: r.resourceName });
  }
  return out;
}

/** AlterConfigs: the entries given become the resource's whole override set (Kafka's semantics). */
export function alterConfigsHandler(ctx: BrokerContext) {
  return handler(apis.AlterConfigs, 0, 2, async (req: AlterConfigsRequest) => {
    const res = createAlterConfigsResponse();
    res.responses = await alterAll(
      ctx,
      req.resources,
      req.validateOnly,
      (r) => shapeProblem(r.configs, () => true) ?? (() => ({ overrides: Object.fromEntries(r.configs.map((c) => [c.name, c.value!])) })),
    );
    return res;
  });
}

/** IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT on topics and on the broker. */
export function incrementalAlterConfigsHandler(ctx: BrokerContext) {
  return handler(apis.IncrementalAlterConfigs, 0, 1, async (req: IncrementalAlterConfigsRequest) => {
    const res = createIncrementalAlterConfigsResponse();
    res.responses = await alterAll(
      ctx,
      req.resources,
      req.validateOnly,
      (r) => shapeProblem(r.configs, (c) => c.configOperation !== OpType.DELETE) ?? ((current) => edited(current, r.configs)),
    );
    return res;
  });
}
