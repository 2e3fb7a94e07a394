import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { TotalsHistogram } from '../../src/metrics/totals-histogram.js';

test("a totals histogram's exposition is prom-client's own Histogram's, for the same observations", async () => {
  const bounds = [0.001, 0.01, 1];
  const ours = new Registry();
  const theirs = new Registry();
  const h = new TotalsHistogram('op_seconds', 'Time per op', 'op', bounds, [ours]);
  const reference = new Histogram({ name: 'op_seconds', help: 'Time per op', labelNames: ['op'], buckets: bounds, registers: [theirs] });
  // On a bound counts in that bucket (Prometheus's le is "less than or equal"); past every bound, only in +Inf.
  const observations: [string, number][] = [['read', 0.0005], ['read', 0.001], ['write', 0.01], ['read', 0.002], ['read', 0.5], ['read', 7]];
  for (const [op, v] of observations) {
    h.of(op).observe(v);
    reference.observe({ op }, v);
  }
  assert.equal(h.of('read').count, 5, 'one series per label value');
  const text = await ours.metrics();
  assert.equal(text, await theirs.metrics());
  assert.match(text, /^op_seconds_bucket\{le="0.001",op="read"\} 2$/m);
  assert.match(text, /^op_seconds_bucket\{le="\+Inf",op="read"\} 5$/m);

  ours.resetMetrics();
  assert.doesNotMatch(await ours.metrics(), /op_seconds_count/, 'reset drops every series');
});
