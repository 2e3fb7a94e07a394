import type { TopicImage } from '../../metadata/image.js';
import { ZERO_UUID } from '../../protocol/codec-runtime.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode, errorByCode } from '../../protocol/generated/errors.js';
import type { DeleteTopicsRequest, DeleteTopicsRequestDeleteTopicState } from '../../protocol/generated/messages/delete-topics-request.js';
import { createDeleteTopicsResponse, type DeleteTopicsResponseDeletableTopicResult } from '../../protocol/generated/messages/delete-topics-response.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';
import { failed, repeated, rolledBack, succeeded, type Outcome } from './admin-outcome.js';
import { isInternalTopic } from './internal-topics.js';

type Result = DeleteTopicsResponseDeletableTopicResult;

const result = (name: string | null, topicId: string, outcome: Outcome): Result => ({ name, topicId, ...outcome });

/** A topic named by id (v6+) or by name, or the reason it cannot be deleted. */
function resolve(ctx: BrokerContext, t: DeleteTopicsRequestDeleteTopicState): TopicImage | Result {
  if (t.name === null) {
    if (t.topicId === ZERO_UUID) return result(null, ZERO_UUID, failed(ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'));
    return ctx.metadata.topicById(t.topicId) ?? result(null, t.topicId, failed(ErrorCode.UNKNOWN_TOPIC_ID, errorByCode(ErrorCode.UNKNOWN_TOPIC_ID)!.message));
  }
  if (t.topicId !== ZERO_UUID) return result(t.name, t.topicId, failed(ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.'));
  return ctx.metadata.topic(t.name) ?? result(t.name, ZERO_UUID, failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
}

const isResult = (r: TopicImage | Result): r is Result => 'errorCode' in r;

async function deleteTopic(ctx: BrokerContext, name: string): Promise<Outcome> {
  try {
    await ctx.partitions.deleteTopic(name);
  } catch (e) {
    return rolledBack(`Topic '${name}' was not deleted`, e);
  }
  return succeeded();
}

/**
 * DeleteTopics by name, or by topic id from v6, with Kafka's answers for duplicates and for a
 * topic named both ways. Internal topics stay.
 */
export function deleteTopicsHandler(ctx: BrokerContext) {
  return handler(apis.DeleteTopics, 0, 6, async (req: DeleteTopicsRequest, { version }) => {
    const res = createDeleteTopicsResponse();
    const targets = version >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const duplicateNames = repeated(targets.flatMap((t) => (t.name !== null && t.topicId === ZERO_UUID ? [t.name] : [])));
    const duplicateIds = repeated(targets.flatMap((t) => (t.name === null && t.topicId !== ZERO_UUID ? [t.topicId] : [])));
    for (const name of duplicateNames) res.responses.push(result(name, ZERO_UUID, failed(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.')));
    for (const id of duplicateIds) res.responses.push(result(null, id, failed(ErrorCode.INVALID_REQUEST, 'Duplicate topic id.')));

    const found: TopicImage[] = [];
    for (const t of targets) {
      if ((t.name !== null && duplicateNames.has(t.name)) || (t.name === null && duplicateIds.has(t.topicId))) continue;
      const r = resolve(ctx, t);
      if (isResult(r)) res.responses.push(r);
      else found.push(r);
    }
    // The same topic by id and by name: Kafka deletes neither and says why.
    const twice = repeated(found.map((t) => t.id));
    for (const id of twice) {
      const name = ctx.metadata.topicById(id)!.name;
      res.responses.push(result(name, id, failed(ErrorCode.INVALID_REQUEST, 'The provided topic name maps to an ID that was already supplied.')));
    }
    for (const t of found) {
      if (twice.has(t.id)) continue;
      if (isInternalTopic(t.name)) {
        res.responses.push(result(t.name, t.id, failed(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot delete internal topic ${t.name}`)));
      } else {
        res.responses.push(result(t.name, t.id, await deleteTopic(ctx, t.name)));
      }
    }
    return res;
  });
}
