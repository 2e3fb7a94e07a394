import type { ApiEntry } from '../../protocol/api-entry.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import { ZERO_UUID } from '../../protocol/primitives/uuid.js';
import { createFetchResponseFetchableTopicResponse, createFetchResponsePartitionData } from '../../protocol/generated/messages/fetch-response.js';
import { createListOffsetsResponseListOffsetsPartitionResponse } from '../../protocol/generated/messages/list-offsets-response.js';
import { createMetadataResponseTopic } from '../../protocol/generated/messages/metadata-response.js';
import { createOffsetForLeaderEpochResponseEpochEndOffset } from '../../protocol/generated/messages/offset-for-leader-epoch-response.js';
import { createProduceResponsePartitionProduceResponse, createProduceResponseTopicProduceResponse } from '../../protocol/generated/messages/produce-response.js';
import { createCreateTopicsResponseCreatableTopicResult } from '../../protocol/generated/messages/create-topics-response.js';
import { createDescribeGroupsResponseDescribedGroup } from '../../protocol/generated/messages/describe-groups-response.js';
import { createConsumerGroupDescribeResponseDescribedGroup } from '../../protocol/generated/messages/consumer-group-describe-response.js';
import { createShareGroupDescribeResponseDescribedGroup } from '../../protocol/generated/messages/share-group-describe-response.js';
import { createDescribeTransactionsResponseTransactionState } from '../../protocol/generated/messages/describe-transactions-response.js';
import { createDescribeProducersResponsePartitionResponse } from '../../protocol/generated/messages/describe-producers-response.js';
import { createDeleteRecordsResponseDeleteRecordsPartitionResult } from '../../protocol/generated/messages/delete-records-response.js';
import { createOffsetFetchResponsePartition, createOffsetFetchResponsePartitions } from '../../protocol/generated/messages/offset-fetch-response.js';
import { createFindCoordinatorResponseCoordinator } from '../../protocol/generated/messages/find-coordinator-response.js';
import { createShareFetchResponsePartitionData } from '../../protocol/generated/messages/share-fetch-response.js';
import { createShareAcknowledgeResponsePartitionData } from '../../protocol/generated/messages/share-acknowledge-response.js';
import { createReadShareGroupStateResponsePartitionResult } from '../../protocol/generated/messages/read-share-group-state-response.js';
import { AclOperation as Op, CLUSTER_NAME, ResourceType as RT } from './acl-codes.js';

const E = ErrorCode;

/** The authorization questions a rule may ask about the request's principal, and what it needs to know of the cluster. */
export interface AclCheck {
  allowed(resourceType: number, name: string, operation: number): boolean;
  /** `allowed` for leaving resources out of a listing: a refusal is not counted as a denial. */
  visible(resourceType: number, name: string, operation: number): boolean;
  /** Some resource of the type allows the operation (Kafka's authorizeByResourceType). */
  allowedAny(resourceType: number, operation: number): boolean;
  /** The authorized-operations bit field of a resource. */
  operations(resourceType: number, name: string): number;
  topicName(topicId: string): string | undefined;
  topicExists(name: string): boolean;
  /** auto.create.topics.enable. */
  readonly autoCreate: boolean;
}

/** Answer at once (`deny`), or serve the request (possibly narrowed) and amend the response (`patch`). */
export type Outcome<Req, Res> = { deny: Res } | { serve: Req; patch?: (res: Res) => void };

/** What an API needs, as documented (docs/security.md) and tested (the ACL matrix). */
export interface Need {
  resource: 'TOPIC' | 'GROUP' | 'CLUSTER' | 'TRANSACTIONAL_ID' | 'NONE';
  operation: string;
  error: keyof typeof ErrorCode | null;
}

export interface ApiRule {
  readonly api: ApiEntry<unknown, unknown>;
  readonly needs: readonly Need[];
  check(request: unknown, c: AclCheck, version: number): Outcome<unknown, unknown>;
}

function rule<Req, Res>(api: ApiEntry<Req, Res>, needs: Need[], check: (req: Req, c: AclCheck, version: number) => Outcome<Req, Res>): ApiRule {
  return { api: api as ApiEntry<unknown, unknown>, needs, check: check as ApiRule['check'] };
}

function need(resource: Need['resource'], operation: keyof typeof Op | 'none', error: Need['error']): Need {
  return { resource, operation, error };
}

/** A whole-request denial: the API's response with its top-level error code. */
function topLevel<Res>(api: ApiEntry<unknown, Res>, code: number): { deny: Res } {
  return { deny: { ...api.response.create(), errorCode: code } };
}

/** Splits entries by whether their topic allows the operation. */
function byTopic<T>(items: readonly T[], name: (item: T) => string | undefined, c: AclCheck, op: number): [T[], T[]] {
  const allowed: T[] = [];
  const denied: T[] = [];
  for (const item of items) {
    const n = name(item);
    // A topic id that names no topic is the handler's to answer (UNKNOWN_TOPIC_ID).
    (n === undefined || c.allowed(RT.TOPIC, n, op) ? allowed : denied).push(item);
  }
  return [allowed, denied];
}

