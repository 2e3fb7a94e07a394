import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { buildPlan, type ClientPlan } from '../support/client-plan.js';
import { driveKafkajs, kafkajsExpectations } from '../support/kafkajs-client.js';
import { findNodeForPlatformatic, platformaticDriver, platformaticExpectations } from '../support/platformatic-runner.js';
import { captureClient, STEP_TIMEOUT_MS, type ClientCapture, type Driver } from '../support/real-client-capture.js';
import * as verify from '../support/verify-capture.js';

/**
 * Bytes produced by real clients decode exactly: each client runs a producer and a consumer-group
 * member against a capture broker, and every request it sent is decoded by Sluice's codec,
 * checked field by field against what the client was told to send, and encoded again to the
 * very bytes the client sent. Produce batches go through the records and compression code.
 */

/** The apis the checks below cover; a client sending any other one fails the coverage test. */
const CHECKED_APIS = [
  'ApiVersions',
  'Fetch',
  'FindCoordinator',
  'Heartbeat',
  'InitProducerId',
  'JoinGroup',
  'LeaveGroup',
  'ListOffsets',
  'Metadata',
  'OffsetFetch',
  'Produce',
  'SyncGroup',
];

function describeClient(name: string, plan: ClientPlan, expect: verify.ClientExpectations, driver: Driver | { unavailable: string }): void {
  if ('unavailable' in driver) {
    if (process.env.CI) {
      // CI installs everything this test needs; a missing piece there is a broken setup, not a skip.
      describe(name, () => {
        it('can run the client', () => assert.fail(driver.unavailable));
      });
    } else {
      describe(name, { skip: driver.unavailable }, () => {});
    }
    return;
  }

  describe(name, () => {
    let capture: ClientCapture | undefined;
    const captured = (): ClientCapture => {
      assert.ok(capture, 'the client run failed; see the before hook');
      return capture;
    };
    before(async () => {
      capture = await captureClient(plan, driver);
    }, { timeout: 6 * STEP_TIMEOUT_MS });

    it('sends only requests that Sluice decodes, from the configured client id', () => verify.checkEveryRequestDecodes(captured()));
    it('re-encodes every request to the exact bytes the client sent', () => verify.checkReencodesExactly(captured()));
    it('uses each correlation id once per connection', () => verify.checkCorrelationIdsUniquePerConnection(captured()));
    it('sends no api these checks do not cover', () => {
      const unchecked = verify.apisSent(captured()).filter((api) => !CHECKED_APIS.includes(api));
      assert.deepEqual(unchecked, []);
    });
    it('ApiVersions', () => verify.checkApiVersions(captured()));
    it('Metadata asks for the planned topics', () => verify.checkMetadata(captured()));
    it('one Produce request per send', () => verify.checkProduceCount(captured()));
    verify.plannedSends(plan).forEach(({ send, idempotent }, index) => {
      const what = `${idempotent ? 'idempotent ' : ''}Produce to ${send.topic}[${send.partition}], ${send.compression}, acks=${send.acks}`;
      it(`${what}: batch and records decode exactly`, () => verify.checkProduce(captured(), index));
    });
    it('InitProducerId', () => verify.checkInitProducerId(captured(), expect));
    it('FindCoordinator for the group', () => verify.checkFindCoordinator(captured()));
    it('JoinGroup with the consumer-protocol subscription', () => verify.checkJoinGroup(captured()));
    it('SyncGroup with the leader assignment', () => verify.checkSyncGroup(captured()));
    it('Heartbeat', () => verify.checkHeartbeat(captured()));
    it('OffsetFetch', () => verify.checkOffsetFetch(captured()));
    it('ListOffsets', () => verify.checkListOffsets(captured()));
    it('Fetch', () => verify.checkFetch(captured()));
    it('LeaveGroup', () => verify.checkLeaveGroup(captured()));
  });
}

describeClient('kafkajs', buildPlan({ clientId: 'kafkajs-capture', nullHeaderValues: false }), kafkajsExpectations(), driveKafkajs);

const node = findNodeForPlatformatic();
const platformaticPlan = buildPlan({ clientId: 'platformatic-capture', nullHeaderValues: true });
describeClient(
  `@platformatic/kafka (child process on Node ${node.path === null ? '?' : node.version})`,
  platformaticPlan,
  platformaticExpectations(platformaticPlan),
  node.path === null ? { unavailable: node.reason } : platformaticDriver(node.path),
);
