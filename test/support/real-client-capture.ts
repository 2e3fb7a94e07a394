import { ApiKey } from '../../src/protocol/generated/index.js';
import type { FetchRequest, HeartbeatRequest } from '../../src/protocol/generated/index.js';
import { startCaptureBroker, topicIdFor, type CapturedRequest } from './capture-broker.js';
import type { ClientPlan } from './client-plan.js';

/** Long enough for a slow CI machine; a client that needs more is stuck, not slow. */
export const STEP_TIMEOUT_MS = 30_000;

export interface DriveArgs {
  plan: ClientPlan;
  /** host:port of the capture broker. */
  bootstrap: string;
  /**
   * Resolves once the consumer has been seen fetching and heartbeating, so the driver can leave
   * the group; rejects if that never happens in time. The driver must close its clients either way.
   */
  stop: Promise<void>;
}

/** What a client reports about itself, where the wire carries it. */
export interface ClientFacts {
  software?: { name: string; version: string };
}

/** Runs the plan's producers, then its consumer until `stop`, then closes everything. */
export type Driver = (args: DriveArgs) => Promise<ClientFacts>;

export interface ClientCapture {
  plan: ClientPlan;
  facts: ClientFacts;
  requests: readonly CapturedRequest[];
  brokerErrors: readonly string[];
}

function fetchesGroupTopics(plan: ClientPlan, request: CapturedRequest): boolean {
  if (request.apiKey !== ApiKey.Fetch || request.decoded === undefined) return false;
  const body = request.decoded.body as FetchRequest;
  return plan.group.topics.some((name) => body.topics.some((t) => t.topic === name || t.topicId === topicIdFor(name)));
}

function heartbeatsGroup(plan: ClientPlan, request: CapturedRequest): boolean {
  if (request.apiKey !== ApiKey.Heartbeat || request.decoded === undefined) return false;
  return (request.decoded.body as HeartbeatRequest).groupId === plan.group.groupId;
}

/** Starts a capture broker, lets the driver run the plan against it, and returns what was sent. */
export async function captureClient(plan: ClientPlan, drive: Driver): Promise<ClientCapture> {
  const broker = await startCaptureBroker({ partitionsPerTopic: plan.partitionsPerTopic });
  try {
    // Armed before the client starts; the producers' time counts against it, which is fine.
    const stop = Promise.all([
      broker.waitFor('a Fetch of the group topics', (r) => fetchesGroupTopics(plan, r), 2 * STEP_TIMEOUT_MS),
      broker.waitFor('a Heartbeat of the group', (r) => heartbeatsGroup(plan, r), 2 * STEP_TIMEOUT_MS),
    ]).then(() => undefined);
    // The driver may fail before awaiting it; its own error is the one to report then.
    stop.catch(() => {});
    let facts: ClientFacts;
    try {
      facts = await drive({ plan, bootstrap: `${broker.host}:${broker.port}`, stop });
    } catch (err) {
      // The broker's side of the story is usually the useful half of a client's failure.
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${broker.summary()}`, { cause: err });
    }
    return { plan, facts, requests: [...broker.requests], brokerErrors: [...broker.errors] };
  } finally {
    await broker.close();
  }
}
