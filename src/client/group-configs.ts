import { check, type KafkaClient } from './kafka-client.js';

/** Kafka's ConfigResource type of a group. */
export const GROUP_RESOURCE = 32;

/**
 * One config of each group, as DescribeConfigs on GROUP resources says (the group's own value,
 * or the broker's default). Any broker answers: group configs live in the cluster metadata.
 */
export async function groupConfig(client: KafkaClient, groupIds: readonly string[], name: string): Promise<Map<string, string | null>> {
  if (groupIds.length === 0) return new Map();
  const res = await client.call(() => client.any(), 'DescribeConfigs', {
    resources: groupIds.map((resourceName) => ({ resourceType: GROUP_RESOURCE, resourceName, configurationKeys: [name] })),
    includeSynonyms: false,
    includeDocumentation: false,
  });
  return new Map(
    res.results.map((r) => {
      check(r.errorCode, `configs of group ${r.resourceName}`, r.errorMessage);
      return [r.resourceName, r.configs.find((c) => c.name === name)?.value ?? null];
    }),
  );
}
