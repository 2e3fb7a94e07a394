import type { AclImage } from '../metadata/image.js';
import type { AclFilter } from '../security/acl/acl-filter.js';
import { check, type KafkaClient } from './kafka-client.js';

/** One ACL binding, as CreateAcls takes it and DescribeAcls answers it. */
export type AclBinding = AclImage;

/** Creates the bindings; an already existing one is left as it is. */
export async function createAcls(client: KafkaClient, bindings: readonly AclBinding[]): Promise<void> {
  const creations = bindings.map((b) => ({
    resourceType: b.resourceType,
    resourceName: b.resourceName,
    resourcePatternType: b.patternType,
    principal: b.principal,
    host: b.host,
    operation: b.operation,
    permissionType: b.permission,
  }));
  const res = await client.call(() => client.any(), 'CreateAcls', { creations });
  for (const r of res.results) check(r.errorCode, 'creating ACLs', r.errorMessage);
}

function filterFields(f: AclFilter) {
  return {
    resourceTypeFilter: f.resourceType,
    resourceNameFilter: f.resourceName,
    patternTypeFilter: f.patternType,
    principalFilter: f.principal,
    hostFilter: f.host,
    operation: f.operation,
    permissionType: f.permission,
  };
}

/** The bindings a filter matches. */
export async function describeAcls(client: KafkaClient, filter: AclFilter): Promise<AclBinding[]> {
  const res = await client.call(() => client.any(), 'DescribeAcls', filterFields(filter));
  check(res.errorCode, 'describing ACLs', res.errorMessage);
  return res.resources.flatMap((r) =>
    r.acls.map((a) => ({ resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType, principal: a.principal, host: a.host, operation: a.operation, permission: a.permissionType })),
  );
}

/** Deletes what the filters match; resolves with what was deleted. */
export async function deleteAcls(client: KafkaClient, filters: readonly AclFilter[]): Promise<AclBinding[]> {
  const res = await client.call(() => client.any(), 'DeleteAcls', { filters: filters.map(filterFields) });
  return res.filterResults.flatMap((r) => {
    check(r.errorCode, 'deleting ACLs', r.errorMessage);
    return r.matchingAcls.map((a) => ({ resourceType: a.resourceType, resourceName: a.resourceName, patternType: a.patternType, principal: a.principal, host: a.host, operation: a.operation, permission: a.permissionType }));
  });
}
