import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, mock, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { log } from '../../src/log.js';
import { tempDir } from '../support/storage-fixtures.js';
import { startBrokerProcess, startTestBroker, type BrokerProcess } from '../support/test-broker.js';

/** A port some other program holds, as a plain TCP server. */
function occupyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

/** The first log line of the broker holding `text`, waiting for it a while: lines after the start come on their own time. */
async function logLine(broker: BrokerProcess, text: string): Promise<string> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const line = broker.output.find((l) => l.includes(text));
    if (line) return line;
    await sleep(50);
  }
  assert.fail(`no log line with "${text}" in:\n${broker.output.join('\n')}`);
}

describe('ports that are taken', () => {
  let temp: ReturnType<typeof tempDir>;
  let taken: { server: Server; port: number };

  before(async () => {
    temp = tempDir('busy-ports');
    taken = await occupyPort();
  });

  after(() => {
    taken.server.close();
    temp.cleanup();
  });

  test('a console port in use: the broker starts, says so naming the setting, and serves Kafka', async () => {
    const broker = await startBrokerProcess(join(temp.dir, 'console-busy'), { 'sluice.console.listener': `127.0.0.1:${taken.port}` });
    try {
      const warning = JSON.parse(await logLine(broker, 'sluice.console.listener')) as { level: number; msg: string };
      assert.equal(warning.level, 40, 'a warning');
      assert.equal(warning.msg, `the web console and /metrics are off: sluice.console.listener 127.0.0.1:${taken.port} is already in use by another process`);

      const kafka = new Kafka({ clientId: 'busy-ports', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'served', messages: [{ value: 'still here' }] });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: 'busy-ports' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'served', fromBeginning: true });
      const got = await new Promise<string>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) }));
      await consumer.disconnect();
      assert.equal(got, 'still here');
    } finally {
      assert.equal(await broker.stop(), 0, 'it stops cleanly too');
    }
  });

  test('console port 0: a free port, named in the log', async () => {
    const broker = await startBrokerProcess(join(temp.dir, 'console-any'), { 'sluice.console.listener': '127.0.0.1:0' });
    try {
      const { url } = JSON.parse(await logLine(broker, '"console listening"')) as { url: string };
      assert.match(url, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
      assert.equal((await fetch(`${url}/health`)).status, 200);
    } finally {
      await broker.stop();
    }
  });

  test('an embedded broker whose console port is in use starts without it, and says so', async () => {
    const warn = mock.method(log, 'warn', () => {});
    try {
      const broker = await startTestBroker({ 'sluice.console.listener': `127.0.0.1:${taken.port}` });
      await broker.stop();
      assert.equal(broker.broker.consolePort, null);
      assert.deepEqual(
        warn.mock.calls.map((c) => c.arguments),
        [[`the web console and /metrics are off: sluice.console.listener 127.0.0.1:${taken.port} is already in use by another process`]],
      );
    } finally {
      warn.mock.restore();
    }
  });

  test('a Kafka listener port in use stops the start, with a message naming the address', async () => {
    await assert.rejects(
      startBrokerProcess(join(temp.dir, 'kafka-busy'), {}, taken.port),
      (e: Error) => {
        assert.match(e.message, /exited with 2 before starting/);
        assert.match(e.message, new RegExp(`sluice serve: listeners: 127\\.0\\.0\\.1:${taken.port} is already in use by another process`));
        return true;
      },
    );
    await assert.rejects(startTestBroker({ listeners: `PLAINTEXT://127.0.0.1:${taken.port}` }), new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${taken.port}`));
  });
});
