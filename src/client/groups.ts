import { check, type KafkaClient } from './kafka-client.js';

/** A group as ListGroups names it. */
export interface ListedGroup {
  groupId: string;
  state: string;
  /** The protocol type: `consumer`, `share`, or a classic group's own. */
  protocolType: string;
}

/**
 * The groups of the cluster: each broker lists those it coordinates. `types` narrows them to
 * these group types (ListGroups v5's filter: classic, consumer, share); empty for all.
 */
export async function listGroups(client: KafkaClient, types: string[] = []): Promise<ListedGroup[]> {
  const md = await client.retrying(() => client.metadata([]));
  const responses = await Promise.all(md.brokers.map((b) => client.call(() => client.node(b.nodeId), 'ListGroups', { statesFilter: [], typesFilter: types })));
  const groups = new Map<string, ListedGroup>();
  for (const res of responses) {
    check(res.errorCode, 'list groups');
    for (const g of res.groups) groups.set(g.groupId, { groupId: g.groupId, state: g.groupState, protocolType: g.protocolType });
  }
  return [...groups.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
}