const serve = <Req>(req: Req) => ({ serve: req });
const cluster = (c: AclCheck, op: number) => c.allowed(RT.CLUSTER, CLUSTER_NAME, op);

/**
 * Fetch's rule for one topic: a follower needs CLUSTER_ACTION, a consumer READ on the topic.
 * Also applied on every fetch to the partitions of its fetch session that the request does not
 * name, so that an ACL removed takes effect on a session opened before.
 */
export const mayFetch = (c: AclCheck, topic: string, follower: boolean): boolean => (follower ? cluster(c, Op.CLUSTER_ACTION) : c.allowed(RT.TOPIC, topic, Op.READ));

/** A rule for one whole-request check answered with the response's top-level error code. */
function single<Req, Res>(api: ApiEntry<Req, Res>, n: Need, resource: (req: Req) => [number, string], op: number, code: number): ApiRule {
  return rule(api, [n], (req, c) => {
    const [type, name] = resource(req);
    return c.allowed(type, name, op) ? serve(req) : topLevel(api, code);
  });
}

const groupRead = <Req extends { groupId: string | null }, Res>(api: ApiEntry<Req, Res>) =>
  single(api, need('GROUP', 'READ', 'GROUP_AUTHORIZATION_FAILED'), (r) => [RT.GROUP, r.groupId ?? ''], Op.READ, E.GROUP_AUTHORIZATION_FAILED);
const clusterOp = <Req, Res>(api: ApiEntry<Req, Res>, op: keyof typeof Op) =>
  single(api, need('CLUSTER', op, 'CLUSTER_AUTHORIZATION_FAILED'), () => [RT.CLUSTER, CLUSTER_NAME], Op[op], E.CLUSTER_AUTHORIZATION_FAILED);

/** The resource a config resource type (DescribeConfigs, AlterConfigs) is checked on, and the error. */
function configResource(type: number, name: string): [number, string, number] {
  if (type === 2) return [RT.TOPIC, name, E.TOPIC_AUTHORIZATION_FAILED];
  if (type === 32) return [RT.GROUP, name, E.GROUP_AUTHORIZATION_FAILED];
  return [RT.CLUSTER, CLUSTER_NAME, E.CLUSTER_AUTHORIZATION_FAILED];
}

/** (Incremental)AlterConfigs: ALTER_CONFIGS per resource, the denied ones answered beside the rest. */
function alterConfigs<Req extends { resources: { resourceType: number; resourceName: string }[] }, Res extends { responses: unknown[] }>(api: ApiEntry<Req, Res>): ApiRule {
  return rule(api, [need('TOPIC', 'ALTER_CONFIGS', 'TOPIC_AUTHORIZATION_FAILED'), need('CLUSTER', 'ALTER_CONFIGS', 'CLUSTER_AUTHORIZATION_FAILED'), need('GROUP', 'ALTER_CONFIGS', 'GROUP_AUTHORIZATION_FAILED')], (req, c) => {
    const denied: { errorCode: number; errorMessage: null; resourceType: number; resourceName: string }[] = [];
    const resources = req.resources.filter((r) => {
      const [type, name, code] = configResource(r.resourceType, r.resourceName);
      if (c.allowed(type, name, Op.ALTER_CONFIGS)) return true;
      denied.push({ errorCode: code, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName });
      return false;
    });
    return { serve: { ...req, resources }, patch: (res) => void res.responses.push(...denied) };
  });
}

/** Per-group checks of Describe-style group APIs: denied groups answered with GROUP_AUTHORIZATION_FAILED, the rest get their authorized operations. */
/**
 * ShareFetch and ShareAcknowledge: READ on the group, or the whole request is refused; then
 * READ on each topic, the refused topics answered with TOPIC_AUTHORIZATION_FAILED per partition.
 */
function shareGroupTopics<
  T extends { topicId: string; partitions: { partitionIndex: number }[] },
  P extends { partitionIndex: number; errorCode: number },
  Req extends { groupId: string | null; topics: T[] },
  Res extends { responses: { topicId: string; partitions: P[] }[] },
>(api: ApiEntry<Req, Res>, partitionData: () => P): ApiRule {
  return rule(api, [need('GROUP', 'READ', 'GROUP_AUTHORIZATION_FAILED'), need('TOPIC', 'READ', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    if (!c.allowed(RT.GROUP, req.groupId ?? '', Op.READ)) return topLevel(api, E.GROUP_AUTHORIZATION_FAILED);
    const [allowed, denied] = byTopic(req.topics, (t) => c.topicName(t.topicId), c, Op.READ);
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => {
        for (const t of denied) res.responses.push({ topicId: t.topicId, partitions: t.partitions.map((p) => ({ ...partitionData(), partitionIndex: p.partitionIndex, errorCode: E.TOPIC_AUTHORIZATION_FAILED })) });
      },
    };
  });
}

