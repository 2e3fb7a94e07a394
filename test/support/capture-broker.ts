import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  ApiKey,
  apiByKey,
  createApiVersionsResponse,
  createFetchResponse,
  createFetchResponsePartitionData,
  createFindCoordinatorResponse,
  createFindCoordinatorResponseCoordinator,
  createHeartbeatResponse,
  createInitProducerIdResponse,
  createJoinGroupResponse,
  createLeaveGroupResponse,
  createListOffsetsResponse,
  createListOffsetsResponseListOffsetsPartitionResponse,
  createMetadataResponse,
  createMetadataResponsePartition,
  createMetadataResponseTopic,
  createOffsetCommitResponse,
  createOffsetFetchResponse,
  createOffsetFetchResponsePartition,
  createOffsetFetchResponsePartitions,
  createProduceResponse,
  createProduceResponsePartitionProduceResponse,
  createSyncGroupResponse,
  type FetchRequest,
  type FindCoordinatorRequest,
  type JoinGroupRequest,
  type LeaveGroupRequest,
  type ListOffsetsRequest,
  type MetadataRequest,
  type OffsetCommitRequest,
  type OffsetFetchRequest,
  type ProduceRequest,
  type SyncGroupRequest,
} from '../../src/protocol/generated/index.js';
import { decodeRequestFrame, encodeResponseFrame, type DecodedRequest } from '../../src/protocol/headers.js';

/**
 * A stand-in broker for capturing what real Kafka clients put on the wire. It keeps every request
 * frame exactly as received and answers, with Sluice's own codec, only as much as a producer and a
 * consumer-group member need to get through their first requests: one broker (node 1) that leads
 * every partition of every topic it is asked about and coordinates every group. Nothing is stored.
 */

export const BROKER_NODE_ID = 1;
/** What InitProducerId hands out, so idempotent batches can be checked against it. */
export const ASSIGNED_PRODUCER_ID = 4242n;
export const ASSIGNED_PRODUCER_EPOCH = 0;
/** Every group gets this generation from JoinGroup. */
export const GROUP_GENERATION_ID = 1;

/** The APIs answered here. ApiVersions advertises exactly these, at every version the codec has. */
const ANSWERED_APIS = [
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.Metadata,
  ApiKey.OffsetCommit,
  ApiKey.OffsetFetch,
  ApiKey.FindCoordinator,
  ApiKey.JoinGroup,
  ApiKey.Heartbeat,
  ApiKey.LeaveGroup,
  ApiKey.SyncGroup,
  ApiKey.ApiVersions,
  ApiKey.InitProducerId,
];

/** A Fetch is held at most this long before its empty answer, so an idle consumer does not spin. */
const MAX_FETCH_HOLD_MS = 200;
const UNSUPPORTED_VERSION = 35;

export interface CapturedRequest {
  /** Connections are numbered from 1 in the order they were accepted. */
  connection: number;
  /** The frame exactly as sent, without its 4-byte size prefix. */
  frame: Buffer;
  apiKey: number;
  apiVersion: number;
  /** Decoded by Sluice's codec; absent when decoding threw (see CaptureBroker.errors). */
  decoded?: DecodedRequest;
}

export interface CaptureBroker {
  readonly host: string;
  readonly port: number;
  /** Every complete request frame received, in arrival order. */
  readonly requests: readonly CapturedRequest[];
  /** Problems on the broker's side: undecodable requests, unanswerable ones, encode failures. */
  readonly errors: readonly string[];
  /** Resolves with the first request (already captured or yet to come) the predicate accepts. */
  waitFor(what: string, predicate: (request: CapturedRequest) => boolean, timeoutMs: number): Promise<CapturedRequest>;
  /** The requests so far and any broker errors, for failure messages. */
  summary(): string;
  close(): Promise<void>;
}

interface GroupState {
  memberId: string;
  protocolName: string;
  /** The leader's assignments from SyncGroup, by member id. */
  assignments: Map<string, Buffer>;
}

interface Waiter {
  predicate: (request: CapturedRequest) => boolean;
  resolve: (request: CapturedRequest) => void;
  reject: (err: Error) => void;
}

