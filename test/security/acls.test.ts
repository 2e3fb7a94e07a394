import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { ApiEntry } from '../../src/protocol/api-entry.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { ZERO_UUID } from '../../src/protocol/primitives/uuid.js';
import { AclOperation, CLUSTER_NAME, PatternType, Permission, ResourceType } from '../../src/security/acl/acl-codes.js';
import { RULES_BY_KEY, type Need } from '../../src/security/acl/api-rules.js';
import { Authorizer } from '../../src/security/acl/authorizer.js';
import { AclTable, type AclImage } from '../../src/metadata/image.js';
import fc from 'fast-check';
import { clusterSkip, FAST_CLUSTER, kafkajsRoundTrip, startCluster, type TestCluster } from '../support/cluster.js';
import { KafkaClient } from '../../src/client/kafka-client.js';
import { RawConnection } from '../support/raw-connection.js';
import { producerBatch } from '../support/raw-requests.js';
import { findCoordinator } from '../support/txn-requests.js';
import { startTestBroker, type InProcessBroker } from '../support/test-broker.js';
import { assertSucceeded, runCommand } from '../support/commands.js';
import { confluentKafka, PYTHON, skipUnlessPresent } from '../support/tools.js';

const USERS = { admin: 'admin-secret', alice: 'alice-secret', bob: 'bob-secret', carol: 'carol-secret' };

