import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DescriptorShares } from '../../src/broker/descriptor-shares.js';
import { DescriptorCache } from '../../src/storage/descriptor-cache.js';

describe('DescriptorShares', () => {
  test('under 20,000 descriptors: log files yield to sockets down to a floor, and sockets past it are over the limit', () => {
    const logs = new DescriptorCache();
    const shares = new DescriptorShares(logs);
    shares.configure(20_000, -1);
    assert.equal(logs.budget, 15_000);
    // 20,000 less a reserve of 625 (a 32nd) less the log files' floor of 1,875 (an eighth of their budget).
    assert.equal(shares.maxSockets, 17_500);
    assert.equal(logs.limit, 15_000);
    for (let i = 0; i < 10_000; i++) shares.socketOpened();
    assert.equal(logs.limit, 20_000 - 625 - 10_000);
    for (let i = 0; i < 8_000; i++) shares.socketOpened();
    assert.equal(shares.sockets, 18_000);
    assert.equal(logs.limit, 1_875, 'sockets over the limit (being refused) do not take the floor');
    for (let i = 0; i < 18_000; i++) shares.socketClosed();
    assert.equal(logs.limit, 15_000);
  });

  test('a configured budget past what the process allows is held to what it allows', () => {
    const logs = new DescriptorCache();
    const shares = new DescriptorShares(logs);
    shares.configure(1_024, 5_000);
    assert.equal(logs.budget, 5_000);
    assert.equal(logs.limit, 1_024 - 32);
    assert.equal(shares.maxSockets, 1_024 - 32 - 625);
  });

  test('with no known limit nothing is shared and no socket is refused', () => {
    const logs = new DescriptorCache();
    const shares = new DescriptorShares(logs);
    shares.configure(-1, -1);
    shares.socketOpened();
    assert.equal(shares.maxSockets, Number.POSITIVE_INFINITY);
    assert.equal(logs.limit, 65_536);
  });

  test('a tiny limit still leaves room for a socket', () => {
    const logs = new DescriptorCache();
    const shares = new DescriptorShares(logs);
    shares.configure(64, -1);
    assert.equal(shares.maxSockets, 64 - 16 - 32);
  });
});
