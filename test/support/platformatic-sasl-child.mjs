// Produces one message with @platformatic/kafka over SASL and prints {"ok":true}, or
// {"error": "<message>"} when the broker refuses the login. A child process because the client
// needs a newer Node than the tests may run on (see test/support/platformatic-runner.ts).
//
// argv: <host:port> <topic> <sasl JSON: { mechanism, username, password }>
import { Producer } from '@platformatic/kafka';

async function main() {
  const [bootstrap, topic, saslText] = process.argv.slice(2);
  const producer = new Producer({ clientId: 'sluice-sasl', bootstrapBrokers: [bootstrap], timeout: 10_000, retries: 0, sasl: JSON.parse(saslText), autocreateTopics: true });
  try {
    await producer.send({ acks: -1, messages: [{ topic, value: Buffer.from('pf') }] });
    process.stdout.write(JSON.stringify({ ok: true }));
  } catch (e) {
    const messages = [];
    // The broker's own words are in the response of the request that failed.
    for (let err = e; err; err = err.cause ?? err.errors?.[0]) messages.push(err.response?.errorMessage ?? err.message);
    process.stdout.write(JSON.stringify({ error: messages.join(' / ') }));
  } finally {
    await producer.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