/** A broker with a SASL PLAIN listener, ACLs on, and User:admin as the super user. */
function aclSettings(extra: Record<string, string> = {}): Record<string, string> {
  const users = Object.entries(USERS)
    .map(([u, p]) => `user_${u}="${p}"`)
    .join(' ');
  return {
    listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${users};`,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin;User:nobody',
    ...extra,
  };
}

function portOf(bootstrap: string): number {
  return Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1));
}

/** A raw connection authenticated with SASL PLAIN as `user`: requests then carry User:<user>. */
async function rawAs(broker: InProcessBroker, user: keyof typeof USERS): Promise<RawConnection> {
  const c = await RawConnection.open(portOf(broker.bootstrap));
  const hs = await c.request(apis.SaslHandshake, 1, { mechanism: 'PLAIN' });
  assert.equal(hs.errorCode, ErrorCode.NONE);
  const auth = await c.request(apis.SaslAuthenticate, 2, { authBytes: Buffer.from(`\0${user}\0${USERS[user]}`), unknownTaggedFields: undefined } as never);
  assert.equal(auth.errorCode, ErrorCode.NONE, `SASL PLAIN as ${user}`);
  return c;
}

function kafkaAs(broker: InProcessBroker, user: keyof typeof USERS): Kafka {
  return new Kafka({ brokers: [broker.bootstrap], clientId: `acl-${user}`, logLevel: logLevel.NOTHING, retry: { retries: 1 }, sasl: { mechanism: 'plain', username: user, password: USERS[user] } });
}

/** Every error code anywhere in a response (errorCode, partitionErrorCode, topicConfigErrorCode...). */
function errorCodes(value: unknown, out: number[] = []): number[] {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    if (/errorcode$/i.test(k) && typeof v === 'number') out.push(v);
    else errorCodes(v, out);
  }
  return out;
}

function encodable(api: ApiEntry<unknown, unknown>, body: unknown, version: number): boolean {
  try {
    api.request.encode(body, version);
    return true;
  } catch {
    return false;
  }
}

const AUTH_ERRORS = new Set<number>([ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]);

const TOPIC = 'acl-matrix';
const GROUP = 'matrix-group';
const TXN = 'matrix-txn';

interface MatrixCase {
  version: number;
  body: Record<string, unknown>;
  /** The names each resource type's ACLs are granted on (defaults: TOPIC, GROUP, TXN). */
  names?: Partial<Record<Need['resource'], string>>;
  /** The denied principal's error; default: the rule's first need's. */
  expect?: number;
  /** A list-style API: the denied principal sees nothing of `listed`, the allowed one sees it. */
  listed?: (res: never) => boolean;
  /** Versions below `below` have no field for the error: `check` tells the refusal there. */
  silentBelow?: { below: number; check: (res: never) => void };
  /** The refusal of another version, where it differs from `expect`. */
  expectAt?: (version: number) => number;
  /** The body for another version, where it needs other fields than `body`. */
  at?: (version: number) => Record<string, unknown>;
  /** More to check of the allowed principal's response. */
  allowedCheck?: (res: never) => void;
}

const partition0 = { partitionIndex: 0 };

function fetchBody(topic: string, topicId: string): Record<string, unknown> {
  const partitions = [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 16 }];
  return { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, sessionId: 0, sessionEpoch: -1, topics: [{ topic, topicId, partitions }] };
}

/** A request per API the broker serves: what the matrix sends as a principal without and with the ACLs the API needs. */
function matrixCases(dir: string, topicId: string): Record<string, MatrixCase> {
  const offsets = [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }];
  const describeBit = 1 << AclOperation.DESCRIBE;
  return {
    Produce: { version: 9, body: { acks: 1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: producerBatch({ producerId: -1n, epoch: -1, sequence: -1, count: 1 }) }] }] }, expect: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
    Fetch: {
      version: 12,
      body: fetchBody(TOPIC, ZERO_UUID),
      // From v13 topics go by id.
      at: (v) => (v >= 13 ? fetchBody('', topicId) : fetchBody(TOPIC, ZERO_UUID)),
    },
    ListOffsets: { version: 9, body: { replicaId: -1, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] } },
    Metadata: {
      version: 12,
      body: { topics: [{ name: TOPIC, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true },
      // Authorized operations from v8, the auto-creation flag from v4.
      at: (v) => ({ topics: [{ name: TOPIC, topicId: ZERO_UUID }], ...(v >= 4 ? { allowAutoTopicCreation: false } : {}), ...(v >= 8 ? { includeTopicAuthorizedOperations: true } : {}) }),
      allowedCheck: (res: { topics: { errorCode: number; topicAuthorizedOperations: number }[] }) => {
        assert.equal(res.topics[0].errorCode, ErrorCode.NONE);
        assert.equal(res.topics[0].topicAuthorizedOperations, describeBit, 'DESCRIBE alone is what the principal may do');
      },
    },
    OffsetCommit: { version: 9, body: { groupId: GROUP, generationIdOrMemberEpoch: -1, memberId: '', topics: offsets } },
    OffsetFetch: {
      version: 9,
      body: { groups: [{ groupId: GROUP, memberId: null, memberEpoch: -1, topics: null }] },
      at: (v) => (v >= 8 ? { groups: [{ groupId: GROUP, memberId: null, memberEpoch: -1, topics: null }] } : { groupId: GROUP, topics: [{ name: TOPIC, partitionIndexes: [0] }] }),
    },
    FindCoordinator: { version: 5, body: { keyType: 0, coordinatorKeys: [GROUP] }, at: (v) => (v >= 4 ? { keyType: 0, coordinatorKeys: [GROUP] } : { key: GROUP }) },
    JoinGroup: { version: 9, body: { groupId: GROUP, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] } },
    Heartbeat: { version: 4, body: { groupId: GROUP, generationId: 0, memberId: 'm' } },
    LeaveGroup: { version: 5, body: { groupId: GROUP, members: [{ memberId: 'm', groupInstanceId: null, reason: null }] } },
    SyncGroup: { version: 5, body: { groupId: GROUP, generationId: 0, memberId: 'm', protocolType: 'consumer', protocolName: 'range', assignments: [] } },
    DescribeGroups: {
      version: 5,
      body: { groups: [GROUP], includeAuthorizedOperations: true },
      allowedCheck: (res: { groups: { authorizedOperations: number }[] }) => assert.equal(res.groups[0].authorizedOperations, describeBit),
    },
    ListGroups: { version: 5, body: {}, listed: (res: { groups: { groupId: string }[] }) => res.groups.some((g) => g.groupId === GROUP) },
    ApiVersions: { version: 3, body: { clientSoftwareName: 'acl-matrix', clientSoftwareVersion: '1' } },
    CreateTopics: { version: 7, body: { timeoutMs: 5000, topics: [{ name: 'matrix-created', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] }, names: { TOPIC: 'matrix-created' } },
    DeleteTopics: {
      version: 6,
      body: { timeoutMs: 5000, topics: [{ name: 'matrix-deleted', topicId: ZERO_UUID }] },
      at: (v) => (v >= 6 ? { timeoutMs: 5000, topics: [{ name: TOPIC, topicId: ZERO_UUID }] } : { timeoutMs: 5000, topicNames: [TOPIC] }),
      names: { TOPIC: 'matrix-deleted' },
    },
    DeleteRecords: { version: 2, body: { timeoutMs: 5000, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, offset: 0n }] }] } },
    InitProducerId: { version: 5, body: { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 }, expect: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
    OffsetForLeaderEpoch: { version: 4, body: { replicaId: -1, topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }, expect: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
    AddPartitionsToTxn: {
      version: 3,
      body: { v3AndBelowTransactionalId: TXN, v3AndBelowProducerId: 0n, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: TOPIC, partitions: [0] }] },
      // From v4 it is brokers verifying transactions: CLUSTER_ACTION.
      at: (v) =>
        v >= 4
          ? { transactions: [{ transactionalId: TXN, producerId: 0n, producerEpoch: 0, verifyOnly: true, topics: [{ name: TOPIC, partitions: [0] }] }] }
          : { v3AndBelowTransactionalId: TXN, v3AndBelowProducerId: 0n, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: TOPIC, partitions: [0] }] },
      expectAt: (v) => (v >= 4 ? ErrorCode.CLUSTER_AUTHORIZATION_FAILED : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
    },
    AddOffsetsToTxn: { version: 4, body: { transactionalId: TXN, producerId: 0n, producerEpoch: 0, groupId: GROUP } },
    EndTxn: { version: 4, body: { transactionalId: TXN, producerId: 0n, producerEpoch: 0, committed: false } },
    WriteTxnMarkers: { version: 1, body: { markers: [{ producerId: 999n, producerEpoch: 0, transactionResult: false, topics: [{ name: TOPIC, partitionIndexes: [0] }], coordinatorEpoch: 0 }] } },
    TxnOffsetCommit: { version: 4, body: { transactionalId: TXN, groupId: GROUP, producerId: 0n, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: TOPIC, partitions: [{ ...partition0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: null }] }] } },
    DescribeAcls: { version: 3, body: { resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: AclOperation.ANY, permissionType: Permission.ANY } },
    CreateAcls: { version: 3, body: { creations: [{ resourceType: ResourceType.TOPIC, resourceName: 'matrix-acl', resourcePatternType: PatternType.LITERAL, principal: 'User:carol', host: '*', operation: AclOperation.READ, permissionType: Permission.ALLOW }] } },
    DeleteAcls: { version: 3, body: { filters: [{ resourceTypeFilter: ResourceType.TOPIC, resourceNameFilter: 'matrix-acl', patternTypeFilter: PatternType.LITERAL, principalFilter: null, hostFilter: null, operation: AclOperation.ANY, permissionType: Permission.ANY }] } },
    DescribeConfigs: { version: 4, body: { resources: [{ resourceType: 2, resourceName: TOPIC, configurationKeys: null }] }, expect: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
    AlterConfigs: { version: 2, body: { validateOnly: true, resources: [{ resourceType: 2, resourceName: TOPIC, configs: [{ name: 'retention.ms', value: '86400000' }] }] } },
    IncrementalAlterConfigs: { version: 1, body: { validateOnly: true, resources: [{ resourceType: 2, resourceName: TOPIC, configs: [{ name: 'retention.ms', configOperation: 0, value: '86400000' }] }] } },
    AlterReplicaLogDirs: { version: 2, body: { dirs: [{ path: dir, topics: [{ name: TOPIC, partitions: [0] }] }] } },
    DescribeLogDirs: { version: 4, body: { topics: null }, silentBelow: { below: 3, check: (res: { results: unknown[] }) => assert.deepEqual(res.results, []) } },
    CreatePartitions: { version: 3, body: { timeoutMs: 5000, validateOnly: true, topics: [{ name: TOPIC, count: 2, assignments: null }] } },
    DeleteGroups: { version: 2, body: { groupsNames: ['matrix-gone'] }, names: { GROUP: 'matrix-gone' } },
    ElectLeaders: { version: 2, body: { electionType: 0, timeoutMs: 5000, topicPartitions: [{ topic: TOPIC, partitions: [0] }] } },
    AlterPartitionReassignments: { version: 0, body: { timeoutMs: 5000, topics: [] } },
    ListPartitionReassignments: { version: 0, body: { timeoutMs: 5000, topics: null } },
    OffsetDelete: { version: 0, body: { groupId: GROUP, topics: [{ name: TOPIC, partitions: [partition0] }] } },
    DescribeClientQuotas: { version: 1, body: { components: [], strict: false } },
    AlterClientQuotas: { version: 1, body: { validateOnly: true, entries: [{ entity: [{ entityType: 'client-id', entityName: 'matrix' }], ops: [{ key: 'producer_byte_rate', value: 1024, remove: false }] }] } },
    DescribeUserScramCredentials: { version: 0, body: { users: null } },
    AlterUserScramCredentials: { version: 0, body: { deletions: [{ name: 'matrix-user', mechanism: 1 }], upsertions: [] } },
    DescribeCluster: {
      version: 1,
      body: { includeClusterAuthorizedOperations: true },
      allowedCheck: (res: { clusterAuthorizedOperations: number }) => assert.equal(res.clusterAuthorizedOperations, describeBit),
    },
    DescribeProducers: { version: 0, body: { topics: [{ name: TOPIC, partitionIndexes: [0] }] } },
    DescribeTransactions: { version: 0, body: { transactionalIds: [TXN] } },
    ListTransactions: { version: 1, body: { stateFilters: [], producerIdFilters: [], durationFilter: -1n }, listed: (res: { transactionStates: { transactionalId: string }[] }) => res.transactionStates.some((t) => t.transactionalId === TXN) },
    ConsumerGroupHeartbeat: { version: 1, body: { groupId: 'matrix-cg', memberId: 'matrix-member-0000000', memberEpoch: 0, rebalanceTimeoutMs: 10_000, subscribedTopicNames: [TOPIC], topicPartitions: [] }, names: { GROUP: 'matrix-cg' } },
    ConsumerGroupDescribe: { version: 0, body: { groupIds: ['matrix-cg'], includeAuthorizedOperations: true }, names: { GROUP: 'matrix-cg' } },
    ShareGroupHeartbeat: { version: 1, body: { groupId: 'matrix-sg', memberId: 'matrix-share-member-000', memberEpoch: 0, subscribedTopicNames: [TOPIC] }, names: { GROUP: 'matrix-sg' } },
    ShareGroupDescribe: { version: 0, body: { groupIds: ['matrix-sg'], includeAuthorizedOperations: true }, names: { GROUP: 'matrix-sg' } },
    ShareFetch: { version: 1, body: { groupId: 'matrix-sg', memberId: 'matrix-share-member-000', shareSessionEpoch: 0, maxWaitMs: 0, topics: [] }, names: { GROUP: 'matrix-sg' } },
    ShareAcknowledge: { version: 1, body: { groupId: 'matrix-sg', memberId: 'matrix-share-member-000', shareSessionEpoch: 1, topics: [] }, names: { GROUP: 'matrix-sg' } },
    ReadShareGroupState: { version: 0, body: { groupId: 'matrix-sg', topics: [{ topicId, partitions: [{ partition: 0, leaderEpoch: 0 }] }] } },
    WriteShareGroupState: { version: 0, body: { groupId: 'matrix-sg', topics: [{ topicId, partitions: [{ partition: 0, stateEpoch: 0, leaderEpoch: 0, startOffset: 0n, stateBatches: [] }] }] } },
    DescribeShareGroupOffsets: { version: 0, body: { groups: [{ groupId: 'matrix-sg', topics: null }] }, names: { GROUP: 'matrix-sg' } },
    AlterShareGroupOffsets: { version: 0, body: { groupId: 'matrix-sg2', topics: [] }, names: { GROUP: 'matrix-sg2' } },
    DeleteShareGroupOffsets: { version: 0, body: { groupId: 'matrix-sg2', topics: [] }, names: { GROUP: 'matrix-sg2' } },
  };
}

const DEFAULT_NAMES: Record<Need['resource'], string> = { TOPIC, GROUP, TRANSACTIONAL_ID: TXN, CLUSTER: CLUSTER_NAME, NONE: '' };

/** The ACL bindings that give `principal` what an API needs, on the case's resource names. */
function grantsFor(needs: readonly Need[], names: MatrixCase['names'], principal: string) {
  return needs
    .filter((n) => n.resource !== 'NONE')
    .map((n) => ({
      resourceType: ResourceType[n.resource as keyof typeof ResourceType],
      resourceName: names?.[n.resource] ?? DEFAULT_NAMES[n.resource],
      resourcePatternType: PatternType.LITERAL,
      principal,
      host: '*',
      operation: AclOperation[n.operation as keyof typeof AclOperation],
      permissionType: Permission.ALLOW,
    }));
}

describe('ACLs', { timeout: 60_000 }, () => {
  let broker: InProcessBroker;
  let admin: RawConnection;
  let kafkaAdmin: Admin;

  async function setAclsOf(principal: string, creations: ReturnType<typeof grantsFor>): Promise<void> {
    const del = await admin.request(apis.DeleteAcls, 3, {
      filters: [{ resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: principal, hostFilter: null, operation: AclOperation.ANY, permissionType: Permission.ANY }],
    });
    assert.deepEqual(errorCodes(del).filter((c) => c !== ErrorCode.NONE), []);
    if (creations.length === 0) return;
    const res = await admin.request(apis.CreateAcls, 3, { creations });
    assert.deepEqual(res.results.map((r) => r.errorCode), creations.map(() => ErrorCode.NONE));
  }

  before(async () => {
    broker = await startTestBroker(aclSettings({ 'group.share.enable': 'true' }));
    admin = await rawAs(broker, 'admin');
    kafkaAdmin = kafkaAs(broker, 'admin').admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.createTopics({ topics: [{ topic: TOPIC }, { topic: 'matrix-deleted' }] });
    // State the list-style APIs can show: a group with offsets and a transactional id.
    await admin.request(apis.OffsetCommit, 9, { ...apis.OffsetCommit.request.create(), groupId: GROUP, generationIdOrMemberEpoch: -1, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
    // The transaction coordinator answers once __transaction_state is created and loaded.
    let init = ErrorCode.COORDINATOR_NOT_AVAILABLE as number;
    for (let attempt = 0; attempt < 100 && init !== ErrorCode.NONE; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
      await findCoordinator(admin, TXN, 1);
      init = (await admin.request(apis.InitProducerId, 5, { transactionalId: TXN, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 })).errorCode;
    }
    assert.equal(init, ErrorCode.NONE);
  });

  after(async () => {
    await kafkaAdmin?.disconnect();
    admin?.destroy();
    await broker?.stop();
  });

  test('ACL matrix: every API the broker serves refuses a principal without its ACLs and serves one with them', async () => {
    const topicId = broker.broker.metadata.topic(TOPIC)!.id;
    const cases = matrixCases(broker.dir, topicId);
    const names = new Map(Object.values(apis).map((a) => [a.apiKey, a as ApiEntry<unknown, unknown>]));
    const served = broker.broker.router.supportedApis();
    assert.ok(served.length >= 50, 'the matrix covers a full broker');
    const bob = await rawAs(broker, 'bob');
    const alice = await rawAs(broker, 'alice');
    try {
      for (const { apiKey, minVersion, maxVersion } of served) {
        const api = names.get(apiKey)!;
        const rule = RULES_BY_KEY.get(apiKey);
        assert.ok(rule, `${api.name} has an ACL rule`);
        if (api === apis.SaslHandshake || api === apis.SaslAuthenticate) {
          // Every connection of this test went through them before any ACL could apply.
          assert.deepEqual(rule.needs, [{ resource: 'NONE', operation: 'none', error: null }]);
          continue;
        }
        const c = cases[api.name];
        assert.ok(c, `the matrix has a request for ${api.name}`);
        assert.ok(c.version >= minVersion && c.version <= maxVersion, `${api.name} v${c.version} is served`);
        const body = { ...api.request.create() as object, ...c.body };
        await setAclsOf('User:alice', grantsFor(rule.needs, c.names, 'User:alice'));

        const denied = await bob.request(api, c.version, body);
        const allowed = await alice.request(api, c.version, body);
        if (rule.needs[0].resource === 'NONE') {
          assert.deepEqual(errorCodes(denied).filter((e) => AUTH_ERRORS.has(e)), [], `${api.name} needs no ACL`);
          continue;
        }
        if (c.listed) {
          assert.equal(c.listed(denied as never), false, `${api.name} hides what bob may not describe`);
          assert.equal(c.listed(allowed as never), true, `${api.name} lists what alice may describe`);
          continue;
        }
        const expected = c.expect ?? ErrorCode[rule.needs[0].error!];
        assert.ok(errorCodes(denied).includes(expected), `${api.name}: bob gets ${expected}, got ${JSON.stringify(errorCodes(denied))}`);
        assert.deepEqual(errorCodes(allowed).filter((e) => AUTH_ERRORS.has(e)), [], `${api.name}: alice is authorized`);
        c.allowedCheck?.(allowed as never);
        // The refusal encodes in every version served that the request can be sent in.
        for (let v = minVersion; v <= maxVersion; v++) {
          const bodyAt = c.at ? { ...(api.request.create() as object), ...c.at(v) } : body;
          if (!encodable(api, bodyAt, v)) continue;
          const refused = await bob.request(api, v, bodyAt);
          if (c.silentBelow && v < c.silentBelow.below) {
            c.silentBelow.check(refused as never);
            continue;
          }
          const codes = errorCodes(refused);
          const expectedAt = c.expectAt?.(v) ?? expected;
          assert.ok(codes.includes(expectedAt), `${api.name} v${v}: bob gets ${expectedAt}, got ${JSON.stringify(codes)}`);
        }
      }
    } finally {
      bob.destroy();
      alice.destroy();
      await setAclsOf('User:alice', []);
    }
  });
  /** One ALLOW or DENY binding, as kafkajs's admin takes it. */
  function binding(resourceType: number, resourceName: string, principal: string, operation: number, opts: { prefixed?: boolean; deny?: boolean } = {}) {
    return {
      resourceType,
      resourceName,
      resourcePatternType: opts.prefixed ? PatternType.PREFIXED : PatternType.LITERAL,
      principal,
      host: '*',
      operation,
      permissionType: opts.deny ? Permission.DENY : Permission.ALLOW,
    };
  }

  test('kafkajs admin: createAcls, describeAcls and deleteAcls', async () => {
    const acl = binding(ResourceType.TOPIC, 'kjs-', 'User:carol', AclOperation.READ, { prefixed: true });
    await kafkaAdmin.createAcls({ acl: [acl] } as never);
    const filter = { resourceType: ResourceType.TOPIC, resourceName: 'kjs-', resourcePatternType: PatternType.PREFIXED, principal: 'User:carol', host: '*', operation: AclOperation.ANY, permissionType: Permission.ANY };
    const described = await kafkaAdmin.describeAcls(filter as never);
    assert.deepEqual(described.resources, [
      { resourceType: ResourceType.TOPIC, resourceName: 'kjs-', resourcePatternType: PatternType.PREFIXED, acls: [{ principal: 'User:carol', host: '*', operation: AclOperation.READ, permissionType: Permission.ALLOW }] },
    ]);
    // MATCH finds the bindings that apply to a name: the prefix covers kjs-orders.
    const matching = await kafkaAdmin.describeAcls({ ...filter, resourceName: 'kjs-orders', resourcePatternType: PatternType.MATCH } as never);
    assert.equal(matching.resources.length, 1);
    const deleted = await kafkaAdmin.deleteAcls({ filters: [filter] } as never);
    assert.equal(deleted.filterResponses[0].matchingAcls.length, 1);
    assert.deepEqual((await kafkaAdmin.describeAcls(filter as never)).resources, []);
  });

  test('bad filters and bindings get INVALID_REQUEST; a principal without ALTER on the cluster CLUSTER_AUTHORIZATION_FAILED', async () => {
    const bad = await admin.request(apis.DescribeAcls, 3, { resourceTypeFilter: 0, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: AclOperation.ANY, permissionType: Permission.ANY });
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    const created = await admin.request(apis.CreateAcls, 3, {
      creations: [
        { ...binding(ResourceType.TOPIC, 'x', 'carol', AclOperation.READ), resourcePatternType: PatternType.LITERAL, permissionType: Permission.ALLOW },
        { ...binding(ResourceType.TOPIC, 'x', 'User:carol', AclOperation.ANY), resourcePatternType: PatternType.LITERAL, permissionType: Permission.ALLOW },
        { ...binding(ResourceType.CLUSTER, 'not-the-cluster', 'User:carol', AclOperation.ALTER), resourcePatternType: PatternType.LITERAL, permissionType: Permission.ALLOW },
      ],
    });
    assert.deepEqual(created.results.map((r) => r.errorCode), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
    const carol = kafkaAs(broker, 'carol').admin();
    await carol.connect();
    try {
      await assert.rejects(carol.createAcls({ acl: [binding(ResourceType.TOPIC, 'x', 'User:carol', AclOperation.READ)] } as never), (e: { type?: string }) => e.type === 'CLUSTER_AUTHORIZATION_FAILED');
    } finally {
      await carol.disconnect();
    }
  });

  test('kafkajs: a producer without WRITE gets TOPIC_AUTHORIZATION_FAILED; PREFIXED allows, DENY wins over ALLOW', async () => {
    await kafkaAdmin.createTopics({ topics: [{ topic: 'pre-ok' }, { topic: 'pre-denied' }] });
    await kafkaAdmin.createAcls({
      acl: [
        binding(ResourceType.TOPIC, 'pre-', 'User:carol', AclOperation.WRITE, { prefixed: true }),
        binding(ResourceType.TOPIC, 'pre-denied', 'User:carol', AclOperation.ALL, { deny: true }),
      ],
    } as never);
    const carol = kafkaAs(broker, 'carol').producer();
    const bob = kafkaAs(broker, 'bob').producer();
    await carol.connect();
    await bob.connect();
    try {
      const [sent] = await carol.send({ topic: 'pre-ok', messages: [{ value: 'v' }] });
      assert.equal(sent.errorCode, 0);
      // kafkajs reports it from the Metadata answer, as Kafka's TopicAuthorizationException message.
      const refused = (e: Error) => /Topic authorization failed/.test(e.message);
      await assert.rejects(carol.send({ topic: 'pre-denied', messages: [{ value: 'v' }] }), refused);
      await assert.rejects(bob.send({ topic: 'pre-ok', messages: [{ value: 'v' }] }), refused);
    } finally {
      await carol.disconnect();
      await bob.disconnect();
    }
  });

  test('a fetch session (KIP-227) opened with READ is refused its partitions on the next fetch once READ is removed', async () => {
    await kafkaAdmin.createTopics({ topics: [{ topic: 'sessioned' }] });
    const read = binding(ResourceType.TOPIC, 'sessioned', 'User:carol', AclOperation.READ);
    await kafkaAdmin.createAcls({ acl: [read] } as never);
    const carol = await rawAs(broker, 'carol');
    try {
      const fetch = (sessionId: number, sessionEpoch: number, named: boolean) =>
        carol.request(apis.Fetch, 12, { ...apis.Fetch.request.create(), ...fetchBody('sessioned', ZERO_UUID), sessionId, sessionEpoch, ...(named ? {} : { topics: [] }) } as never) as Promise<{
          errorCode: number;
          sessionId: number;
          responses: { partitions: { errorCode: number }[] }[];
        }>;
      const codes = (res: Awaited<ReturnType<typeof fetch>>) => res.responses.flatMap((t) => t.partitions.map((p) => p.errorCode));
      const opened = await fetch(0, 0, true);
      assert.notEqual(opened.sessionId, 0);
      assert.deepEqual(codes(opened), [ErrorCode.NONE]);
      await kafkaAdmin.deleteAcls({ filters: [read] } as never);
      // The request names no partition: only the session says what it reads.
      const refused = await fetch(opened.sessionId, 1, false);
      assert.equal(refused.errorCode, ErrorCode.NONE);
      assert.deepEqual(codes(refused), [ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
    } finally {
      carol.destroy();
    }
  });

  test('a share session (KIP-932) opened with READ on its topic is refused that partition on the next fetch once READ is removed', async () => {
    await kafkaAdmin.createTopics({ topics: [{ topic: 'share-sessioned' }] });
    const topicId = broker.broker.metadata.topic('share-sessioned')!.id;
    const read = binding(ResourceType.TOPIC, 'share-sessioned', 'User:carol', AclOperation.READ);
    const group = binding(ResourceType.GROUP, 'share-sessioned-sg', 'User:carol', AclOperation.READ);
    await kafkaAdmin.createAcls({ acl: [read, group] } as never);
    const carol = await rawAs(broker, 'carol');
    try {
      const shareFetch = (epoch: number, named: boolean) =>
        carol.request(apis.ShareFetch, 1, {
          ...apis.ShareFetch.request.create(),
          groupId: 'share-sessioned-sg',
          memberId: 'share-sessioned-member-0000',
          shareSessionEpoch: epoch,
          maxWaitMs: 0,
          maxBytes: 1 << 20,
          maxRecords: 10,
          topics: named ? [{ topicId, partitions: [{ partitionIndex: 0, partitionMaxBytes: 0, acknowledgementBatches: [] }] }] : [],
        });
      const codes = (res: Awaited<ReturnType<typeof shareFetch>>) => res.responses.flatMap((t) => t.partitions.map((p) => p.errorCode));
      const opened = await shareFetch(0, true);
      assert.equal(opened.errorCode, ErrorCode.NONE);
      assert.ok(!codes(opened).includes(ErrorCode.TOPIC_AUTHORIZATION_FAILED), JSON.stringify(codes(opened)));
      await kafkaAdmin.deleteAcls({ filters: [read] } as never);
      // The request names no partition: only the session says what it reads.
      const refused = await shareFetch(1, false);
      assert.equal(refused.errorCode, ErrorCode.NONE);
      assert.deepEqual(codes(refused), [ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
    } finally {
      carol.destroy();
    }
  });

  test('kafkajs: a consumer without READ on its group gets GROUP_AUTHORIZATION_FAILED', async () => {
    await kafkaAdmin.createTopics({ topics: [{ topic: 'carol-reads' }] });
    // DESCRIBE on the group finds its coordinator (kafkajs hides FindCoordinator's errors); joining needs READ.
    await kafkaAdmin.createAcls({ acl: [binding(ResourceType.TOPIC, 'carol-reads', 'User:carol', AclOperation.READ), binding(ResourceType.GROUP, 'carol-group', 'User:carol', AclOperation.DESCRIBE)] } as never);
    const consumer = kafkaAs(broker, 'carol').consumer({ groupId: 'carol-group', retry: { retries: 0 } });
    await consumer.connect();
    try {
      const crashed = new Promise<{ type?: string }>((resolve) => consumer.on(consumer.events.CRASH, (e) => resolve(e.payload.error as { type?: string })));
      await consumer.subscribe({ topic: 'carol-reads', fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      const e = await crashed;
      assert.equal(e.type, 'GROUP_AUTHORIZATION_FAILED');
    } finally {
      await consumer.disconnect();
    }
  });

  test('Metadata hides the topics a principal may not describe; super.users see them all', async () => {
    await kafkaAdmin.createTopics({ topics: [{ topic: 'seen-ok' }, { topic: 'seen-denied' }] });
    await kafkaAdmin.createAcls({
      acl: [binding(ResourceType.TOPIC, 'seen-', 'User:carol', AclOperation.READ, { prefixed: true }), binding(ResourceType.TOPIC, 'seen-denied', 'User:carol', AclOperation.ALL, { deny: true })],
    } as never);
    const carol = kafkaAs(broker, 'carol').admin();
    await carol.connect();
    try {
      // READ implies DESCRIBE; DENY ALL takes it away again.
      const visible = await carol.listTopics();
      assert.ok(visible.includes('seen-ok'));
      assert.ok(!visible.includes(TOPIC));
      assert.ok(!visible.includes('seen-denied'));
      const all = await kafkaAdmin.listTopics();
      for (const t of [TOPIC, 'seen-ok', 'seen-denied']) assert.ok(all.includes(t), `the super user sees ${t}`);
    } finally {
      await carol.disconnect();
    }
    // Metadata v0 says "all topics" with an empty list: a refused topic must not turn a request into that.
    const bob = await rawAs(broker, 'bob');
    try {
      const v0 = await bob.request(apis.Metadata, 0, { ...apis.Metadata.request.create(), topics: [{ name: 'seen-ok', topicId: ZERO_UUID }] });
      assert.deepEqual(v0.topics.map((t) => [t.name, t.errorCode]), [['seen-ok', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
    } finally {
      bob.destroy();
    }
    const metrics = await broker.broker.metrics.registry.metrics();
    assert.match(metrics, /sluice_authorization_denials_total\{resource_type="TOPIC",operation="DESCRIBE"\} [1-9]/);
  });

  test('confluent-kafka (librdkafka): a producer is refused a topic without WRITE and served one with it', { skip: skipUnlessPresent(confluentKafka) }, async () => {
    await kafkaAdmin.createTopics({ topics: [{ topic: 'py-allowed' }, { topic: 'py-refused' }] });
    await kafkaAdmin.createAcls({ acl: [binding(ResourceType.TOPIC, 'py-allowed', 'User:carol', AclOperation.WRITE)] } as never);
    const script = `
import json, sys
from confluent_kafka import Producer
p = Producer({'bootstrap.servers': sys.argv[1], 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN', 'sasl.username': 'carol', 'sasl.password': 'carol-secret', 'message.timeout.ms': 20000})
out = {}
def report(topic):
    def cb(err, msg):
        out[topic] = err.name() if err else 'OK'
    return cb
for topic in ('py-allowed', 'py-refused'):
    p.produce(topic, b'v', callback=report(topic))
p.flush(30)
print(json.dumps(out))
`;
    const r = await runCommand(PYTHON, ['-B', '-c', script, broker.bootstrap], { timeoutMs: 45_000 });
    assertSucceeded(r, 'confluent-kafka producer');
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, string>;
    assert.deepEqual(out, { 'py-allowed': 'OK', 'py-refused': 'TOPIC_AUTHORIZATION_FAILED' });
  });
});

describe('ACL storage and switching', { timeout: 30_000 }, () => {
  test('ACLs survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-acls-'));
    try {
      let broker = await startTestBroker(aclSettings(), dir);
      let admin = await rawAs(broker, 'admin');
      const creation = { resourceType: ResourceType.TOPIC, resourceName: 'kept', resourcePatternType: PatternType.LITERAL, principal: 'User:carol', host: '10.0.0.1', operation: AclOperation.DESCRIBE, permissionType: Permission.DENY };
      assert.equal((await admin.request(apis.CreateAcls, 3, { creations: [creation] })).results[0].errorCode, ErrorCode.NONE);
      admin.destroy();
      await broker.stop();
      broker = await startTestBroker(aclSettings(), dir);
      admin = await rawAs(broker, 'admin');
      const res = await admin.request(apis.DescribeAcls, 3, { resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: AclOperation.ANY, permissionType: Permission.ANY });
      assert.deepEqual(res.resources, [{ resourceType: ResourceType.TOPIC, resourceName: 'kept', patternType: PatternType.LITERAL, acls: [{ principal: 'User:carol', host: '10.0.0.1', operation: AclOperation.DESCRIBE, permissionType: Permission.DENY }] }]);
      admin.destroy();
      await broker.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without authorizer.class.name the ACL APIs answer SECURITY_DISABLED and everyone may do everything', async () => {
    const broker = await startTestBroker();
    const c = await RawConnection.open(portOf(broker.bootstrap));
    try {
      const described = await c.request(apis.DescribeAcls, 3, { resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: AclOperation.ANY, permissionType: Permission.ANY });
      assert.equal(described.errorCode, ErrorCode.SECURITY_DISABLED);
      const md = await c.request(apis.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false });
      assert.equal(md.topics.length, 0);
      const cluster = await c.request(apis.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
      assert.equal(cluster.errorCode, ErrorCode.NONE);
      assert.notEqual(cluster.clusterAuthorizedOperations & (1 << AclOperation.ALTER), 0);
    } finally {
      c.destroy();
      await broker.stop();
    }
  });
});

describe('ACLs in a cluster', { skip: clusterSkip('loopback'), timeout: 90_000 }, () => {
  let cluster: TestCluster;

  before(async () => {
    // Open to everyone until a resource gets ACLs: the test makes its first ones anonymously.
    cluster = await startCluster({ brokers: 2, overrides: { ...FAST_CLUSTER, 'authorizer.class.name': 'sluice.acl', 'allow.everyone.if.no.acl.found': 'true' } });
  });

  after(async () => {
    await cluster?.close();
  });

  test('ACLs made at one broker are enforced by the other; followers replicate with CLUSTER_ACTION granted to their address', async () => {
    const admin = new Kafka({ clientId: 'acl-cluster', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    // Sluice's own client, which can address each broker by node id.
    const client = new KafkaClient({ brokers: cluster.bootstrap, clientId: 'acl-cluster' });
    try {
      await admin.createTopics({ topics: [{ topic: 'secret', numPartitions: 1, replicationFactor: 2 }, { topic: 'replicated', numPartitions: 1, replicationFactor: 2 }], waitForLeaders: true });
      // The brokers (and this test) connect from 127.0.0.1: their fetches need CLUSTER_ACTION once the cluster has ACLs.
      const creations = [
        { resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_NAME, resourcePatternType: PatternType.LITERAL, principal: 'User:ANONYMOUS', host: '127.0.0.1', operation: AclOperation.ALL, permissionType: Permission.ALLOW },
        { resourceType: ResourceType.TOPIC, resourceName: 'secret', resourcePatternType: PatternType.LITERAL, principal: 'User:*', host: '*', operation: AclOperation.DESCRIBE, permissionType: Permission.DENY },
      ];
      const created = await client.call(() => client.node(1), 'CreateAcls', { creations });
      assert.deepEqual(created.results.map((r) => r.errorCode), [ErrorCode.NONE, ErrorCode.NONE]);
      const secretAt2 = async () => (await client.call(() => client.node(2), 'Metadata', { ...apis.Metadata.request.create(), topics: [{ name: 'secret', topicId: ZERO_UUID }] })).topics[0].errorCode;
      // The second broker sees the bindings when etcd's watch brings them.
      let code = await secretAt2();
      for (let attempt = 0; attempt < 50 && code !== ErrorCode.TOPIC_AUTHORIZATION_FAILED; attempt++) {
        await new Promise((r) => setTimeout(r, 100));
        code = await secretAt2();
      }
      assert.equal(code, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      assert.deepEqual(await kafkajsRoundTrip(cluster.bootstrap, 'replicated', 5, 30_000), ['v0', 'v1', 'v2', 'v3', 'v4']);
      const [md] = (await admin.fetchTopicMetadata({ topics: ['replicated'] })).topics;
      assert.equal(md.partitions[0].isr.length, 2, 'the follower is in sync: its fetches were authorized');
    } finally {
      await client.close();
      await admin.disconnect();
    }
  });
});

describe('the authorizer', () => {
  const acl = (resourceType: number, resourceName: string, principal: string, operation: number, permission: number, opts: { prefixed?: boolean; host?: string } = {}) => ({
    resourceType,
    resourceName,
    patternType: opts.prefixed ? PatternType.PREFIXED : PatternType.LITERAL,
    principal,
    host: opts.host ?? '*',
    operation,
    permission,
  });
  const tableOf = (bindings: readonly AclImage[]): AclTable => {
    const table = new AclTable();
    bindings.forEach((b, i) => table.set(String(i), b));
    return table;
  };
  const authorizer = (bindings: AclImage[] | AclTable, settings: { superUsers?: string[]; allowEveryoneIfNoAclFound?: boolean } = {}) =>
    new Authorizer(() => (bindings instanceof AclTable ? bindings : tableOf(bindings)), () => ({ enabled: true, superUsers: settings.superUsers ?? [], allowEveryoneIfNoAclFound: settings.allowEveryoneIfNoAclFound ?? false }));
  const alice = { principal: 'User:alice', host: '10.0.0.1' };
  const { TOPIC: T, GROUP: G, CLUSTER: C } = ResourceType;
  const { READ, WRITE, DESCRIBE, ALTER_CONFIGS, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE, ALL } = AclOperation;

  test('hosts, the * literal and User:* match as Kafka matches them', () => {
    const a = authorizer([acl(T, 'orders', 'User:alice', READ, Permission.ALLOW, { host: '10.0.0.1' }), acl(T, '*', 'User:*', WRITE, Permission.ALLOW)]);
    assert.equal(a.authorize(alice, T, 'orders', READ), true);
    assert.equal(a.authorize({ ...alice, host: '10.0.0.2' }, T, 'orders', READ), false);
    assert.equal(a.authorize({ principal: 'User:bob', host: '10.0.0.9' }, T, 'anything', WRITE), true);
    assert.equal(a.authorize(alice, G, 'orders', READ), false, 'a topic ACL says nothing of a group');
  });

  test('implied operations come from ALLOW only; DENY ALL denies everything', () => {
    const a = authorizer([acl(T, 'x', 'User:alice', READ, Permission.ALLOW), acl(T, 'x', 'User:alice', READ, Permission.DENY), acl(T, 'cfg', 'User:alice', ALTER_CONFIGS, Permission.ALLOW)]);
    assert.equal(a.authorize(alice, T, 'x', READ), false);
    assert.equal(a.authorize(alice, T, 'x', DESCRIBE), true, 'DENY READ leaves the DESCRIBE that ALLOW READ implies');
    assert.equal(a.authorize(alice, T, 'cfg', DESCRIBE_CONFIGS), true);
    const denyAll = authorizer([acl(T, 'x', 'User:alice', READ, Permission.ALLOW), acl(T, 'x', 'User:*', ALL, Permission.DENY)]);
    assert.equal(denyAll.authorize(alice, T, 'x', DESCRIBE), false);
  });

  test('allow.everyone.if.no.acl.found opens only resources without any ACL; super users bypass all', () => {
    const a = authorizer([acl(T, 'closed', 'User:bob', READ, Permission.ALLOW)], { allowEveryoneIfNoAclFound: true, superUsers: ['User:root'] });
    assert.equal(a.authorize(alice, T, 'open', READ), true);
    assert.equal(a.authorize(alice, T, 'closed', READ), false);
    assert.equal(a.authorize({ principal: 'User:root', host: '1.2.3.4' }, T, 'closed', READ), true);
    assert.equal(authorizer([]).authorize(alice, T, 'open', READ), false, 'closed by default');
  });

  test('authorizeAny and authorized operations', () => {
    const a = authorizer([acl(T, 'logs-', 'User:alice', WRITE, Permission.ALLOW, { prefixed: true }), acl(C, CLUSTER_NAME, 'User:alice', IDEMPOTENT_WRITE, Permission.DENY)]);
    assert.equal(a.authorizeAny(alice, T, WRITE), true);
    assert.equal(authorizer([acl(T, 'logs-', 'User:alice', WRITE, Permission.ALLOW, { prefixed: true }), acl(T, 'logs', 'User:alice', WRITE, Permission.DENY, { prefixed: true })]).authorizeAny(alice, T, WRITE), false);
    assert.equal(a.authorizedOperations(alice, T, 'logs-1'), (1 << WRITE) | (1 << DESCRIBE));
    assert.equal(a.authorizedOperations(alice, C, CLUSTER_NAME), 0);
  });
});

describe('the authorizer at scale', () => {
  const { TOPIC: T, GROUP: G } = ResourceType;
  const { READ, WRITE, DESCRIBE, ALL } = AclOperation;
  const names = ['orders', 'orders-eu', 'ord', 'logs', 'logs-1', 'x', '*'];
  const principals = ['User:alice', 'User:bob', 'User:*'];
  const binding = fc.record({
    resourceType: fc.constantFrom(T, G),
    resourceName: fc.constantFrom(...names),
    patternType: fc.constantFrom(PatternType.LITERAL, PatternType.PREFIXED),
    principal: fc.constantFrom(...principals),
    host: fc.constantFrom('*', '10.0.0.1'),
    operation: fc.constantFrom(READ, WRITE, DESCRIBE, ALL),
    permission: fc.constantFrom(Permission.ALLOW, Permission.DENY),
  });

  /** Kafka's rules applied by a scan of every binding: the model the indexed authorizer must agree with. */
  function modelDecides(bindings: readonly AclImage[], who: { principal: string; host: string }, resourceType: number, name: string, operation: number, allowEveryone: boolean): boolean {
    const covering = bindings.filter(
      (a) => a.resourceType === resourceType && (a.patternType === PatternType.LITERAL ? a.resourceName === name || a.resourceName === '*' : name.startsWith(a.resourceName)),
    );
    const mine = covering.filter((a) => (a.principal === who.principal || a.principal === 'User:*') && (a.host === who.host || a.host === '*'));
    const exact = (a: AclImage) => a.operation === operation || a.operation === ALL;
    if (mine.some((a) => a.permission === Permission.DENY && exact(a))) return false;
    const implied: number[] = operation === DESCRIBE ? [READ, WRITE] : [];
    if (mine.some((a) => a.permission === Permission.ALLOW && (exact(a) || implied.includes(a.operation)))) return true;
    return covering.length === 0 && allowEveryone;
  }

  test('indexed checks agree with a scan of every binding, and follow changes to the bindings', () => {
    fc.assert(
      fc.property(fc.array(binding, { maxLength: 60 }), fc.boolean(), (bindings, allowEveryone) => {
        const table = new AclTable();
        bindings.forEach((b, i) => table.set(String(i), b));
        const a = new Authorizer(() => table, () => ({ enabled: true, superUsers: [], allowEveryoneIfNoAclFound: allowEveryone }));
        const check = (live: readonly AclImage[]) => {
          for (const principal of ['User:alice', 'User:carol']) {
            for (const resourceType of [T, G]) {
              for (const name of [...names, 'orders-us', 'zzz']) {
                for (const operation of [READ, WRITE, DESCRIBE]) {
                  const who = { principal, host: '10.0.0.1' };
                  assert.equal(a.authorize(who, resourceType, name, operation, true), modelDecides(live, who, resourceType, name, operation, allowEveryone), `${principal} ${operation} ${resourceType}:${name}`);
                }
              }
            }
          }
        };
        check(bindings);
        // Half of them removed: the next check sees the change.
        const kept = bindings.filter((_, i) => i % 2 === 0);
        bindings.forEach((_, i) => i % 2 === 1 && table.delete(String(i)));
        check(kept);
      }),
      { numRuns: 150 },
    );
  });

  test('10,000 topic ACLs: an all-topics check looks at the bindings of each topic alone', () => {
    const table = new AclTable();
    for (let i = 0; i < 10_000; i++) {
      table.set(`t${i}`, { resourceType: T, resourceName: `topic-${i}`, patternType: PatternType.LITERAL, principal: `User:u${i % 100}`, host: '*', operation: READ, permission: Permission.ALLOW });
    }
    let scans = 0;
    const counted = new Proxy(table, {
      get(target, prop, receiver) {
        if (prop === 'values') scans++;
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const a = new Authorizer(() => counted, () => ({ enabled: true, superUsers: [], allowEveryoneIfNoAclFound: false }));
    let allowed = 0;
    for (let i = 0; i < 10_000; i++) if (a.authorize({ principal: 'User:u7', host: '1.1.1.1' }, T, `topic-${i}`, DESCRIBE, true)) allowed++;
    assert.equal(allowed, 100);
    assert.equal(scans, 1, 'the bindings were read once, into the index, for 10,000 checks');
  });
});
