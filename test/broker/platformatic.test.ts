import assert from 'node:assert/strict';
import { test } from 'node:test';
import { platformaticNodeOrSkip, runPlatformaticScript } from '../support/platformatic-runner.js';
import { startTestBroker } from '../support/test-broker.js';

const PER_TOPIC = 60;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

interface Read {
  offset: string;
  key: string | null;
  value: string | null;
  headers: [string, string][];
}

const text = (b64: string | null): string | null => (b64 === null ? null : Buffer.from(b64, 'base64').toString());

test('@platformatic/kafka produces with every codec and consumes it all back as a group member', async (t) => {
  const node = platformaticNodeOrSkip(t);
  if (node === null) return;
  const broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': '0' });
  try {
    const stdout = await runPlatformaticScript(node, 'platformatic-roundtrip-child.mjs', [broker.bootstrap, String(PER_TOPIC)], (stdin) => stdin.end(), 90_000);
    const read = JSON.parse(stdout) as Record<string, Read[]>;
    for (const codec of CODECS) {
      const messages = read[`pf-${codec}`];
      assert.equal(messages.length, PER_TOPIC, codec);
      messages.forEach((m, i) => {
        assert.equal(m.offset, String(i), `${codec} offset`);
        assert.equal(text(m.key), i % 5 === 0 ? null : `key-${i}`, `${codec} key ${i}`);
        assert.equal(text(m.value), i % 7 === 3 ? null : `${codec} value ${i} ${'.'.repeat(i % 50)}`, `${codec} value ${i}`);
        assert.deepEqual(m.headers.map(([k, v]) => [text(k), text(v)]), [['n', String(i)]]);
      });
    }
    // The member committed as it went: the group resumes after everything it read.
    const committed = broker.broker.groups.committed('pf-roundtrip', 'pf-zstd', 0);
    assert.equal(committed?.offset, PER_TOPIC);
  } finally {
    await broker.stop();
  }
});