/** The member id JoinGroup hands to a client that joins without one. */
export function memberIdFor(clientId: string | null): string {
  return `${clientId ?? 'client'}-member-1`;
}

/** A stable topic id per name, so Fetch by topic id (v13+) can be mapped back to the name. */
export function topicIdFor(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export async function startCaptureBroker(options: { partitionsPerTopic?: number } = {}): Promise<CaptureBroker> {
  const partitionsPerTopic = options.partitionsPerTopic ?? 1;
  const host = '127.0.0.1';
  const requests: CapturedRequest[] = [];
  const errors: string[] = [];
  const waiters = new Set<Waiter>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const groups = new Map<string, GroupState>();
  const knownTopics = new Set<string>();
  let connections = 0;
  let closed = false;
  let port = 0;

  const server: Server = createServer((socket) => {
    if (closed) {
      socket.destroy();
      return;
    }
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A client that goes away mid-request is not this broker's problem.
    socket.on('error', () => {});
    let pending: Buffer = Buffer.alloc(0);
    // Responses leave in request order, as from a real broker, even when a Fetch is held.
    let outbox: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 4) {
          // Too short for an api key and version: nothing to capture, and no way to resynchronise.
          errors.push(`connection ${connection}: request frame of ${size} bytes`);
          socket.destroy();
          return;
        }
        if (pending.length < 4 + size) break;
        const frame = Buffer.from(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
        const response = handleFrame(connection, frame);
        if (response === null) {
          socket.destroy();
          return;
        }
        outbox = outbox.then(async () => {
          const bytes = await response;
          if (bytes !== undefined && !socket.destroyed) socket.write(bytes);
        });
      }
    });
  });

  /** Records the frame; returns its response (undefined: none due), or null to drop the connection. */
  function handleFrame(connection: number, frame: Buffer): Promise<Buffer | undefined> | null {
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const request: CapturedRequest = { connection, frame, apiKey, apiVersion };
    let response: Promise<Buffer | undefined> | null = null;
    try {
      request.decoded = decodeRequestFrame(frame);
      response = respond(request.decoded);
    } catch (err) {
      const name = apiByKey(apiKey)?.name ?? `api ${apiKey}`;
      errors.push(`${name} v${apiVersion} on connection ${connection}: ${err instanceof Error ? err.stack : String(err)}`);
    }
    requests.push(request);
    for (const waiter of waiters) {
      if (waiter.predicate(request)) {
        waiters.delete(waiter);
        waiter.resolve(request);
      }
    }
    return response;
  }

  function respond({ header, body }: DecodedRequest): Promise<Buffer | undefined> | null {
    const { requestApiKey: apiKey, requestApiVersion: version, correlationId } = header;
    const frameOf = (response: unknown): Promise<Buffer> =>
      Promise.resolve(encodeResponseFrame(correlationId, apiKey, version, response));
    switch (apiKey) {
      case ApiKey.ApiVersions:
        return Promise.resolve(apiVersions(correlationId, version));
      case ApiKey.Metadata:
        return frameOf(metadata(version, body as MetadataRequest));
      case ApiKey.Produce: {
        const request = body as ProduceRequest;
        // acks=0: the producer expects no answer at all.
        return request.acks === 0 ? Promise.resolve(undefined) : frameOf(produce(request));
      }
      case ApiKey.InitProducerId: {
        const response = createInitProducerIdResponse();
        response.producerId = ASSIGNED_PRODUCER_ID;
        response.producerEpoch = ASSIGNED_PRODUCER_EPOCH;
        return frameOf(response);
      }
      case ApiKey.FindCoordinator:
        return frameOf(findCoordinator(version, body as FindCoordinatorRequest));
      case ApiKey.JoinGroup:
        return frameOf(joinGroup(header.clientId, body as JoinGroupRequest));
      case ApiKey.SyncGroup:
        return frameOf(syncGroup(body as SyncGroupRequest));
      case ApiKey.Heartbeat:
        return frameOf(createHeartbeatResponse());
      case ApiKey.LeaveGroup:
        return frameOf(leaveGroup(body as LeaveGroupRequest));
      case ApiKey.OffsetFetch:
        return frameOf(offsetFetch(version, body as OffsetFetchRequest));
      case ApiKey.OffsetCommit:
        return frameOf(offsetCommit(body as OffsetCommitRequest));
      case ApiKey.ListOffsets:
        return frameOf(listOffsets(version, body as ListOffsetsRequest));
      case ApiKey.Fetch: {
        const request = body as FetchRequest;
        const response = encodeResponseFrame(correlationId, apiKey, version, fetch(request));
        return new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            resolve(response);
          }, Math.min(Math.max(request.maxWaitMs, 0), MAX_FETCH_HOLD_MS));
          timers.add(timer);
        });
      }
      default:
        errors.push(`${apiByKey(apiKey)?.name ?? `api ${apiKey}`} v${version}: not advertised, so not answered`);
        return null;
    }
  }

  function apiVersions(correlationId: number, version: number): Buffer {
    const response = createApiVersionsResponse();
    response.apiKeys = ANSWERED_APIS.map((key) => {
      const api = apiByKey(key);
      if (!api) throw new Error(`no codec for api key ${key}`);
      return { apiKey: key, minVersion: api.minVersion, maxVersion: api.maxVersion };
    });
    const max = apiByKey(ApiKey.ApiVersions)?.maxVersion ?? 0;
    if (version > max) {
      // A newer client than the codec: answer in v0 so it can read the error and retry lower.
      response.errorCode = UNSUPPORTED_VERSION;
      return encodeResponseFrame(correlationId, ApiKey.ApiVersions, 0, response);
    }
    return encodeResponseFrame(correlationId, ApiKey.ApiVersions, version, response);
  }

  function metadata(version: number, request: MetadataRequest) {
    // A null list (or, before v1, an empty one) asks for every topic.
    const names =
      request.topics === null || (version === 0 && request.topics.length === 0)
        ? [...knownTopics]
        : request.topics.map((t) => t.name ?? [...knownTopics].find((n) => topicIdFor(n) === t.topicId) ?? '');
    const response = createMetadataResponse();
    response.brokers = [{ nodeId: BROKER_NODE_ID, host, port, rack: null }];
    response.clusterId = 'sluice-capture';
    response.controllerId = BROKER_NODE_ID;
    response.topics = names.map((name) => {
      knownTopics.add(name);
      const topic = createMetadataResponseTopic();
      topic.name = name;
      topic.topicId = topicIdFor(name);
      topic.partitions = Array.from({ length: partitionsPerTopic }, (_, partitionIndex) => {
        const partition = createMetadataResponsePartition();
        partition.partitionIndex = partitionIndex;
        partition.leaderId = BROKER_NODE_ID;
        partition.leaderEpoch = 0;
        partition.replicaNodes = [BROKER_NODE_ID];
        partition.isrNodes = [BROKER_NODE_ID];
        return partition;
      });
      return topic;
    });
    return response;
  }

  function produce(request: ProduceRequest) {
    const response = createProduceResponse();
    response.responses = request.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((p) => {
        const partition = createProduceResponsePartitionProduceResponse();
        partition.index = p.index;
        partition.baseOffset = 0n;
        partition.logStartOffset = 0n;
        return partition;
      }),
    }));
    return response;
  }

  function findCoordinator(version: number, request: FindCoordinatorRequest) {
    const response = createFindCoordinatorResponse();
    // Versions before 4 name one coordinator; later ones one per key asked for.
    if (version < 4) {
      response.nodeId = BROKER_NODE_ID;
      response.host = host;
      response.port = port;
      return response;
    }
    response.coordinators = request.coordinatorKeys.map((key) => {
      const coordinator = createFindCoordinatorResponseCoordinator();
      coordinator.key = key;
      coordinator.nodeId = BROKER_NODE_ID;
      coordinator.host = host;
      coordinator.port = port;
      return coordinator;
    });
    return response;
  }

  function joinGroup(clientId: string | null, request: JoinGroupRequest) {
    const [protocol] = request.protocols;
    if (protocol === undefined) throw new Error(`JoinGroup for ${request.groupId} offers no protocol`);
    const memberId = request.memberId !== '' ? request.memberId : memberIdFor(clientId);
    groups.set(request.groupId, { memberId, protocolName: protocol.name, assignments: new Map() });
    const response = createJoinGroupResponse();
    response.generationId = GROUP_GENERATION_ID;
    response.protocolType = request.protocolType;
    response.protocolName = protocol.name;
    response.leader = memberId;
    response.memberId = memberId;
    // The only member, so the leader: its subscription comes back for it to compute the assignment.
    response.members = [{ memberId, groupInstanceId: request.groupInstanceId, metadata: protocol.metadata }];
    return response;
  }

  function syncGroup(request: SyncGroupRequest) {
    const group = groups.get(request.groupId);
    for (const a of request.assignments) group?.assignments.set(a.memberId, a.assignment);
    const response = createSyncGroupResponse();
    response.protocolType = request.protocolType;
    response.protocolName = request.protocolName ?? group?.protocolName ?? null;
    response.assignment = group?.assignments.get(request.memberId) ?? Buffer.alloc(0);
    return response;
  }

  function leaveGroup(request: LeaveGroupRequest) {
    const response = createLeaveGroupResponse();
    response.members = request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: 0 }));
    return response;
  }

  function offsetFetch(version: number, request: OffsetFetchRequest) {
    // Nothing was ever committed: -1 for every partition asked about.
    const response = createOffsetFetchResponse();
    if (version < 8) {
      response.topics = (request.topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          const p = createOffsetFetchResponsePartition();
          p.partitionIndex = partitionIndex;
          p.committedOffset = -1n;
          p.metadata = '';
          return p;
        }),
      }));
    } else {
      response.groups = request.groups.map((g) => ({
        groupId: g.groupId,
        errorCode: 0,
        topics: (g.topics ?? []).map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((partitionIndex) => {
            const p = createOffsetFetchResponsePartitions();
            p.partitionIndex = partitionIndex;
            p.committedOffset = -1n;
            p.metadata = '';
            return p;
          }),
        })),
      }));
    }
    return response;
  }

  function offsetCommit(request: OffsetCommitRequest) {
    const response = createOffsetCommitResponse();
    response.topics = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 0 })),
    }));
    return response;
  }

  function listOffsets(version: number, request: ListOffsetsRequest) {
    // Every partition is empty: whatever was asked, offset 0.
    const response = createListOffsetsResponse();
    response.topics = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const partition = createListOffsetsResponseListOffsetsPartitionResponse();
        partition.partitionIndex = p.partitionIndex;
        if (version === 0) {
          partition.oldStyleOffsets = [0n];
        } else {
          partition.offset = 0n;
        }
        return partition;
      }),
    }));
    return response;
  }

  function fetch(request: FetchRequest) {
    const response = createFetchResponse();
    response.responses = request.topics.map((t) => ({
      topic: t.topic,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => {
        const partition = createFetchResponsePartitionData();
        partition.partitionIndex = p.partition;
        partition.highWatermark = 0n;
        partition.lastStableOffset = 0n;
        partition.logStartOffset = 0n;
        partition.records = Buffer.alloc(0);
        return partition;
      }),
    }));
    return response;
  }

  function summary(): string {
    const seen = requests.map((r) => `${apiByKey(r.apiKey)?.name ?? r.apiKey} v${r.apiVersion}`).join(', ');
    return `captured: [${seen}]${errors.length > 0 ? `\nbroker errors:\n${errors.join('\n')}` : ''}`;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('capture broker has no TCP address');
  port = address.port;

  return {
    host,
    port,
    requests,
    errors,
    summary,
    waitFor(what, predicate, timeoutMs) {
      const seen = requests.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          predicate,
          resolve: (request) => {
            clearTimeout(timer);
            resolve(request);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${summary()}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const waiter of waiters) waiter.reject(new Error('capture broker closed'));
      waiters.clear();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
