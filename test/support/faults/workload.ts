import { messageNumber, type AckedMessage } from './checker.js';
import { messageValue, PythonProducer, PythonReader, type DeliveryFailure, type ProducerSummary } from '../python-clients.js';

/** Each producer process numbers its messages from its own block, so that every value is unique. */
const BLOCK = 10_000_000;
/** Nothing here should outlive a run; this only bounds a run that hangs. */
const PROCESS_TIMEOUT_MS = 3_600_000;

export interface WorkloadOptions {
  bootstrap: string;
  topic: string;
  partitions: number;
  /** Producer processes sending at once. */
  producers: number;
  /** Messages per second, per producer. */
  rate: number;
  /** 'all' with an idempotent producer; '1' without idempotence (librdkafka insists on acks=all for it). */
  acks: 'all' | '1';
}

/** How one producer process ended. */
export interface ProducerOutcome {
  first: number;
  summary: ProducerSummary | null;
  /** Its exit, and what it said on stderr at the end when it did not finish as asked. */
  exit: string;
}

export interface WorkloadHistory {
  acked: AckedMessage[];
  failures: (DeliveryFailure & { value: string })[];
  producers: ProducerOutcome[];
  observed: PythonReader['records'];
  /** Every message number handed to a producer process: [first, first + count). */
  ranges: { first: number; count: number }[];
}

/**
 * The clients of a fault-injection run: idempotent librdkafka producers (confluent-kafka)
 * sending unique values at a steady rate and recording every delivery report, each replaced by
 * a new process (with new numbers) if it stops on a fatal error, and a reader following every
 * partition from its start.
 */
export class Workload {
  private readonly slots: PythonProducer[] = [];
  /** Producers that have been told to stop, or stopped by themselves, once they have exited. */
  private readonly ended: Promise<{ producer: PythonProducer; first: number; exit: string }>[] = [];
  private readonly firsts = new Map<PythonProducer, number>();
  private readonly reader: PythonReader;
  private nextBlock = 0;
  private readonly supervisor: NodeJS.Timeout;
  private stopping = false;

  constructor(private readonly opts: WorkloadOptions) {
    for (let i = 0; i < opts.producers; i++) this.slots.push(this.startProducer());
    this.reader = new PythonReader(opts.bootstrap, opts.topic, PROCESS_TIMEOUT_MS);
    this.supervisor = setInterval(() => this.replaceStopped(), 500);
  }

  private startProducer(): PythonProducer {
    const first = this.nextBlock++ * BLOCK;
    const settings: Record<string, string> = {
      // Requests to a broker that was cut off are given up on well before a fault ends.
      'socket.timeout.ms': '10000',
      'socket.connection.setup.timeout.ms': '5000',
      'request.timeout.ms': '8000',
    };
    if (this.opts.acks === '1') settings.acks = '1';
    const producer = new PythonProducer(
      {
        library: 'confluent',
        bootstrap: this.opts.bootstrap,
        topic: this.opts.topic,
        partitions: this.opts.partitions,
        rate: this.opts.rate,
        idempotence: this.opts.acks === 'all' ? 'on' : 'off',
        first,
        settings,
        times: true,
      },
      PROCESS_TIMEOUT_MS,
    );
    this.firsts.set(producer, first);
    return producer;
  }

  /** Closes a producer's stdin and notes how it ended, once its output is all in. */
  private end(producer: PythonProducer, by: 'itself' | 'asked'): void {
    const ended = producer.close().then(
      (result) => {
        const exit = result.code === 0 && by === 'asked' ? 'finished' : `${by === 'itself' ? 'stopped by itself' : 'failed'} (exit ${result.code ?? result.signal}): ${producer.summary?.fatal ?? lastLines(result.stderr)}`;
        return { producer, first: this.firsts.get(producer)!, exit };
      },
      (e: unknown) => ({ producer, first: this.firsts.get(producer)!, exit: (e as Error).message }),
    );
    this.ended.push(ended);
  }

  /** A producer that stopped by itself (a fatal error) gives way to a new one. */
  private replaceStopped(): void {
    if (this.stopping) return;
    for (let i = 0; i < this.slots.length; i++) {
      if (this.slots[i].running) continue;
      this.end(this.slots[i], 'itself');
      this.slots[i] = this.startProducer();
    }
  }

  /** Acknowledgements so far. */
  get ackCount(): number {
    return [...this.firsts.keys()].reduce((n, p) => n + p.acks.length, 0);
  }

  /** Stops sending, waits for every delivery report and for the reader, and gives what they saw. */
  async stop(): Promise<WorkloadHistory> {
    this.stopping = true;
    clearInterval(this.supervisor);
    for (const producer of this.slots) this.end(producer, 'asked');
    const ended = await Promise.all(this.ended);
    await this.reader.stop();
    const history: WorkloadHistory = { acked: [], failures: [], producers: [], observed: this.reader.records, ranges: [] };
    for (const { producer, first, exit } of ended) {
      for (const a of producer.acks) {
        history.acked.push({ partition: a.partition, offset: a.offset, value: messageValue(a.n), sentMs: a.sentMs!, reportedMs: a.reportedMs! });
      }
      for (const f of producer.failures) history.failures.push({ ...f, value: messageValue(f.n) });
      history.producers.push({ first, summary: producer.summary, exit });
      const reported = [...producer.acks, ...producer.failures].map((m) => m.n - first + 1);
      history.ranges.push({ first, count: producer.summary?.sent ?? Math.max(0, ...reported) });
    }
    return history;
  }

  /** Ends every process at once (a run that failed). */
  async kill(): Promise<void> {
    this.stopping = true;
    clearInterval(this.supervisor);
    await Promise.all([...[...this.firsts.keys()].map((p) => p.kill()), this.reader.kill()]);
  }
}

const lastLines = (text: string): string => text.trim().split('\n').slice(-3).join(' | ');

/** Whether message numbers' values were handed to a producer, and by which, from the ranges a run used. */
export function senders(ranges: WorkloadHistory['ranges']): { wasSent: (value: string) => boolean; producerOf: (value: string) => number } {
  const producerOf = (value: string): number => Math.floor(messageNumber(value) / BLOCK);
  return {
    producerOf,
    wasSent: (value) => {
      const n = messageNumber(value);
      return ranges.some((r) => n >= r.first && n < r.first + r.count);
    },
  };
}