function describeGroups<Req, Res extends { groups: { groupId: string; errorCode: number; authorizedOperations: number }[] }>(
  api: ApiEntry<Req, Res>,
  ids: (req: Req) => string[],
  withIds: (req: Req, ids: string[]) => Req,
  wantsOperations: (req: Req) => boolean,
  denied: () => Res['groups'][number],
): ApiRule {
  return rule(api, [need('GROUP', 'DESCRIBE', 'GROUP_AUTHORIZATION_FAILED')], (req, c) => {
    const all = ids(req);
    const allowed = all.filter((g) => c.allowed(RT.GROUP, g, Op.DESCRIBE));
    return {
      serve: withIds(req, allowed),
      patch: (res) => {
        if (wantsOperations(req)) for (const g of res.groups) g.authorizedOperations = c.operations(RT.GROUP, g.groupId);
        for (const g of all) if (!allowed.includes(g)) res.groups.push({ ...denied(), groupId: g, errorCode: E.GROUP_AUTHORIZATION_FAILED });
      },
    };
  });
}

/** Topic/partition lists answered partition by partition with one error. */
function partitionErrors<P>(partitions: readonly number[], code: number, make: (index: number, code: number) => P): P[] {
  return partitions.map((i) => make(i, code));
}

const fetchFollower = (req: { replicaId: number; replicaState: { replicaId: number } }, version: number) => (version >= 15 ? req.replicaState.replicaId : req.replicaId) >= 0;

/**
 * Kafka's authorization of every API (its "Operations and Resources on Protocols"), in one
 * table: each rule checks a request before its handler sees it, answering a whole-request
 * denial itself, or narrowing the request to what is allowed and adding the denied resources'
 * errors to the handler's response.
 */
