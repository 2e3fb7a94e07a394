import assert from 'node:assert/strict';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { coordinatorRequest } from '../../src/client/group-offsets.js';
import type { KafkaClient } from '../../src/client/kafka-client.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { ack, acquired, setGroupConfigs, ShareMember } from './share-requests.js';
import { onThisNode, type InProcessBroker } from './test-broker.js';

const ACCEPT = 1;
const REJECT = 3;

export interface DeadLetterSetup {
  group: string;
  topic: string;
  dlq: string;
  records: Message[];
  /** Indexes in `records` that the consumer rejects; it accepts the others. */
  reject: number[];
}

/**
 * A share group on a new one-partition `topic` whose one member rejects some of `records` into
 * its dead-letter topic `dlq` (made too). Returns the member, whose share session stays open.
 */
export async function deadLettered(b: InProcessBroker, client: KafkaClient, s: DeadLetterSetup): Promise<ShareMember> {
  const topicId = (await b.broker.partitions.createTopic(s.topic, onThisNode(1), {})).id;
  await b.broker.partitions.createTopic(s.dlq, onThisNode(1), {});
  const configured = await setGroupConfigs(client, s.group, { 'errors.deadletterqueue.topic.name': s.dlq, 'share.auto.offset.reset': 'earliest' });
  assert.equal(configured.errorCode, ErrorCode.NONE, configured.errorMessage ?? '');
  const producer = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic: s.topic, acks: -1, messages: s.records });
  await producer.disconnect();
  const member = new ShareMember(client, () => client.any(), s.group, 'rejecter', topicId);
  const joined = await coordinatorRequest(client, s.group, 'ShareGroupHeartbeat', () => ({ groupId: s.group, memberId: member.memberId, memberEpoch: 0, rackId: null, subscribedTopicNames: [s.topic] }), (r) => r.errorCode);
  assert.equal(joined.errorCode, ErrorCode.NONE, joined.errorMessage ?? '');
  const last = s.records.length - 1;
  assert.deepEqual(acquired(await member.fetch()).ranges, [[0, last, 1]]);
  const types = s.records.map((_, i) => (s.reject.includes(i) ? REJECT : ACCEPT));
  // The broker answers once the dead letters are written.
  assert.deepEqual(await member.acknowledge([ack(0, last, ...types)]), [ErrorCode.NONE, ErrorCode.NONE]);
  return member;
}
