import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { MessageCodec } from '../../src/protocol/codec-runtime.js';
import { decompress } from '../../src/protocol/compression/index.js';
import {
  ApiKey,
  ConsumerProtocolAssignmentCodec,
  ConsumerProtocolSubscriptionCodec,
  apiByKey,
  type ApiVersionsRequest,
  type FetchRequest,
  type FindCoordinatorRequest,
  type HeartbeatRequest,
  type InitProducerIdRequest,
  type JoinGroupRequest,
  type LeaveGroupRequest,
  type ListOffsetsRequest,
  type MetadataRequest,
  type OffsetFetchRequest,
  type ProduceRequest,
  type SyncGroupRequest,
} from '../../src/protocol/generated/index.js';
import type { RequestHeader } from '../../src/protocol/generated/messages/request-header.js';
import { encodeRequestFrame } from '../../src/protocol/headers.js';
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  RECORD_BATCH_HEADER_SIZE,
  batchSpans,
  decodeRecordBatch,
  encodeRecordBatch,
} from '../../src/protocol/records/index.js';
import {
  ASSIGNED_PRODUCER_EPOCH,
  ASSIGNED_PRODUCER_ID,
  GROUP_GENERATION_ID,
  memberIdFor,
  topicIdFor,
  type CapturedRequest,
} from './capture-broker.js';
import { COMPRESSIONS, plannedTopics, type ClientPlan, type PlannedSend } from './client-plan.js';
import type { ClientCapture } from './real-client-capture.js';

/**
 * Checks of a capture against its plan. Each throws an AssertionError naming the request (api,
 * version, connection) it disagrees with.
 */

/** Fields a client chooses by itself, where the clients tested differ. */
export interface ClientExpectations {
  /** What a fresh idempotent producer's InitProducerId carries (the ids from v3). */
  initProducerId: { transactionTimeoutMs: number; producerId: bigint; producerEpoch: number };
}

interface Decoded<T> {
  request: CapturedRequest;
  header: RequestHeader;
  body: T;
  /** For messages: "JoinGroup v9 (connection 3)". */
  where: string;
}

function nameOf(apiKey: number): string {
  return apiByKey(apiKey)?.name ?? `api ${apiKey}`;
}

function whereOf(request: CapturedRequest): string {
  return `${nameOf(request.apiKey)} v${request.apiVersion} (connection ${request.connection})`;
}

/** The decoded requests of one api, in arrival order. Undecoded ones fail checkEveryRequestDecodes. */
function requestsOf<T>(capture: ClientCapture, apiKey: number): Decoded<T>[] {
  return capture.requests
    .filter((r) => r.apiKey === apiKey && r.decoded !== undefined)
    .map((r) => ({ request: r, header: r.decoded!.header, body: r.decoded!.body as T, where: whereOf(r) }));
}

function atLeastOne<T>(capture: ClientCapture, apiKey: number): Decoded<T>[] {
  const found = requestsOf<T>(capture, apiKey);
  assert.ok(found.length > 0, `the client sent no ${nameOf(apiKey)} request`);
  return found;
}

/** Bytes in a form that diffs well: short ones in hex, long ones by size and digest. */
function bytesView(b: Buffer | null): string | null {
  if (b === null) return null;
  if (b.length <= 64) return `hex:${b.toString('hex')}`;
  return `${b.length} bytes, sha256 ${createHash('sha256').update(b).digest('hex')}`;
}

