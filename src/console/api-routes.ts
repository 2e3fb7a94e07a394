import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ConnectionError } from '../client/connection.js';
import { KafkaError } from '../client/kafka-client.js';
import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import type { BrokerWriter } from './broker-writer.js';
import type { ByteEncoding } from './bytes-view.js';
import { clusterView } from './cluster-view.js';
import type { ConsoleBroker } from './console-broker.js';
import { groupDetail, groupSummaries } from './groups-view.js';
import { overview } from './overview.js';
import { queuesView } from './queues-view.js';
import { browseRecords, type BrowseFrom } from './record-browser.js';
import { refusal } from './request-guard.js';
import type { ThroughputSampler } from './throughput.js';
import { topicDetail, topicSummaries } from './topics-view.js';
import { transactionsView } from './transactions-view.js';

export interface ApiDeps {
  broker: ConsoleBroker;
  sampler: ThroughputSampler;
  writer: BrokerWriter;
  /** Where the console is bound, for the request guard. */
  boundHost: string;
}

const MAX_PAGE = 500;

/** A client mistake found after schema validation, answered with its status. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** How a Kafka error from the console's own broker reads over HTTP. */
function statusOfKafkaError(e: KafkaError): number {
  if (e.errorName === 'TOPIC_ALREADY_EXISTS') return 409;
  if (e.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') return 404;
  // The broker's disk or file descriptors, or the partition's leadership, not the request, are at fault.
  if (e.errorName === 'KAFKA_STORAGE_ERROR' || e.errorName === 'LEADER_NOT_AVAILABLE' || e.errorName === 'NOT_LEADER_OR_FOLLOWER') return 503;
  return 400;
}

function sendError(reply: FastifyReply, e: FastifyError | Error): FastifyReply {
  if ('validation' in e && e.validation) return reply.code(400).send({ error: e.message });
  if (e instanceof ApiError) return reply.code(e.status).send({ error: e.message });
  if (e instanceof KafkaError) return reply.code(statusOfKafkaError(e)).send({ error: e.message, code: e.errorName });
  if (e instanceof ConnectionError) return reply.code(502).send({ error: `the broker did not answer: ${e.message}` });
  const status = 'statusCode' in e && typeof e.statusCode === 'number' && e.statusCode < 500 ? e.statusCode : 500;
  if (status === 500) log.error({ err: e }, 'console API request failed');
  return reply.code(status).send({ error: status === 500 ? 'internal error (see the broker log)' : e.message });
}

/** The forms send text; base64 and hex let the API carry any bytes. */
type InputEncoding = 'utf8' | ByteEncoding;

const INPUT_PATTERNS: Record<InputEncoding, RegExp> = {
  utf8: /^/,
  hex: /^(?:[0-9a-f]{2})*$/i,
  base64: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
};

/** Buffer.from drops what it cannot decode without a word, so bad input is refused first. */
function bytesOf(text: string | null | undefined, encoding: InputEncoding, field: string): Buffer | null {
  if (text === null || text === undefined) return null;
  if (!INPUT_PATTERNS[encoding].test(text)) throw new ApiError(400, `${field} is not valid ${encoding}`);
  return Buffer.from(text, encoding);
}

const nullableString = { type: ['string', 'null'] } as const;
const topicParams = { type: 'object', properties: { topic: { type: 'string' } }, required: ['topic'] } as const;

interface ProduceBody {
  partition?: number;
  key?: string | null;
  value?: string | null;
  headers?: { key: string; value?: string | null }[];
  encoding?: InputEncoding;
}

interface RecordsQuery {
  offset?: number;
  timestamp?: number;
  limit: number;
  encoding: ByteEncoding;
}

/** The REST API under /api: in-process reads of the broker's state, writes through BrokerWriter. */
export function apiRoutes(deps: ApiDeps) {
  const { broker, sampler, writer } = deps;
  return async (api: FastifyInstance): Promise<void> => {
    api.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      const why = refusal(deps.boundHost, { method: req.method, host: req.headers.host, origin: typeof origin === 'string' ? origin : undefined });
      if (why) return reply.code(403).send({ error: why });
    });
    api.setErrorHandler((e: FastifyError, _req, reply) => sendError(reply, e));
    api.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no API at ${req.method} ${req.url}` }));

    api.get('/overview', async () => overview(broker, sampler));

    api.get('/cluster', async () => clusterView(broker, sampler));

    api.get('/topics', async () => topicSummaries(broker));

    api.post<{ Body: { name: string; partitions?: number; replicationFactor?: number; configs?: Record<string, string> } }>(
      '/topics',
      {
        schema: {
          body: {
            type: 'object',
            properties: {
              name: { type: 'string', minLength: 1 },
              partitions: { type: 'integer', minimum: 1 },
              replicationFactor: { type: 'integer', minimum: 1, maximum: 32767 },
              configs: { type: 'object', additionalProperties: { type: 'string' } },
            },
            required: ['name'],
            additionalProperties: false,
          },
        },
      },
      async (req, reply) => {
        const { name, partitions = -1, replicationFactor = -1, configs = {} } = req.body;
        await writer.createTopic(name, partitions, replicationFactor, configs);
        return reply.code(201).send(topicDetail(broker, name));
      },
    );

    api.get<{ Params: { topic: string } }>('/topics/:topic', { schema: { params: topicParams } }, async (req) => {
      const detail = topicDetail(broker, req.params.topic);
      if (!detail) throw new ApiError(404, `no topic ${req.params.topic}`);
      return detail;
    });

    api.get<{ Params: { topic: string; partition: number }; Querystring: RecordsQuery }>(
      '/topics/:topic/partitions/:partition/records',
      {
        schema: {
          params: { type: 'object', properties: { topic: { type: 'string' }, partition: { type: 'integer', minimum: 0 } }, required: ['topic', 'partition'] },
          querystring: {
            type: 'object',
            properties: {
              offset: { type: 'integer', minimum: 0 },
              timestamp: { type: 'integer' },
              limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
              encoding: { type: 'string', enum: ['base64', 'hex'], default: 'base64' },
            },
            additionalProperties: false,
          },
        },
      },
      async (req) => {
        const { topic, partition: index } = req.params;
        const { offset, timestamp, limit, encoding } = req.query;
        if (offset !== undefined && timestamp !== undefined) throw new ApiError(400, 'give offset or timestamp, not both');
        const partition = broker.partitions.lookup(topic, index);
        if (partition === ErrorCode.KAFKA_STORAGE_ERROR) throw new ApiError(503, `partition ${topic}-${index} is offline: its log could not be opened, or its directory failed`);
        if (partition === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
          const replicas = broker.metadata.partition(topic, index)?.replicas.join(', ');
          throw new ApiError(404, `broker ${broker.config.nodeId} holds no replica of ${topic}-${index} (brokers ${replicas} do): browse it in one of their consoles`);
        }
        if (typeof partition === 'number') throw new ApiError(404, `no partition ${topic}-${index}`);
        const from: BrowseFrom = timestamp !== undefined ? { timestamp } : { offset: offset ?? 0 };
        return { topic, partition: index, ...browseRecords(partition, from, limit, encoding) };
      },
    );

    api.post<{ Params: { topic: string }; Body: ProduceBody }>(
      '/topics/:topic/records',
      {
        schema: {
          params: topicParams,
          body: {
            type: 'object',
            properties: {
              partition: { type: 'integer', minimum: 0 },
              key: nullableString,
              value: nullableString,
              headers: {
                type: 'array',
                items: { type: 'object', properties: { key: { type: 'string' }, value: nullableString }, required: ['key'], additionalProperties: false },
              },
              encoding: { type: 'string', enum: ['utf8', 'base64', 'hex'] },
            },
            additionalProperties: false,
          },
        },
      },
      async (req, reply) => {
        const { partition, key, value, headers = [], encoding = 'utf8' } = req.body;
        const produced = await writer.produce({
          topic: req.params.topic,
          partition,
          key: bytesOf(key, encoding, 'key'),
          value: bytesOf(value, encoding, 'value'),
          headers: headers.map((h) => ({ key: h.key, value: bytesOf(h.value, encoding, `header ${h.key}`) })),
        });
        return reply.code(201).send({ topic: req.params.topic, ...produced });
      },
    );

    api.get('/groups', async () => groupSummaries(broker));
    api.get('/transactions', async () => transactionsView(broker));
    api.get('/queues', async () => queuesView(broker));

    api.get<{ Params: { group: string } }>('/groups/:group', async (req) => {
      const detail = groupDetail(broker, req.params.group);
      if (!detail) throw new ApiError(404, `no group ${req.params.group}`);
      return detail;
    });
  };
}
