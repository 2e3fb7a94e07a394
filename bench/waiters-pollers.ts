/**
 * bench:waiters' long-polling consumers, one thread's share of them (see waiters.ts). They run
 * apart from the producer, in worker threads with heaps of their own: a thousand parked pollers
 * make garbage-collector pauses, and sharing the producer's heap would pause it too, delaying
 * the records it sends, which the broker would be blamed for.
 *
 * The producer marks each record's send time in a shared array, per partition; the poller that
 * receives it takes the mark and records the latency.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { FetchSessionState } from '../src/client/fetch-session-state.js';
import { apis } from '../src/protocol/generated/api-table.js';
import type { FetchResponse } from '../src/protocol/generated/messages/fetch-response.js';
import { decodeResponseFrame, encodeRequestFrame } from '../src/protocol/headers.js';
import { RawConnection } from '../test/support/raw-connection.js';
import { fetchRequest } from '../test/support/raw-requests.js';

export interface PollerThreadInput {
  port: number;
  topic: string;
  /** The partitions of each connection this thread holds. */
  connections: number[][];
  sessions: boolean;
  maxWaitMs: number;
  fetchVersion: number;
  /** Per partition, the process.hrtime.bigint() a record in flight was sent at, or 0. */
  sentAt: SharedArrayBuffer;
}

export interface PollerThreadResult {
  latenciesNs: Float64Array;
  /** This thread's garbage collections while it measured. */
  gc: { count: number; totalMs: number; maxMs: number };
}

/**
 * A connection long-polling its partitions, parked again at once after each answer; in a fetch
 * session (the followers' FetchSessionState), each fetch after the first names only the
 * partitions whose offset moved.
 */
class LongPoller {
  private readonly offsets = new Map<number, bigint>();
  private readonly session: FetchSessionState | null;
  private correlationId = 0;
  private stopped = false;

  constructor(
    private readonly conn: RawConnection,
    private readonly input: PollerThreadInput,
    partitions: number[],
    private readonly onRecords: (partition: number) => void,
  ) {
    for (const p of partitions) this.offsets.set(p, 0n);
    this.session = input.sessions ? new FetchSessionState() : null;
  }

  async run(): Promise<void> {
    const { topic, maxWaitMs, fetchVersion } = this.input;
    while (!this.stopped) {
      const request = fetchRequest({ topic }, [...this.offsets].map(([partition, fetchOffset]) => ({ partition, fetchOffset })), { maxBytes: 1 << 20, partitionMaxBytes: 1 << 16 });
      const body = { ...request, maxWaitMs, ...this.session?.next(request.topics) };
      this.conn.send(encodeRequestFrame({ correlationId: ++this.correlationId, clientId: 'bench-poller' }, apis.Fetch.apiKey, fetchVersion, body));
      // stop() destroys the connection, which ends this wait.
      const frame = await this.conn.nextFrame(maxWaitMs + 10_000);
      if (frame === null) {
        if (this.stopped) return;
        throw new Error('long poll unanswered');
      }
      const res = decodeResponseFrame(frame, apis.Fetch.apiKey, fetchVersion).body as FetchResponse;
      if (res.errorCode !== 0) throw new Error(`fetch error ${res.errorCode}`);
      this.session?.answered(res.sessionId);
      for (const p of res.responses[0]?.partitions ?? []) {
        if ((p.records?.byteLength ?? 0) === 0) continue;
        this.offsets.set(p.partitionIndex, p.highWatermark);
        this.onRecords(p.partitionIndex);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.conn.destroy();
  }
}

export interface PollerThread {
  /** The measured window starts: the thread's garbage collections count from here. */
  measure(): void;
  stop(): Promise<PollerThreadResult>;
}

/** Starts a thread of pollers; resolves once every one of its fetches has been sent. */
export async function startPollerThread(input: PollerThreadInput): Promise<PollerThread> {
  // Worker threads do not inherit tsx's loader: it is registered in the thread before this module loads.
  const url = JSON.stringify(import.meta.url);
  const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${url}); });`, { eval: true, workerData: input });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`poller thread exited with ${code}`)));
  });
  const next = <T>(): Promise<T> => Promise.race([new Promise<T>((resolve) => worker.once('message', resolve)), failed]);
  await next<'ready'>();
  return {
    measure() {
      worker.postMessage('measure');
    },
    async stop() {
      worker.postMessage('stop');
      const result = await next<PollerThreadResult>();
      await worker.terminate();
      return result;
    },
  };
}

async function pollerThread(port: NonNullable<typeof parentPort>, input: PollerThreadInput): Promise<void> {
  const sentAt = new BigInt64Array(input.sentAt);
  const latencies: number[] = [];
  const gcs: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push(e.duration);
  });
  const pollers: LongPoller[] = [];
  for (const partitions of input.connections) {
    const conn = await RawConnection.open(input.port);
    pollers.push(
      new LongPoller(conn, input, partitions, (partition) => {
        const t = Atomics.exchange(sentAt, partition, 0n);
        if (t !== 0n) latencies.push(Number(process.hrtime.bigint() - t));
      }),
    );
  }
  const running = pollers.map((p) => p.run());
  const failure = Promise.race(running.map((r) => r.then(() => new Promise<never>(() => {}))));
  const stopped = new Promise((resolve) =>
    port.on('message', (m) => {
      if (m === 'measure') observer.observe({ entryTypes: ['gc'] });
      else resolve(m);
    }),
  );
  port.postMessage('ready');
  await Promise.race([stopped, failure]);
  observer.disconnect();
  for (const p of pollers) p.stop();
  await Promise.all(running);
  const result: PollerThreadResult = {
    latenciesNs: Float64Array.from(latencies),
    gc: { count: gcs.length, totalMs: gcs.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...gcs) },
  };
  port.postMessage(result);
}

if (parentPort && workerData) await pollerThread(parentPort, workerData as PollerThreadInput);