function sizePrefixed(frame: Buffer): Buffer {
  const out = Buffer.alloc(4 + frame.length);
  out.writeInt32BE(frame.length, 0);
  frame.copy(out, 4);
  return out;
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function hexAround(b: Buffer, at: number): string {
  return b.subarray(Math.max(0, at - 16), at + 16).toString('hex');
}

export function checkEveryRequestDecodes(capture: ClientCapture): void {
  assert.deepEqual(capture.brokerErrors, [], 'the capture broker could not decode or answer some requests');
  assert.ok(capture.requests.length > 0, 'nothing was captured');
  for (const request of capture.requests) {
    assert.ok(request.decoded, `${whereOf(request)} did not decode`);
    const { header } = request.decoded;
    assert.equal(header.requestApiKey, request.apiKey);
    assert.equal(header.requestApiVersion, request.apiVersion);
    assert.equal(header.clientId, capture.plan.clientId, `${whereOf(request)} client id`);
  }
}

export function checkCorrelationIdsUniquePerConnection(capture: ClientCapture): void {
  const seen = new Map<string, string>();
  for (const request of capture.requests) {
    if (request.decoded === undefined) continue;
    const key = `${request.connection}:${request.decoded.header.correlationId}`;
    const earlier = seen.get(key);
    assert.equal(earlier, undefined, `${whereOf(request)} reuses the correlation id of ${earlier}`);
    seen.set(key, whereOf(request));
  }
}

/** Encoding what was decoded, at the same version, must give back the client's exact bytes. */
export function checkReencodesExactly(capture: ClientCapture): void {
  const mismatches: string[] = [];
  for (const request of capture.requests) {
    if (request.decoded === undefined) continue;
    const { header, body } = request.decoded;
    const sent = sizePrefixed(request.frame);
    const again = encodeRequestFrame(header, request.apiKey, request.apiVersion, body);
    if (!again.equals(sent)) {
      const at = firstDifference(sent, again);
      mismatches.push(
        `${whereOf(request)}: ${sent.length} bytes sent, ${again.length} re-encoded, first difference at byte ${at}\n` +
          `  sent:       ${hexAround(sent, at)}\n  re-encoded: ${hexAround(again, at)}`,
      );
    }
  }
  assert.deepEqual(mismatches, [], 'requests that do not re-encode to the bytes the client sent');
}

export function checkApiVersions(capture: ClientCapture): void {
  const requests = atLeastOne<ApiVersionsRequest>(capture, ApiKey.ApiVersions);
  const software = capture.facts.software;
  if (software !== undefined) {
    assert.ok(
      requests.some((r) => r.request.apiVersion >= 3),
      'the client reported its software name but never sent ApiVersions v3 or later',
    );
  }
  for (const { request, body, where } of requests) {
    if (request.apiVersion >= 3) {
      assert.ok(software, `${where} carries client software fields the client did not report`);
      assert.equal(body.clientSoftwareName, software.name, `${where} client software name`);
      assert.equal(body.clientSoftwareVersion, software.version, `${where} client software version`);
    } else {
      // The fields do not exist before v3: nothing may have been read into them.
      assert.equal(body.clientSoftwareName, '', `${where} client software name`);
      assert.equal(body.clientSoftwareVersion, '', `${where} client software version`);
    }
  }
}

export function checkMetadata(capture: ClientCapture): void {
  const planned = plannedTopics(capture.plan);
  const asked = new Set<string>();
  for (const { request, body, where } of atLeastOne<MetadataRequest>(capture, ApiKey.Metadata)) {
    // null asks for every topic (kafkajs does when an idempotent producer connects).
    for (const topic of body.topics ?? []) {
      assert.ok(topic.name !== null, `${where} names a topic by id only`);
      assert.ok(planned.has(topic.name), `${where} asks for topic ${topic.name}, which the plan does not name`);
      asked.add(topic.name);
    }
    // Both clients were told not to create topics; the flag exists from v4.
    if (request.apiVersion >= 4) assert.equal(body.allowAutoTopicCreation, false, `${where} allowAutoTopicCreation`);
    if (request.apiVersion >= 8) assert.equal(body.includeTopicAuthorizedOperations, false, `${where} includeTopicAuthorizedOperations`);
  }
  assert.deepEqual([...asked].sort(), [...planned].sort(), 'the topics asked about in Metadata');
}

/** Every send of the plan in order, with what its batch header must say about the producer. */
export function plannedSends(plan: ClientPlan): { send: PlannedSend; idempotent: boolean; baseSequence: number }[] {
  const out: { send: PlannedSend; idempotent: boolean; baseSequence: number }[] = [];
  for (const producer of plan.producers) {
    const sequences = new Map<string, number>();
    for (const send of producer.sends) {
      const key = `${send.topic}:${send.partition}`;
      const baseSequence = sequences.get(key) ?? 0;
      sequences.set(key, baseSequence + send.messages.length);
      out.push({ send, idempotent: producer.idempotent, baseSequence });
    }
  }
  return out;
}

export function checkProduceCount(capture: ClientCapture): void {
  const produced = requestsOf<ProduceRequest>(capture, ApiKey.Produce);
  assert.equal(produced.length, plannedSends(capture.plan).length, 'one Produce request per send call');
}

/**
 * The index-th send of the plan against the index-th Produce request: request fields, then its
 * one batch decoded through the records code, header and records, field by field. The records
 * are then encoded again and compared with the client's bytes (decompressed, for a compressed
 * batch), so nothing the decoder skipped or misread can go unnoticed.
 */
export function checkProduce(capture: ClientCapture, index: number): void {
  const { send, idempotent, baseSequence } = plannedSends(capture.plan)[index];
  const produced = requestsOf<ProduceRequest>(capture, ApiKey.Produce)[index];
  assert.ok(produced, `no Produce request for send ${index} (${send.topic}, ${send.compression})`);
  const { body, where } = produced;
  assert.equal(body.transactionalId, null, `${where} transactionalId`);
  assert.equal(body.acks, send.acks, `${where} acks`);
  assert.equal(body.timeoutMs, capture.plan.requestTimeoutMs, `${where} timeout`);
  assert.equal(body.topicData.length, 1, `${where} topic count`);
  const [topic] = body.topicData;
  assert.equal(topic.name, send.topic, `${where} topic`);
  assert.equal(topic.partitionData.length, 1, `${where} partition count`);
  const [partition] = topic.partitionData;
  assert.equal(partition.index, send.partition, `${where} partition`);
  assert.ok(Buffer.isBuffer(partition.records), `${where} records are not bytes`);
  const blob = partition.records;

  const spans = [...batchSpans(blob)];
  assert.equal(spans.length, 1, `${where} batch count`);
  const [span] = spans;
  assert.equal(span.offset + span.size, blob.length, `${where} batch size`);
  const batch = decodeRecordBatch(blob, { offset: span.offset });
  const expectedCompression = COMPRESSIONS.indexOf(send.compression);
  assert.equal(batch.magic, 2, `${where} magic`);
  assert.equal(batch.compression, expectedCompression, `${where} compression codec`);
  assert.equal(batch.timestampType, 'create', `${where} timestamp type`);
  assert.equal(batch.transactional, false, `${where} transactional`);
  assert.equal(batch.control, false, `${where} control`);
  assert.equal(batch.baseOffset, 0n, `${where} base offset`);
  assert.equal(batch.lastOffsetDelta, send.messages.length - 1, `${where} last offset delta`);
  if (idempotent) {
    assert.equal(batch.producerId, ASSIGNED_PRODUCER_ID, `${where} producer id`);
    assert.equal(batch.producerEpoch, ASSIGNED_PRODUCER_EPOCH, `${where} producer epoch`);
    assert.equal(batch.baseSequence, baseSequence, `${where} base sequence`);
  } else {
    assert.equal(batch.producerId, -1n, `${where} producer id`);
  }
  const timestamps = send.messages.map((m) => m.timestamp);
  const maxTimestamp = timestamps.reduce((a, b) => (b > a ? b : a));
  assert.equal(batch.maxTimestamp, maxTimestamp, `${where} max timestamp`);

  assert.deepEqual(
    batch.records.map((r) => ({
      attributes: r.attributes,
      offsetDelta: r.offsetDelta,
      timestamp: (batch.baseTimestamp + BigInt(r.timestampDelta)).toString(),
      key: bytesView(r.key),
      value: bytesView(r.value),
      headers: r.headers.map((h) => ({ key: h.key, value: bytesView(h.value) })),
    })),
    send.messages.map((m, i) => ({
      attributes: 0,
      offsetDelta: i,
      timestamp: m.timestamp.toString(),
      key: bytesView(m.key),
      value: bytesView(m.value),
      headers: m.headers.map((h) => ({ key: h.key, value: bytesView(h.value) })),
    })),
    `${where} records`,
  );

  const sentBatch = blob.subarray(span.offset, span.offset + span.size);
  const again = encodeRecordBatch({ ...batch, compression: 0 });
  if (expectedCompression === 0) {
    assert.ok(again.equals(sentBatch), `${where}: the decoded batch re-encodes differently (first difference at byte ${firstDifference(again, sentBatch)})`);
  } else {
    const sentRecords = decompress(expectedCompression, sentBatch.subarray(RECORD_BATCH_HEADER_SIZE), DEFAULT_MAX_DECOMPRESSED_BYTES);
    const againRecords = again.subarray(RECORD_BATCH_HEADER_SIZE);
    assert.ok(
      againRecords.equals(sentRecords),
      `${where}: the decoded records re-encode differently from the decompressed ones (first difference at byte ${firstDifference(againRecords, sentRecords)})`,
    );
  }
}

export function checkInitProducerId(capture: ClientCapture, expect: ClientExpectations): void {
  const expected = capture.plan.producers.filter((p) => p.idempotent).length;
  const requests = requestsOf<InitProducerIdRequest>(capture, ApiKey.InitProducerId);
  assert.equal(requests.length, expected, 'one InitProducerId per idempotent producer');
  for (const { request, body, where } of requests) {
    assert.equal(body.transactionalId, null, `${where} transactionalId`);
    assert.equal(body.transactionTimeoutMs, expect.initProducerId.transactionTimeoutMs, `${where} transactionTimeoutMs`);
    // Before v3 the fields are not on the wire, so they must hold their defaults.
    const identity = request.apiVersion >= 3 ? expect.initProducerId : { producerId: -1n, producerEpoch: -1 };
    assert.equal(body.producerId, identity.producerId, `${where} producerId`);
    assert.equal(body.producerEpoch, identity.producerEpoch, `${where} producerEpoch`);
  }
}

export function checkFindCoordinator(capture: ClientCapture): void {
  const { groupId } = capture.plan.group;
  for (const { request, body, where } of atLeastOne<FindCoordinatorRequest>(capture, ApiKey.FindCoordinator)) {
    assert.equal(body.keyType, 0, `${where} key type (group)`);
    if (request.apiVersion < 4) assert.equal(body.key, groupId, `${where} key`);
    else assert.deepEqual(body.coordinatorKeys, [groupId], `${where} coordinator keys`);
  }
}

/**
 * A consumer-protocol blob: an int16 version, then the message at that version. Decoded with
 * Sluice's codec and encoded again, so the check is as strict for these as for requests.
 */
function decodeVersioned<T>(codec: MessageCodec<T>, bytes: Buffer, where: string): { version: number; value: T } {
  assert.ok(bytes.length >= 2, `${where}: ${bytes.length} bytes cannot hold a version`);
  const version = bytes.readInt16BE(0);
  assert.ok(version >= codec.minVersion && version <= codec.maxVersion, `${where}: ${codec.name} version ${version} is unknown`);
  const value = codec.decode(bytes.subarray(2), version);
  const again = Buffer.concat([bytes.subarray(0, 2), codec.encode(value, version)]);
  assert.ok(again.equals(bytes), `${where}: ${codec.name} v${version} re-encodes differently: sent ${bytes.toString('hex')}, re-encoded ${again.toString('hex')}`);
  return { version, value };
}

export function checkJoinGroup(capture: ClientCapture): void {
  const { group } = capture.plan;
  const joins = atLeastOne<JoinGroupRequest>(capture, ApiKey.JoinGroup);
  // The broker accepts the first join, so there is no reason for a second.
  assert.equal(joins.length, 1, 'JoinGroup requests');
  const [{ request, body, where }] = joins;
  assert.equal(body.groupId, group.groupId, `${where} group id`);
  assert.equal(body.sessionTimeoutMs, group.sessionTimeoutMs, `${where} session timeout`);
  if (request.apiVersion >= 1) assert.equal(body.rebalanceTimeoutMs, group.rebalanceTimeoutMs, `${where} rebalance timeout`);
  assert.equal(body.memberId, '', `${where} member id of a first join`);
  assert.equal(body.groupInstanceId, null, `${where} group instance id`);
  assert.equal(body.protocolType, 'consumer', `${where} protocol type`);
  assert.ok(body.protocols.length > 0, `${where} offers no assignor`);
  const names = body.protocols.map((p) => p.name);
  assert.equal(new Set(names).size, names.length, `${where} offers an assignor twice: ${names.join(', ')}`);
  for (const protocol of body.protocols) {
    const at = `${where} assignor ${protocol.name}`;
    assert.notEqual(protocol.name, '', `${where} offers an unnamed assignor`);
    const { version, value } = decodeVersioned(ConsumerProtocolSubscriptionCodec, protocol.metadata, `${at} metadata`);
    assert.deepEqual([...value.topics].sort(), [...group.topics].sort(), `${at} subscribed topics`);
    if (version >= 1) assert.deepEqual(value.ownedPartitions, [], `${at} owned partitions before any assignment`);
    if (version >= 2) assert.equal(value.generationId, -1, `${at} generation before any join`);
  }
}

/** Every partition of every group topic: what the only member of the group must be given. */
function allGroupPartitions(plan: ClientPlan): string[] {
  return plan.group.topics.flatMap((topic) => Array.from({ length: plan.partitionsPerTopic }, (_, p) => `${topic}:${p}`)).sort();
}

export function checkSyncGroup(capture: ClientCapture): void {
  const { plan } = capture;
  const memberId = memberIdFor(plan.clientId);
  const [join] = atLeastOne<JoinGroupRequest>(capture, ApiKey.JoinGroup);
  const syncs = atLeastOne<SyncGroupRequest>(capture, ApiKey.SyncGroup);
  assert.equal(syncs.length, 1, 'SyncGroup requests');
  const [{ request, body, where }] = syncs;
  assert.equal(body.groupId, plan.group.groupId, `${where} group id`);
  assert.equal(body.generationId, GROUP_GENERATION_ID, `${where} generation`);
  assert.equal(body.memberId, memberId, `${where} member id`);
  assert.equal(body.groupInstanceId, null, `${where} group instance id`);
  if (request.apiVersion >= 5) {
    assert.equal(body.protocolType, 'consumer', `${where} protocol type`);
    assert.equal(body.protocolName, join.body.protocols[0].name, `${where} protocol name`);
  }
  // The leader (this member) hands out every partition, all to itself.
  assert.deepEqual(
    body.assignments.map((a) => a.memberId),
    [memberId],
    `${where} assignments`,
  );
  const { value } = decodeVersioned(ConsumerProtocolAssignmentCodec, body.assignments[0].assignment, `${where} assignment`);
  const assigned = value.assignedPartitions.flatMap((tp) => tp.partitions.map((p) => `${tp.topic}:${p}`)).sort();
  assert.deepEqual(assigned, allGroupPartitions(plan), `${where} assigned partitions`);
}

export function checkHeartbeat(capture: ClientCapture): void {
  const { plan } = capture;
  for (const { body, where } of atLeastOne<HeartbeatRequest>(capture, ApiKey.Heartbeat)) {
    assert.equal(body.groupId, plan.group.groupId, `${where} group id`);
    assert.equal(body.generationId, GROUP_GENERATION_ID, `${where} generation`);
    assert.equal(body.memberId, memberIdFor(plan.clientId), `${where} member id`);
    assert.equal(body.groupInstanceId, null, `${where} group instance id`);
  }
}

export function checkOffsetFetch(capture: ClientCapture): void {
  const { plan } = capture;
  for (const { request, body, where } of atLeastOne<OffsetFetchRequest>(capture, ApiKey.OffsetFetch)) {
    let groupId = body.groupId;
    let topics = body.topics;
    if (request.apiVersion >= 8) {
      assert.equal(body.groups.length, 1, `${where} group count`);
      groupId = body.groups[0].groupId;
      topics = body.groups[0].topics;
    }
    assert.equal(groupId, plan.group.groupId, `${where} group id`);
    assert.ok(topics !== null, `${where} asks for every topic`);
    const asked = topics.flatMap((t) => t.partitionIndexes.map((p) => `${t.name}:${p}`)).sort();
    assert.deepEqual(asked, allGroupPartitions(plan), `${where} partitions`);
  }
}

export function checkListOffsets(capture: ClientCapture): void {
  const { plan } = capture;
  for (const { body, where } of atLeastOne<ListOffsetsRequest>(capture, ApiKey.ListOffsets)) {
    assert.equal(body.replicaId, -1, `${where} replica id of a consumer`);
    const asked = body.topics.flatMap((t) => t.partitions.map((p) => `${t.name}:${p.partitionIndex}`)).sort();
    assert.deepEqual(asked, allGroupPartitions(plan), `${where} partitions`);
    for (const t of body.topics) {
      for (const p of t.partitions) assert.equal(p.timestamp, -1n, `${where} ${t.name}:${p.partitionIndex} asks for the latest offset`);
    }
  }
}

export function checkFetch(capture: ClientCapture): void {
  const { plan } = capture;
  const byId = new Map(plan.group.topics.map((t) => [topicIdFor(t), t]));
  const all = new Set(allGroupPartitions(plan));
  for (const { request, body, where } of atLeastOne<FetchRequest>(capture, ApiKey.Fetch)) {
    const replicaId = request.apiVersion >= 15 ? body.replicaState.replicaId : body.replicaId;
    assert.equal(replicaId, -1, `${where} replica id of a consumer`);
    assert.equal(body.maxWaitMs, plan.group.maxWaitMs, `${where} max wait`);
    assert.equal(body.minBytes, plan.group.minBytes, `${where} min bytes`);
    if (request.apiVersion >= 3) assert.equal(body.maxBytes, plan.group.maxBytes, `${where} max bytes`);
    assert.ok(body.topics.length > 0, `${where} fetches nothing`);
    for (const t of body.topics) {
      // Topic ids replace names from v13.
      const name = request.apiVersion >= 13 ? byId.get(t.topicId) : t.topic;
      assert.ok(name !== undefined, `${where} fetches unknown topic id ${t.topicId}`);
      for (const p of t.partitions) {
        assert.ok(all.has(`${name}:${p.partition}`), `${where} fetches ${name}:${p.partition}, which the member was not assigned`);
        // ListOffsets answered 0 for every partition, and nothing has been fetched since.
        assert.equal(p.fetchOffset, 0n, `${where} ${name}:${p.partition} fetch offset`);
        assert.equal(p.partitionMaxBytes, plan.group.maxBytesPerPartition, `${where} ${name}:${p.partition} max bytes`);
      }
    }
  }
}

export function checkLeaveGroup(capture: ClientCapture): void {
  const { plan } = capture;
  const memberId = memberIdFor(plan.clientId);
  for (const { request, body, where } of atLeastOne<LeaveGroupRequest>(capture, ApiKey.LeaveGroup)) {
    assert.equal(body.groupId, plan.group.groupId, `${where} group id`);
    if (request.apiVersion >= 3) assert.deepEqual(body.members.map((m) => m.memberId), [memberId], `${where} members`);
    else assert.equal(body.memberId, memberId, `${where} member id`);
  }
}

/** Every api the client sent, so a test can insist each one is covered by a check above. */
export function apisSent(capture: ClientCapture): string[] {
  return [...new Set(capture.requests.map((r) => nameOf(r.apiKey)))].sort();
}
