import { fileURLToPath } from 'node:url';
import { assertSucceeded, runCommand, startCommand, type CommandResult, type RunningCommand } from './commands.js';
import { PYTHON } from './tools.js';

/** The scripts in test/support/python/, driving confluent-kafka or kafka-python. */
export type PythonLibrary = 'confluent' | 'kafka-python';

const SCRIPTS = fileURLToPath(new URL('./python/', import.meta.url));

/** -B: no __pycache__ left in the source tree. */
const scriptArgs = (script: string, args: string[]): string[] => ['-B', `${SCRIPTS}${script}`, ...args];

/** When produce.py sent a message and when its delivery report came (wall clock, ms), with `times`. */
export interface DeliveryTimes {
  sentMs: number;
  reportedMs: number;
}

/** A message the broker acknowledged: produce.py's message `n` went to this partition and offset. */
export interface Ack extends Partial<DeliveryTimes> {
  partition: number;
  offset: number;
  n: number;
}

export interface DeliveryFailure extends Partial<DeliveryTimes> {
  n: number;
  error: string;
}

export interface ProducerSummary {
  library: string;
  idempotent: boolean;
  sent: number;
  acked: number;
  failed: number;
  fatal: string | null;
}

export interface ProducerRun {
  acks: Ack[];
  failures: DeliveryFailure[];
  summary: ProducerSummary;
  stderr: string;
}

export interface ProducerOptions {
  library: PythonLibrary;
  bootstrap: string;
  topic: string;
  partitions: number;
  /** Messages to send; without it the producer goes on until finish(). */
  count?: number;
  /** Messages per second; unlimited by default. */
  rate?: number;
  idempotence: 'on' | 'off' | 'if-supported';
  /** The first message's number (default 0). */
  first?: number;
  /** Values are padded to this many bytes (see messageValue). */
  valueBytes?: number;
  /** Stop sending once this many deliveries have failed: failures are then the expected outcome. */
  untilFailures?: number;
  /** Producer settings over produce.py's, in the library's own names (retries, linger.ms...). */
  settings?: Record<string, string>;
  /** Each ack and failure also says when the message was sent and reported (DeliveryTimes). */
  times?: boolean;
}

/** produce.py's message n: its key, value and partition. */
export const messageKey = (n: number): string => `k${n}`;
export const messageValue = (n: number, valueBytes = 0): string => `m${String(n).padStart(8, '0')}`.padEnd(valueBytes, '.');

/** A running produce.py. */
export class PythonProducer {
  readonly acks: Ack[] = [];
  readonly failures: DeliveryFailure[] = [];
  /** Its last line, once it has written it. */
  summary: ProducerSummary | null = null;
  private readonly command: RunningCommand;
  private readonly waiters = new Set<() => void>();

  constructor(options: ProducerOptions, timeoutMs: number) {
    const args = ['--library', options.library, '--bootstrap', options.bootstrap, '--topic', options.topic];
    args.push('--partitions', String(options.partitions), '--idempotence', options.idempotence);
    if (options.count !== undefined) args.push('--count', String(options.count));
    if (options.rate !== undefined) args.push('--rate', String(options.rate));
    if (options.first !== undefined) args.push('--first', String(options.first));
    if (options.valueBytes !== undefined) args.push('--value-bytes', String(options.valueBytes));
    if (options.untilFailures !== undefined) args.push('--until-failures', String(options.untilFailures));
    if (options.times) args.push('--times');
    for (const [name, value] of Object.entries(options.settings ?? {})) args.push('--set', `${name}=${value}`);
    this.command = startCommand(PYTHON, scriptArgs('produce.py', args), {
      timeoutMs,
      ...(options.count !== undefined ? { input: '' } : {}),
      onLine: (line) => this.onLine(line),
    });
    const wake = (): void => this.wake();
    this.command.result.then(wake, wake);
  }

  private onLine(line: string): void {
    const parsed = JSON.parse(line) as { ack?: [number, number, number]; failed?: number; error?: string; t?: [number, number]; summary?: ProducerSummary };
    const times = parsed.t ? { sentMs: parsed.t[0], reportedMs: parsed.t[1] } : {};
    if (parsed.ack) this.acks.push({ partition: parsed.ack[0], offset: parsed.ack[1], n: parsed.ack[2], ...times });
    else if (parsed.failed !== undefined) this.failures.push({ n: parsed.failed, error: parsed.error ?? '', ...times });
    else if (parsed.summary) this.summary = parsed.summary;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  get running(): boolean {
    return this.command.child.exitCode === null && this.command.child.signalCode === null;
  }

  /** Resolves once `count` messages in all are acknowledged; rejects if the producer stops first. */
  waitForAcks(count: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.acks.length >= count) done();
        else if (!this.running) done(new Error(`the producer exited after ${this.acks.length} of ${count} acks${this.stderrTail()}`));
      };
      const timer = setTimeout(() => done(new Error(`only ${this.acks.length} of ${count} acks within ${timeoutMs} ms${this.stderrTail()}`)), timeoutMs);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  private stderrTail(): string {
    return `\nproducer stderr (end): ${this.command.stderr().slice(-3000)}`;
  }

  /** Closes its stdin (a producer without a count stops sending), then waits for it to exit, whatever its outcome. */
  close(): Promise<CommandResult> {
    this.command.child.stdin!.end();
    return this.command.result;
  }

  /** close(), then fails unless every message it sent was acknowledged (see produce.py). */
  async finish(): Promise<ProducerRun> {
    const result = await this.close();
    assertSucceeded(result, 'produce.py');
    if (!this.summary) throw new Error(`produce.py gave no summary\nstderr: ${result.stderr}`);
    return { acks: this.acks, failures: this.failures, summary: this.summary, stderr: result.stderr };
  }

  kill(): Promise<void> {
    return this.command.kill();
  }
}

/** Runs produce.py with a count to the end. */
export async function producePython(options: ProducerOptions & { count: number }, timeoutMs = 120_000): Promise<ProducerRun> {
  const producer = new PythonProducer(options, timeoutMs);
  try {
    return await producer.finish();
  } finally {
    await producer.kill();
  }
}

export interface ConsumedRecord {
  p: number;
  o: number;
  k: string | null;
  v: string | null;
}

/** consume.py --follow: a reader of every partition from its start on, through the brokers' faults, until stop(). */
export class PythonReader {
  readonly records: ConsumedRecord[] = [];
  private readonly command: RunningCommand;

  constructor(bootstrap: string, topic: string, timeoutMs: number) {
    const args = ['--library', 'confluent', '--bootstrap', bootstrap, '--topic', topic, '--follow'];
    this.command = startCommand(PYTHON, scriptArgs('consume.py', args), { timeoutMs, onLine: (line) => this.records.push(JSON.parse(line) as ConsumedRecord) });
  }

  /** Closes its stdin and waits for it to exit; fails if it did not exit cleanly. */
  async stop(): Promise<void> {
    this.command.child.stdin!.end();
    assertSucceeded(await this.command.result, 'consume.py --follow');
  }

  kill(): Promise<void> {
    return this.command.kill();
  }
}

/** Every record of a topic, read from the beginning by consume.py with assign(). */
export async function consumePython(library: PythonLibrary, bootstrap: string, topic: string, timeoutS = 60): Promise<ConsumedRecord[]> {
  const args = ['--library', library, '--bootstrap', bootstrap, '--topic', topic, '--timeout', String(timeoutS)];
  const result = await runCommand(PYTHON, scriptArgs('consume.py', args), { timeoutMs: (timeoutS + 30) * 1000 });
  assertSucceeded(result, 'consume.py');
  return result.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ConsumedRecord);
}