export const API_RULES: readonly ApiRule[] = [
  rule(apis.ApiVersions, [need('NONE', 'none', null)], serve),
  rule(apis.SaslHandshake, [need('NONE', 'none', null)], serve),
  rule(apis.SaslAuthenticate, [need('NONE', 'none', null)], serve),

  rule(apis.Produce, [need('TRANSACTIONAL_ID', 'WRITE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), need('TOPIC', 'WRITE', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const txnDenied = req.transactionalId !== null && !c.allowed(RT.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE);
    const [allowed, denied] = txnDenied ? [[], req.topicData] : byTopic(req.topicData, (t) => t.name, c, Op.WRITE);
    const code = txnDenied ? E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : E.TOPIC_AUTHORIZATION_FAILED;
    return {
      serve: { ...req, topicData: allowed },
      patch: (res) => {
        for (const t of denied) {
          const partitionResponses = t.partitionData.map((p) => ({ ...createProduceResponsePartitionProduceResponse(), index: p.index, errorCode: code }));
          res.responses.push({ ...createProduceResponseTopicProduceResponse(), name: t.name, partitionResponses });
        }
      },
    };
  }),

  rule(apis.Fetch, [need('TOPIC', 'READ', 'TOPIC_AUTHORIZATION_FAILED'), need('CLUSTER', 'CLUSTER_ACTION', 'TOPIC_AUTHORIZATION_FAILED')], (req, c, version) => {
    const follower = fetchFollower(req, version);
    const [allowed, denied] = follower
      ? mayFetch(c, '', true) ? [req.topics, []] : [[], req.topics]
      : byTopic(req.topics, (t) => (version >= 13 ? c.topicName(t.topicId) : t.topic), c, Op.READ);
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => {
        for (const t of denied) {
          const partitions = t.partitions.map((p) => ({ ...createFetchResponsePartitionData(), partitionIndex: p.partition, errorCode: E.TOPIC_AUTHORIZATION_FAILED }));
          res.responses.push({ ...createFetchResponseFetchableTopicResponse(), topic: t.topic, topicId: t.topicId, partitions });
        }
      },
    };
  }),

  rule(apis.ListOffsets, [need('TOPIC', 'DESCRIBE', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const [allowed, denied] = byTopic(req.topics, (t) => t.name, c, Op.DESCRIBE);
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => {
        for (const t of denied) {
          const partitions = t.partitions.map((p) => ({ ...createListOffsetsResponseListOffsetsPartitionResponse(), partitionIndex: p.partitionIndex, errorCode: E.TOPIC_AUTHORIZATION_FAILED }));
          res.topics.push({ name: t.name, partitions });
        }
      },
    };
  }),

  rule(apis.Metadata, [need('TOPIC', 'DESCRIBE', 'TOPIC_AUTHORIZATION_FAILED'), need('CLUSTER', 'CREATE', 'TOPIC_AUTHORIZATION_FAILED')], (req, c, version) => {
    const describable = (name: string) => c.allowed(RT.TOPIC, name, Op.DESCRIBE);
    const mayCreate = (name: string) => cluster(c, Op.CREATE) || c.allowed(RT.TOPIC, name, Op.CREATE);
    const autoCreate = req.allowAutoTopicCreation && c.autoCreate;
    const denied: { name: string | null; topicId: string }[] = [];
    const topics =
      req.topics?.filter((t) => {
        const name = t.name ?? c.topicName(t.topicId);
        if (name === undefined) return true;
        const ok = describable(name) && (c.topicExists(name) || !autoCreate || mayCreate(name));
        if (!ok) denied.push({ name: t.name, topicId: t.topicId });
        return ok;
      }) ?? null;
    // v0 says "all topics" with an empty list: a list emptied by denials must not become that.
    const requested = req.topics === null || (version === 0 && req.topics.length === 0) ? null : new Set(req.topics.flatMap((t) => [t.name, t.topicId]));
    return {
      serve: { ...req, topics },
      patch: (res) => {
        // Topics the principal may not describe are left out, as if absent, and only those asked for are answered.
        res.topics = res.topics.filter((t) => (t.name === null || c.visible(RT.TOPIC, t.name, Op.DESCRIBE)) && (requested === null || requested.has(t.name) || requested.has(t.topicId)));
        if (req.includeTopicAuthorizedOperations) for (const t of res.topics) if (t.name !== null && t.errorCode === E.NONE) t.topicAuthorizedOperations = c.operations(RT.TOPIC, t.name);
        if (req.includeClusterAuthorizedOperations) res.clusterAuthorizedOperations = c.operations(RT.CLUSTER, CLUSTER_NAME);
        for (const t of denied) res.topics.push({ ...createMetadataResponseTopic(), name: t.name, topicId: t.topicId, errorCode: E.TOPIC_AUTHORIZATION_FAILED });
      },
    };
  }),

  rule(apis.OffsetForLeaderEpoch, [need('TOPIC', 'DESCRIBE', 'TOPIC_AUTHORIZATION_FAILED'), need('CLUSTER', 'CLUSTER_ACTION', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) => {
    const follower = req.replicaId >= 0;
    const [allowed, denied] = follower ? (cluster(c, Op.CLUSTER_ACTION) ? [req.topics, []] : [[], req.topics]) : byTopic(req.topics, (t) => t.topic, c, Op.DESCRIBE);
    const code = follower ? E.CLUSTER_AUTHORIZATION_FAILED : E.TOPIC_AUTHORIZATION_FAILED;
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => {
        for (const t of denied) {
          const partitions = t.partitions.map((p) => ({ ...createOffsetForLeaderEpochResponseEpochEndOffset(), partition: p.partition, errorCode: code }));
          res.topics.push({ topic: t.topic, partitions });
        }
      },
    };
  }),

  rule(apis.OffsetCommit, [need('GROUP', 'READ', 'GROUP_AUTHORIZATION_FAILED'), need('TOPIC', 'READ', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const groupOk = c.allowed(RT.GROUP, req.groupId, Op.READ);
    const [allowed, denied] = groupOk ? byTopic(req.topics, (t) => t.name, c, Op.READ) : [[], req.topics];
    const code = groupOk ? E.TOPIC_AUTHORIZATION_FAILED : E.GROUP_AUTHORIZATION_FAILED;
    const answer = { topics: denied.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })) })) };
    if (!groupOk) return { deny: { ...apis.OffsetCommit.response.create(), ...answer } };
    return { serve: { ...req, topics: allowed }, patch: (res) => void res.topics.push(...answer.topics) };
  }),

  rule(apis.OffsetFetch, [need('GROUP', 'DESCRIBE', 'GROUP_AUTHORIZATION_FAILED'), need('TOPIC', 'DESCRIBE', 'TOPIC_AUTHORIZATION_FAILED')], (req, c, version) => {
    const describable = (name: string) => c.visible(RT.TOPIC, name, Op.DESCRIBE);
    if (version < 8) {
      if (!c.allowed(RT.GROUP, req.groupId, Op.DESCRIBE)) {
        if (version >= 2) return topLevel(apis.OffsetFetch, E.GROUP_AUTHORIZATION_FAILED);
        // Before v2 the error is per partition only.
        const topics = (req.topics ?? []).map((t) => ({ name: t.name, partitions: partitionErrors(t.partitionIndexes, E.GROUP_AUTHORIZATION_FAILED, (partitionIndex, errorCode) => ({ ...createOffsetFetchResponsePartition(), partitionIndex, errorCode })) }));
        return { deny: { ...apis.OffsetFetch.response.create(), topics } };
      }
      const [allowed, denied] = byTopic(req.topics ?? [], (t) => t.name, c, Op.DESCRIBE);
      return {
        serve: { ...req, topics: req.topics === null ? null : allowed },
        patch: (res) => {
          if (req.topics === null) res.topics = res.topics.filter((t) => describable(t.name));
          for (const t of denied) res.topics.push({ name: t.name, partitions: partitionErrors(t.partitionIndexes, E.TOPIC_AUTHORIZATION_FAILED, (partitionIndex, errorCode) => ({ ...createOffsetFetchResponsePartition(), partitionIndex, errorCode })) });
        },
      };
    }
    const deniedGroups = req.groups.filter((g) => !c.allowed(RT.GROUP, g.groupId, Op.DESCRIBE));
    const deniedTopics = new Map<string, { name: string; partitionIndexes: number[] }[]>();
    const groups = req.groups
      .filter((g) => !deniedGroups.includes(g))
      .map((g) => {
        if (g.topics === null) return g;
        const [allowed, denied] = byTopic(g.topics, (t) => t.name, c, Op.DESCRIBE);
        deniedTopics.set(g.groupId, denied);
        return { ...g, topics: allowed };
      });
    return {
      serve: { ...req, groups },
      patch: (res) => {
        for (const g of res.groups) {
          const asked = req.groups.find((r) => r.groupId === g.groupId);
          if (asked?.topics === null) g.topics = g.topics.filter((t) => describable(t.name));
          for (const t of deniedTopics.get(g.groupId) ?? []) {
            g.topics.push({ name: t.name, partitions: partitionErrors(t.partitionIndexes, E.TOPIC_AUTHORIZATION_FAILED, (partitionIndex, errorCode) => ({ ...createOffsetFetchResponsePartitions(), partitionIndex, errorCode })) });
          }
        }
        for (const g of deniedGroups) res.groups.push({ groupId: g.groupId, topics: [], errorCode: E.GROUP_AUTHORIZATION_FAILED });
      },
    };
  }),

  rule(apis.FindCoordinator, [need('GROUP', 'DESCRIBE', 'GROUP_AUTHORIZATION_FAILED'), need('TRANSACTIONAL_ID', 'DESCRIBE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED')], (req, c, version) => {
    // Key types: 0 group, 1 transactional id, 2 share-partition (brokers only).
    const denial = (key: string): number => {
      if (req.keyType === 1) return c.allowed(RT.TRANSACTIONAL_ID, key, Op.DESCRIBE) ? E.NONE : E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      if (req.keyType === 2) return cluster(c, Op.CLUSTER_ACTION) ? E.NONE : E.CLUSTER_AUTHORIZATION_FAILED;
      return c.allowed(RT.GROUP, key, Op.DESCRIBE) ? E.NONE : E.GROUP_AUTHORIZATION_FAILED;
    };
    if (version < 4) {
      const code = denial(req.key);
      return code === E.NONE ? serve(req) : { deny: { ...topLevel(apis.FindCoordinator, code).deny, nodeId: -1, host: '', port: -1 } };
    }
    const denied = req.coordinatorKeys.map((key) => ({ key, code: denial(key) })).filter((d) => d.code !== E.NONE);
    return {
      serve: { ...req, coordinatorKeys: req.coordinatorKeys.filter((k) => !denied.some((d) => d.key === k)) },
      patch: (res) => {
        for (const d of denied) res.coordinators.push({ ...createFindCoordinatorResponseCoordinator(), key: d.key, nodeId: -1, host: '', port: -1, errorCode: d.code });
      },
    };
  }),

  groupRead(apis.JoinGroup),
  groupRead(apis.SyncGroup),
  groupRead(apis.Heartbeat),
  groupRead(apis.LeaveGroup),
  groupRead(apis.ConsumerGroupHeartbeat),
  groupRead(apis.ShareGroupHeartbeat),
  shareGroupTopics(apis.ShareFetch, createShareFetchResponsePartitionData),
  shareGroupTopics(apis.ShareAcknowledge, createShareAcknowledgeResponsePartitionData),

  describeGroups(apis.DescribeGroups, (r) => r.groups, (r, groups) => ({ ...r, groups }), (r) => r.includeAuthorizedOperations, createDescribeGroupsResponseDescribedGroup),
  describeGroups(apis.ConsumerGroupDescribe, (r) => r.groupIds, (r, groupIds) => ({ ...r, groupIds }), (r) => r.includeAuthorizedOperations, createConsumerGroupDescribeResponseDescribedGroup),
  describeGroups(apis.ShareGroupDescribe, (r) => r.groupIds, (r, groupIds) => ({ ...r, groupIds }), (r) => r.includeAuthorizedOperations, createShareGroupDescribeResponseDescribedGroup),

  rule(apis.ListGroups, [need('CLUSTER', 'DESCRIBE', null), need('GROUP', 'DESCRIBE', null)], (req, c) => ({
    serve: req,
    // DESCRIBE on the cluster lists every group; otherwise only the groups the principal may describe.
    patch: (res) => {
      if (!c.visible(RT.CLUSTER, CLUSTER_NAME, Op.DESCRIBE)) res.groups = res.groups.filter((g) => c.visible(RT.GROUP, g.groupId, Op.DESCRIBE));
    },
  })),

  rule(apis.DeleteGroups, [need('GROUP', 'DELETE', 'GROUP_AUTHORIZATION_FAILED')], (req, c) => {
    const denied = req.groupsNames.filter((g) => !c.allowed(RT.GROUP, g, Op.DELETE));
    return {
      serve: { ...req, groupsNames: req.groupsNames.filter((g) => !denied.includes(g)) },
      patch: (res) => void res.results.push(...denied.map((groupId) => ({ groupId, errorCode: E.GROUP_AUTHORIZATION_FAILED }))),
    };
  }),

  rule(apis.OffsetDelete, [need('GROUP', 'DELETE', 'GROUP_AUTHORIZATION_FAILED'), need('TOPIC', 'READ', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    if (!c.allowed(RT.GROUP, req.groupId, Op.DELETE)) return topLevel(apis.OffsetDelete, E.GROUP_AUTHORIZATION_FAILED);
    const [allowed, denied] = byTopic(req.topics, (t) => t.name, c, Op.READ);
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => void res.topics.push(...denied.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: E.TOPIC_AUTHORIZATION_FAILED })) }))),
    };
  }),

  rule(apis.CreateTopics, [need('CLUSTER', 'CREATE', 'TOPIC_AUTHORIZATION_FAILED'), need('TOPIC', 'CREATE', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const clusterCreate = cluster(c, Op.CREATE);
    const [allowed, denied] = clusterCreate ? [req.topics, []] : byTopic(req.topics, (t) => t.name, c, Op.CREATE);
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => {
        for (const t of denied) res.topics.push({ ...createCreateTopicsResponseCreatableTopicResult(), name: t.name, errorCode: E.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.', numPartitions: -1, replicationFactor: -1, topicConfigErrorCode: E.TOPIC_AUTHORIZATION_FAILED });
      },
    };
  }),

  rule(apis.DeleteTopics, [need('TOPIC', 'DELETE', 'TOPIC_AUTHORIZATION_FAILED')], (req, c, version) => {
    const byName = version < 6;
    const named = byName ? req.topicNames.map((name) => ({ name, topicId: '' as string })) : req.topics.map((t) => ({ name: t.name ?? c.topicName(t.topicId), topicId: t.topicId }));
    const [allowed, denied] = byTopic(named, (t) => t.name ?? undefined, c, Op.DELETE);
    return {
      serve: byName ? { ...req, topicNames: allowed.map((t) => t.name!) } : { ...req, topics: req.topics.filter((t) => !denied.some((d) => d.topicId === t.topicId && (t.name === null || d.name === t.name))) },
      patch: (res) => {
        for (const t of denied) res.responses.push({ name: t.name ?? null, topicId: t.topicId || ZERO_UUID, errorCode: E.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.' });
      },
    };
  }),

  rule(apis.CreatePartitions, [need('TOPIC', 'ALTER', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const [allowed, denied] = byTopic(req.topics, (t) => t.name, c, Op.ALTER);
    return { serve: { ...req, topics: allowed }, patch: (res) => void res.results.push(...denied.map((t) => ({ name: t.name, errorCode: E.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.' }))) };
  }),

  rule(apis.DeleteRecords, [need('TOPIC', 'DELETE', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const [allowed, denied] = byTopic(req.topics, (t) => t.name, c, Op.DELETE);
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => void res.topics.push(...denied.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...createDeleteRecordsResponseDeleteRecordsPartitionResult(), partitionIndex: p.partitionIndex, errorCode: E.TOPIC_AUTHORIZATION_FAILED })) }))),
    };
  }),

  rule(apis.DescribeProducers, [need('TOPIC', 'READ', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const [allowed, denied] = byTopic(req.topics, (t) => t.name, c, Op.READ);
    return {
      serve: { ...req, topics: allowed },
      patch: (res) => void res.topics.push(...denied.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ ...createDescribeProducersResponsePartitionResponse(), partitionIndex, errorCode: E.TOPIC_AUTHORIZATION_FAILED })) }))),
    };
  }),

  rule(apis.InitProducerId, [need('TRANSACTIONAL_ID', 'WRITE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), need('CLUSTER', 'IDEMPOTENT_WRITE', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) => {
    if (req.transactionalId !== null) return c.allowed(RT.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE) ? serve(req) : topLevel(apis.InitProducerId, E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    // An idempotent producer: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (as Kafka since 2.8).
    return cluster(c, Op.IDEMPOTENT_WRITE) || c.allowedAny(RT.TOPIC, Op.WRITE) ? serve(req) : topLevel(apis.InitProducerId, E.CLUSTER_AUTHORIZATION_FAILED);
  }),

  rule(apis.AddPartitionsToTxn, [need('TRANSACTIONAL_ID', 'WRITE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), need('TOPIC', 'WRITE', 'TOPIC_AUTHORIZATION_FAILED'), need('CLUSTER', 'CLUSTER_ACTION', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c, version) => {
    // v4+ comes from brokers verifying transactions (KIP-890).
    if (version >= 4) return cluster(c, Op.CLUSTER_ACTION) ? serve(req) : topLevel(apis.AddPartitionsToTxn, E.CLUSTER_AUTHORIZATION_FAILED);
    const txnOk = c.allowed(RT.TRANSACTIONAL_ID, req.v3AndBelowTransactionalId, Op.WRITE);
    const [, denied] = txnOk ? byTopic(req.v3AndBelowTopics, (t) => t.name, c, Op.WRITE) : [[], req.v3AndBelowTopics];
    if (txnOk && denied.length === 0) return serve(req);
    // Nothing is added when anything is denied: the rest are not attempted.
    const codeOf = (topic: string) => (!txnOk ? E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : denied.some((t) => t.name === topic) ? E.TOPIC_AUTHORIZATION_FAILED : E.OPERATION_NOT_ATTEMPTED);
    const res = apis.AddPartitionsToTxn.response.create();
    res.resultsByTopicV3AndBelow = req.v3AndBelowTopics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: codeOf(t.name) })) }));
    return { deny: res };
  }),

  rule(apis.AddOffsetsToTxn, [need('TRANSACTIONAL_ID', 'WRITE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), need('GROUP', 'READ', 'GROUP_AUTHORIZATION_FAILED')], (req, c) => {
    if (!c.allowed(RT.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE)) return topLevel(apis.AddOffsetsToTxn, E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    return c.allowed(RT.GROUP, req.groupId, Op.READ) ? serve(req) : topLevel(apis.AddOffsetsToTxn, E.GROUP_AUTHORIZATION_FAILED);
  }),

  single(apis.EndTxn, need('TRANSACTIONAL_ID', 'WRITE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), (r) => [RT.TRANSACTIONAL_ID, r.transactionalId], Op.WRITE, E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED),

  rule(apis.WriteTxnMarkers, [need('CLUSTER', 'CLUSTER_ACTION', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) => {
    if (cluster(c, Op.CLUSTER_ACTION)) return serve(req);
    const markers = req.markers.map((m) => ({ producerId: m.producerId, topics: m.topics.map((t) => ({ name: t.name, partitions: partitionErrors(t.partitionIndexes, E.CLUSTER_AUTHORIZATION_FAILED, (partitionIndex, errorCode) => ({ partitionIndex, errorCode })) })) }));
    return { deny: { ...apis.WriteTxnMarkers.response.create(), markers } };
  }),

  rule(apis.TxnOffsetCommit, [need('TRANSACTIONAL_ID', 'WRITE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), need('GROUP', 'READ', 'GROUP_AUTHORIZATION_FAILED'), need('TOPIC', 'READ', 'TOPIC_AUTHORIZATION_FAILED')], (req, c) => {
    const whole = !c.allowed(RT.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE) ? E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : !c.allowed(RT.GROUP, req.groupId, Op.READ) ? E.GROUP_AUTHORIZATION_FAILED : E.NONE;
    const [allowed, denied] = whole === E.NONE ? byTopic(req.topics, (t) => t.name, c, Op.READ) : [[], req.topics];
    const answer = denied.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: whole === E.NONE ? E.TOPIC_AUTHORIZATION_FAILED : whole })) }));
    if (whole !== E.NONE) return { deny: { ...apis.TxnOffsetCommit.response.create(), topics: answer } };
    return { serve: { ...req, topics: allowed }, patch: (res) => void res.topics.push(...answer) };
  }),

  rule(apis.DescribeTransactions, [need('TRANSACTIONAL_ID', 'DESCRIBE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED')], (req, c) => {
    const denied = req.transactionalIds.filter((id) => !c.allowed(RT.TRANSACTIONAL_ID, id, Op.DESCRIBE));
    return {
      serve: { ...req, transactionalIds: req.transactionalIds.filter((id) => !denied.includes(id)) },
      patch: (res) => void res.transactionStates.push(...denied.map((transactionalId) => ({ ...createDescribeTransactionsResponseTransactionState(), transactionalId, errorCode: E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED }))),
    };
  }),

  rule(apis.ListTransactions, [need('TRANSACTIONAL_ID', 'DESCRIBE', null)], (req, c) => ({
    serve: req,
    patch: (res) => {
      res.transactionStates = res.transactionStates.filter((t) => c.visible(RT.TRANSACTIONAL_ID, t.transactionalId, Op.DESCRIBE));
    },
  })),

  rule(apis.DescribeConfigs, [need('TOPIC', 'DESCRIBE_CONFIGS', 'TOPIC_AUTHORIZATION_FAILED'), need('CLUSTER', 'DESCRIBE_CONFIGS', 'CLUSTER_AUTHORIZATION_FAILED'), need('GROUP', 'DESCRIBE_CONFIGS', 'GROUP_AUTHORIZATION_FAILED')], (req, c) => {
    const denied: { errorCode: number; errorMessage: null; resourceType: number; resourceName: string; configs: [] }[] = [];
    const resources = req.resources.filter((r) => {
      const [type, name, code] = configResource(r.resourceType, r.resourceName);
      if (c.allowed(type, name, Op.DESCRIBE_CONFIGS)) return true;
      denied.push({ errorCode: code, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] });
      return false;
    });
    return { serve: { ...req, resources }, patch: (res) => void res.results.push(...denied) };
  }),
  alterConfigs(apis.AlterConfigs),
  alterConfigs(apis.IncrementalAlterConfigs),

  rule(apis.DescribeCluster, [need('CLUSTER', 'DESCRIBE', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) => {
    if (!cluster(c, Op.DESCRIBE)) return topLevel(apis.DescribeCluster, E.CLUSTER_AUTHORIZATION_FAILED);
    return {
      serve: req,
      patch: (res) => {
        if (req.includeClusterAuthorizedOperations) res.clusterAuthorizedOperations = c.operations(RT.CLUSTER, CLUSTER_NAME);
      },
    };
  }),

  rule(apis.DescribeLogDirs, [need('CLUSTER', 'DESCRIBE', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c, version) => {
    if (cluster(c, Op.DESCRIBE)) return serve(req);
    // Before v3 there is no error field: an unauthorized caller sees no log directories.
    return version >= 3 ? topLevel(apis.DescribeLogDirs, E.CLUSTER_AUTHORIZATION_FAILED) : { deny: apis.DescribeLogDirs.response.create() };
  }),

  rule(apis.AlterReplicaLogDirs, [need('CLUSTER', 'ALTER', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) => {
    if (cluster(c, Op.ALTER)) return serve(req);
    const results = req.dirs.flatMap((d) => d.topics.map((t) => ({ topicName: t.name, partitions: partitionErrors(t.partitions, E.CLUSTER_AUTHORIZATION_FAILED, (partitionIndex, errorCode) => ({ partitionIndex, errorCode })) })));
    return { deny: { ...apis.AlterReplicaLogDirs.response.create(), results } };
  }),

  rule(apis.ElectLeaders, [need('CLUSTER', 'ALTER', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c, version) => {
    if (cluster(c, Op.ALTER)) return serve(req);
    const replicaElectionResults = (req.topicPartitions ?? []).map((t) => ({ topic: t.topic, partitionResult: t.partitions.map((partitionId) => ({ partitionId, errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null })) }));
    // v0 has no top-level error: the partitions carry it.
    const res = version >= 1 ? topLevel(apis.ElectLeaders, E.CLUSTER_AUTHORIZATION_FAILED).deny : apis.ElectLeaders.response.create();
    return { deny: { ...res, replicaElectionResults } };
  }),

  clusterOp(apis.AlterPartitionReassignments, 'ALTER'),
  clusterOp(apis.ListPartitionReassignments, 'DESCRIBE'),
  clusterOp(apis.DescribeAcls, 'DESCRIBE'),

  rule(apis.CreateAcls, [need('CLUSTER', 'ALTER', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) =>
    cluster(c, Op.ALTER) ? serve(req) : { deny: { ...apis.CreateAcls.response.create(), results: req.creations.map(() => ({ errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.' })) } },
  ),
  rule(apis.DeleteAcls, [need('CLUSTER', 'ALTER', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) =>
    cluster(c, Op.ALTER)
      ? serve(req)
      : { deny: { ...apis.DeleteAcls.response.create(), filterResults: req.filters.map(() => ({ errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', matchingAcls: [] })) } },
  ),

  clusterOp(apis.DescribeUserScramCredentials, 'DESCRIBE'),
  rule(apis.AlterUserScramCredentials, [need('CLUSTER', 'ALTER', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) => {
    if (cluster(c, Op.ALTER)) return serve(req);
    const users = new Set([...req.deletions.map((d) => d.name), ...req.upsertions.map((u) => u.name)]);
    return { deny: { ...apis.AlterUserScramCredentials.response.create(), results: [...users].map((user) => ({ user, errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null })) } };
  }),
  clusterOp(apis.DescribeClientQuotas, 'DESCRIBE_CONFIGS'),
  rule(apis.AlterClientQuotas, [need('CLUSTER', 'ALTER_CONFIGS', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) =>
    cluster(c, Op.ALTER_CONFIGS)
      ? serve(req)
      : { deny: { ...apis.AlterClientQuotas.response.create(), entries: req.entries.map((e) => ({ errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, entity: e.entity.map((x) => ({ entityType: x.entityType, entityName: x.entityName })) })) } },
  ),

  // Share group offsets: the group, like their consumer group counterparts (DescribeShareGroupOffsets as OffsetFetch).
  rule(apis.DescribeShareGroupOffsets, [need('GROUP', 'DESCRIBE', 'GROUP_AUTHORIZATION_FAILED')], (req, c) => {
    const denied = req.groups.filter((g) => !c.allowed(RT.GROUP, g.groupId, Op.DESCRIBE));
    return {
      serve: { ...req, groups: req.groups.filter((g) => !denied.includes(g)) },
      patch: (res) => void res.groups.push(...denied.map((g) => ({ groupId: g.groupId, topics: [], errorCode: E.GROUP_AUTHORIZATION_FAILED, errorMessage: null }))),
    };
  }),
  single(apis.AlterShareGroupOffsets, need('GROUP', 'READ', 'GROUP_AUTHORIZATION_FAILED'), (r) => [RT.GROUP, r.groupId], Op.READ, E.GROUP_AUTHORIZATION_FAILED),
  single(apis.DeleteShareGroupOffsets, need('GROUP', 'DELETE', 'GROUP_AUTHORIZATION_FAILED'), (r) => [RT.GROUP, r.groupId], Op.DELETE, E.GROUP_AUTHORIZATION_FAILED),

  // Share-group state: sent by brokers to the share coordinator.
  rule(apis.ReadShareGroupState, [need('CLUSTER', 'CLUSTER_ACTION', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) =>
    cluster(c, Op.CLUSTER_ACTION)
      ? serve(req)
      : { deny: { ...apis.ReadShareGroupState.response.create(), results: req.topics.map((t) => ({ topicId: t.topicId, partitions: t.partitions.map((p) => ({ ...createReadShareGroupStateResponsePartitionResult(), partition: p.partition, errorCode: E.CLUSTER_AUTHORIZATION_FAILED })) })) } },
  ),
  rule(apis.WriteShareGroupState, [need('CLUSTER', 'CLUSTER_ACTION', 'CLUSTER_AUTHORIZATION_FAILED')], (req, c) =>
    cluster(c, Op.CLUSTER_ACTION)
      ? serve(req)
      : { deny: { ...apis.WriteShareGroupState.response.create(), results: req.topics.map((t) => ({ topicId: t.topicId, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null })) })) } },
  ),
];

/** The rule of each API, by api key. */
export const RULES_BY_KEY: ReadonlyMap<number, ApiRule> = new Map(API_RULES.map((r) => [r.api.apiKey, r]));
