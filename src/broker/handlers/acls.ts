import { aclKey, type AclImage } from '../../metadata/image.js';
import { MetadataWriteError } from '../../metadata/store.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { CreateAclsRequest } from '../../protocol/generated/messages/create-acls-request.js';
import type { CreateAclsResponse } from '../../protocol/generated/messages/create-acls-response.js';
import type { DescribeAclsResponseDescribeAclsResource } from '../../protocol/generated/messages/describe-acls-response.js';
import type { DeleteAclsRequestDeleteAclsFilter } from '../../protocol/generated/messages/delete-acls-request.js';
import type { DescribeAclsRequest } from '../../protocol/generated/messages/describe-acls-request.js';
import { invalidBinding, invalidFilter, matchesFilter, type AclFilter } from '../../security/acl/acl-filter.js';
import type { Authorizer } from '../../security/acl/authorizer.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';

const DISABLED = 'No Authorizer is configured on the broker';

function filterOf(f: DescribeAclsRequest | DeleteAclsRequestDeleteAclsFilter): AclFilter {
  return {
    resourceType: f.resourceTypeFilter,
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter,
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation,
    permission: f.permissionType,
  };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): number {
  return e instanceof MetadataWriteError ? e.errorCode : ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** CreateAcls: each valid binding is stored with the cluster metadata; SECURITY_DISABLED without an authorizer. */
export function createAclsHandler(ctx: BrokerContext, authorizer: Authorizer) {
  return handler(apis.CreateAcls, 0, 3, async (req: CreateAclsRequest) => {
    const res: CreateAclsResponse = { ...apis.CreateAcls.response.create(), results: [] };
    if (!authorizer.enabled) {
      res.results = req.creations.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: DISABLED }));
      return res;
    }
    const bindings: AclImage[] = req.creations.map((c) => ({
      resourceType: c.resourceType,
      resourceName: c.resourceName,
      patternType: c.resourcePatternType,
      principal: c.principal,
      host: c.host,
      operation: c.operation,
      permission: c.permissionType,
    }));
    const problems = bindings.map(invalidBinding);
    const valid = bindings.filter((_, i) => problems[i] === null);
    let failure: unknown = null;
    await ctx.store.changeAcls(valid, []).catch((e: unknown) => (failure = e));
    res.results = problems.map((problem) =>
      problem !== null
        ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem }
        : failure !== null
          ? { errorCode: errorCode(failure), errorMessage: errorMessage(failure) }
          : { errorCode: ErrorCode.NONE, errorMessage: null },
    );
    return res;
  });
}

/** DescribeAcls: the bindings the filter matches, grouped by resource pattern. */
export function describeAclsHandler(ctx: BrokerContext, authorizer: Authorizer) {
  return handler(apis.DescribeAcls, 0, 3, (req) => {
    const res = apis.DescribeAcls.response.create();
    const problem = authorizer.enabled ? invalidFilter(filterOf(req)) : DISABLED;
    if (problem !== null) return { ...res, errorCode: authorizer.enabled ? ErrorCode.INVALID_REQUEST : ErrorCode.SECURITY_DISABLED, errorMessage: problem };
    const filter = filterOf(req);
    const byResource = new Map<string, DescribeAclsResponseDescribeAclsResource>();
    for (const a of ctx.metadata.acls.values()) {
      if (!matchesFilter(filter, a)) continue;
      const key = JSON.stringify([a.resourceType, a.resourceName, a.patternType]);
      let resource = byResource.get(key);
      if (!resource) byResource.set(key, (resource = { resourceType: a.resourceType, resourceName: a.resourceName, patternType: a.patternType, acls: [] }));
      resource.acls.push({ principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permission });
    }
    return { ...res, resources: [...byResource.values()] };
  });
}

/** DeleteAcls: removes what each filter matches, and says what that was. */
export function deleteAclsHandler(ctx: BrokerContext, authorizer: Authorizer) {
  return handler(apis.DeleteAcls, 0, 3, async (req) => {
    const res = apis.DeleteAcls.response.create();
    if (!authorizer.enabled) {
      res.filterResults = req.filters.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: DISABLED, matchingAcls: [] }));
      return res;
    }
    const matches = req.filters.map((f) => {
      const filter = filterOf(f);
      const problem = invalidFilter(filter);
      return { problem, acls: problem === null ? [...ctx.metadata.acls.values()].filter((a) => matchesFilter(filter, a)) : [] };
    });
    const removed = new Map(matches.flatMap((m) => m.acls.map((a) => [aclKey(a), a] as const)));
    let failure: unknown = null;
    await ctx.store.changeAcls([], [...removed.values()]).catch((e: unknown) => (failure = e));
    res.filterResults = matches.map(({ problem, acls }) => {
      if (problem !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, matchingAcls: [] };
      if (failure !== null) return { errorCode: errorCode(failure), errorMessage: errorMessage(failure), matchingAcls: [] };
      const matchingAcls = acls.map((a) => ({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        resourceType: a.resourceType,
        resourceName: a.resourceName,
        patternType: a.patternType,
        principal: a.principal,
        host: a.host,
        operation: a.operation,
        permissionType: a.permission,
      }));
      return { errorCode: ErrorCode.NONE, errorMessage: null, matchingAcls };
    });
    return res;
  });
}
