import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { apis } from '../../src/protocol/generated/api-table.js';
import { ErrorCode } from '../../src/protocol/generated/errors.js';
import { encodeRequestFrame } from '../../src/protocol/headers.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { RawConnection } from '../support/raw-connection.js';
import { createTopic, fetchRequest } from '../support/raw-requests.js';
import { startBrokerProcess } from '../support/test-broker.js';

const PARTITIONS = 1000;
const RECORD_BYTES = 60 * 1024;
const CONNECTIONS = 8;
const FETCHES_PER_CONNECTION = 2;
/** What the broker may grow by while it owes the fetches below ~1 GB: their bytes must not pass through its heap. */
const GROWTH_LIMIT = 120 * 1024 * 1024;

function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
  return Number(kb) * 1024;
}

/** A Fetch v11 of every partition from offset 0, as large as a consumer may ask for. */
function wideFetch(correlationId: number): Buffer {
  return encodeRequestFrame({ correlationId, clientId: 'wide-fetch' }, apis.Fetch.apiKey, 11, fetchRequest({ topic: 'wide' }, Array.from({ length: PARTITIONS }, (_, partition) => ({ partition })), { maxBytes: 256 * 1024 * 1024, partitionMaxBytes: 1024 * 1024 }));
}

/** A client that asks, then does not read: the broker's answers back up behind it. */
class StalledReader {
  received = 0;
  private frames = 0;
  private frameLeft = 0;
  private sizeBytes: number[] = [];
  private done: () => void = () => {};

  private constructor(readonly socket: Socket) {
    socket.pause();
    socket.on('data', (chunk: Buffer) => this.count(chunk));
  }

  static open(port: number): Promise<StalledReader> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new StalledReader(socket)));
      socket.once('error', reject);
    });
  }

  /** Counts response frames by their size prefixes, without keeping their bytes. */
  private count(chunk: Buffer): void {
    this.received += chunk.length;
    for (let at = 0; at < chunk.length; ) {
      if (this.frameLeft > 0) {
        const n = Math.min(this.frameLeft, chunk.length - at);
        this.frameLeft -= n;
        at += n;
        if (this.frameLeft === 0 && ++this.frames === FETCHES_PER_CONNECTION) this.done();
        continue;
      }
      this.sizeBytes.push(chunk[at++]);
      if (this.sizeBytes.length === 4) {
        this.frameLeft = Buffer.from(this.sizeBytes).readInt32BE(0);
        this.sizeBytes = [];
      }
    }
  }

  /** Reads everything owed; resolves once every response has arrived whole. */
  drain(): Promise<void> {
    const finished = new Promise<void>((resolve) => (this.done = resolve));
    this.socket.resume();
    return finished;
  }
}

for (const transfer of ['sendfile', 'copy'] as const) {
  describe(`fetches of ${PARTITIONS} partitions that clients do not read (${transfer})`, { timeout: 180_000 }, () => {
    test('stay within a bounded amount of broker memory, and all arrive once read', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-fetch-memory-'));
      const broker = await startBrokerProcess(dir, { 'sluice.fetch.transfer': transfer });
      const readers: StalledReader[] = [];
      try {
        const admin = await RawConnection.open(broker.port);
        assert.equal(await createTopic(admin, 'wide', {}, PARTITIONS), ErrorCode.NONE);
        const value = Buffer.alloc(RECORD_BYTES, 7);
        const produced = await admin.request(apis.Produce, 9, {
          transactionalId: null,
          acks: 1,
          timeoutMs: 30_000,
          topicData: [
            {
              name: 'wide',
              partitionData: Array.from({ length: PARTITIONS }, (_, index) => ({
                index,
                records: encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: null, value }] }),
              })),
            },
          ],
        });
        assert.ok(produced.responses[0].partitionResponses.every((p) => p.errorCode === ErrorCode.NONE));
        admin.destroy();

        const pid = broker.child.pid!;
        const before = rssOf(pid);
        for (let c = 0; c < CONNECTIONS; c++) {
          const reader = await StalledReader.open(broker.port);
          for (let f = 0; f < FETCHES_PER_CONNECTION; f++) reader.socket.write(wideFetch(f + 1));
          readers.push(reader);
        }
        // The broker answers into full sockets; watch its memory while it cannot send.
        let peak = before;
        for (let i = 0; i < 20; i++) {
          await sleep(100);
          peak = Math.max(peak, rssOf(pid));
        }
        const owed = CONNECTIONS * FETCHES_PER_CONNECTION * PARTITIONS * RECORD_BYTES;
        await Promise.all(readers.map((r) => r.drain()));
        peak = Math.max(peak, rssOf(pid));
        const received = readers.reduce((n, r) => n + r.received, 0);
        t.diagnostic(`broker RSS ${(before / 2 ** 20).toFixed(0)} MiB, at most ${(peak / 2 ** 20).toFixed(0)} MiB while owing ${(owed / 2 ** 20).toFixed(0)} MiB`);
        assert.ok(received > owed, `${received} bytes received, at least ${owed} owed`);
        assert.ok(
          peak - before < GROWTH_LIMIT,
          `the broker grew by ${((peak - before) / 2 ** 20).toFixed(0)} MiB while owing ${(owed / 2 ** 20).toFixed(0)} MiB to clients not reading`,
        );
      } finally {
        for (const r of readers) r.socket.destroy();
        await broker.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
