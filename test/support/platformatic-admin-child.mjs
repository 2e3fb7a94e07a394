// Runs admin operations with @platformatic/kafka's Admin. It is a child process because that
// client needs a newer Node than the tests may run on (see test/support/platformatic-admin.ts).
//
// argv: <host:port>
// stdin: a JSON array of steps { op, args }: op names an Admin method, args is its options object.
//   Strings of digits ending in "n" ("12n") stand for bigints, which JSON cannot carry.
// stdout: a JSON array with one result per step, in order: { ok: true, value } or
//   { ok: false, message, errors: [{ apiId, serverErrorMessage }] } with every Kafka error code
//   found in the error the client threw. Bigints in values come back as "12n", Maps as objects.
// Exit code 0 when every step ran (whether it succeeded or not); anything else on a crash.
import { text } from 'node:stream/consumers';
import { inspect } from 'node:util';
import { Admin } from '@platformatic/kafka';

const BIGINT = /^-?\d+n$/;
const revive = (_key, v) => (typeof v === 'string' && BIGINT.test(v) ? BigInt(v.slice(0, -1)) : v);
const replace = (_key, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? Object.fromEntries(v) : v);

/** The Kafka errors inside what the client threw: it nests them in aggregates and causes. */
function kafkaErrors(err, found = []) {
  if (!err || typeof err !== 'object') return found;
  if (typeof err.apiId === 'string') found.push({ apiId: err.apiId, serverErrorMessage: err.serverErrorMessage ?? null });
  for (const inner of err.errors ?? []) kafkaErrors(inner, found);
  kafkaErrors(err.cause, found);
  return found;
}

async function main() {
  const [bootstrap] = process.argv.slice(2);
  if (bootstrap === undefined) throw new Error('usage: platformatic-admin-child.mjs <host:port> < steps');
  const steps = JSON.parse(await text(process.stdin), revive);
  const admin = new Admin({ clientId: 'sluice-admin-test', bootstrapBrokers: [bootstrap], retries: 0, timeout: 10_000 });
  const results = [];
  try {
    for (const { op, args } of steps) {
      if (typeof admin[op] !== 'function') throw new Error(`Admin has no method ${op}`);
      try {
        results.push({ ok: true, value: (await admin[op](args)) ?? null });
      } catch (err) {
        results.push({ ok: false, message: err.message, errors: kafkaErrors(err) });
      }
    }
  } finally {
    await admin.close();
  }
  process.stdout.write(`${JSON.stringify(results, replace)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${inspect(err, { depth: 6 })}\n`);
    process.exit(1);
  },
);
