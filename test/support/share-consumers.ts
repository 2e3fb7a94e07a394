import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSucceeded, runCommand, startCommand, type RunningCommand } from './commands.js';
import { eventually } from './librdkafka-groups.js';

/**
 * librdkafka's share consumer (KIP-932) in child processes: test/support/share-consumer.c,
 * compiled against the librdkafka that scripts/install-librdkafka-client.mjs builds, since no
 * JavaScript binding exposes rd_kafka_share_*.
 */

const SOURCE = fileURLToPath(new URL('./share-consumer.c', import.meta.url));
/** librdkafka as scripts/install-librdkafka-client.mjs builds it: headers and shared library. */
const LIBRDKAFKA = fileURLToPath(new URL('../librdkafka/node_modules/@confluentinc/kafka-javascript/build/deps', import.meta.url));
/** Ignored by git; kept between runs so the driver is compiled once per change of its source. */
const BUILD_DIR = fileURLToPath(new URL('../../test-artifacts/share-consumer/', import.meta.url));
const BINARY = `${BUILD_DIR}share-consumer`;

/** Compiles the driver unless its binary is newer than its source and librdkafka; returns the binary's path. */
export async function buildShareConsumer(): Promise<string> {
  const inputs = [SOURCE, `${LIBRDKAFKA}/librdkafka.so`].map((f) => statSync(f).mtimeMs);
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs > Math.max(...inputs)) return BINARY;
  mkdirSync(BUILD_DIR, { recursive: true });
  // -isystem: rdkafka.h itself is not clean under -Wextra.
  const args = ['-std=c11', '-D_DEFAULT_SOURCE', '-Wall', '-Wextra', '-O1', '-o', BINARY, SOURCE, '-isystem', `${LIBRDKAFKA}/include`, `-L${LIBRDKAFKA}`, '-lrdkafka', `-Wl,-rpath,${LIBRDKAFKA}`];
  assertSucceeded(await runCommand('gcc', args, { timeoutMs: 120_000 }), 'compiling test/support/share-consumer.c');
  return BINARY;
}

interface Located {
  topic: string;
  partition: number;
  offset: number;
  /** Epoch milliseconds, from the consumer's clock (the same machine's). */
  at: number;
}

export type AckType = 'accept' | 'release' | 'reject';

/** What share-consumer.c reports, one JSON line each; see its header comment. */
export type ShareEvent =
  | { event: 'ready'; at: number }
  | ({ event: 'message'; value: string; deliveryCount: number } & Located)
  | ({ event: 'acked'; type: AckType; value: string; error: string | null } & Located)
  | ({ event: 'record-error'; error: string } & Located)
  | { event: 'holding'; count: number; at: number }
  | { event: 'error'; during: string; error: string; at: number }
  | { event: 'closed'; at: number };

export type Delivery = Extract<ShareEvent, { event: 'message' }> & { consumer: string };
export type Acknowledgement = Extract<ShareEvent, { event: 'acked' }> & { consumer: string };

/** What a consumer does with the records it gets; by default it accepts them all. */
export interface Behaviour {
  /** Values released every time they are delivered. */
  release?: string[];
  /** Values rejected. */
  reject?: string[];
  /** Stop polling after this many records and hold them, unacknowledged, until killed. */
  holdAfter?: number;
}

export interface ShareConsumerOptions extends Behaviour {
  bootstrap: string;
  group: string;
  topic: string;
}

/** Where a record is, as `partition/offset`. */
export const recordKey = (e: { partition: number; offset: number }): string => `${e.partition}/${e.offset}`;

/** One share-consumer.c child; its events are kept as they come. */
export class ShareConsumer {
  readonly events: ShareEvent[] = [];
  private readonly command: RunningCommand;

  constructor(
    binary: string,
    readonly name: string,
    options: ShareConsumerOptions,
  ) {
    const args = [options.bootstrap, options.group, options.topic, '--client-id', name];
    if (options.release?.length) args.push('--release', options.release.join(','));
    if (options.reject?.length) args.push('--reject', options.reject.join(','));
    if (options.holdAfter !== undefined) args.push('--hold-after', String(options.holdAfter));
    // Generous: a test that hangs fails on its own timeout first, with its state in the message.
    this.command = startCommand(binary, args, { timeoutMs: 600_000, onLine: (line) => this.events.push(JSON.parse(line) as ShareEvent) });
  }

  deliveries(): Delivery[] {
    return this.events.flatMap((e) => (e.event === 'message' ? [{ ...e, consumer: this.name }] : []));
  }

  acknowledgements(): Acknowledgement[] {
    return this.events.flatMap((e) => (e.event === 'acked' ? [{ ...e, consumer: this.name }] : []));
  }

  has(event: ShareEvent['event']): boolean {
    return this.events.some((e) => e.event === event);
  }

  /** librdkafka's log and anything else on stderr, for failure messages (SHARE_CONSUMER_DEBUG adds debug lines). */
  stderr(): string {
    return this.command.stderr();
  }

  kill(): Promise<void> {
    return this.command.kill();
  }

  /** SIGTERM: it acknowledges what it has, leaves the group and exits. */
  async stop(): Promise<void> {
    if (this.command.child.exitCode === null && this.command.child.signalCode === null) this.command.child.kill('SIGTERM');
    await this.command.result.catch(() => undefined);
  }
}

/** Share consumers of one test: started together, looked at together, all stopped at the end. */
export class ShareConsumers {
  private readonly members: ShareConsumer[] = [];

  constructor(
    private readonly binary: string,
    private readonly where: Omit<ShareConsumerOptions, keyof Behaviour>,
  ) {}

  start(name: string, behaviour: Behaviour = {}): ShareConsumer {
    const c = new ShareConsumer(this.binary, name, { ...this.where, ...behaviour });
    this.members.push(c);
    return c;
  }

  deliveries(): Delivery[] {
    return this.members.flatMap((c) => c.deliveries()).sort((a, b) => a.at - b.at);
  }

  acknowledgements(): Acknowledgement[] {
    return this.members.flatMap((c) => c.acknowledgements()).sort((a, b) => a.at - b.at);
  }

  /** Acknowledgements the broker took, by type. */
  taken(type: AckType): Acknowledgement[] {
    return this.acknowledgements().filter((a) => a.type === type && a.error === null);
  }

  /**
   * The responses librdkafka could not parse, as it logged them (at error level, so without
   * debug too). It drops such a response whole, records acquired in it included.
   */
  protocolErrors(): string[] {
    return this.members.flatMap((c) => c.stderr().split('\n').filter((line) => /PROTOERR|parse failure/.test(line)).map((line) => `${c.name}: ${line}`));
  }

  /** What happened to the record at `key` (partition/offset), consumer by consumer, in time order: for failure messages. */
  history(key: string): string {
    const events = [...this.deliveries(), ...this.acknowledgements()].filter((e) => recordKey(e) === key).sort((a, b) => a.at - b.at);
    return events.map((e) => (e.event === 'message' ? `${e.consumer} got it (count ${e.deliveryCount})` : `${e.consumer} acknowledged it, ${e.type} (${e.error ?? 'taken'})`)).join(', ');
  }

  /** Errors the consumers reported, and their stderr: for failure messages. */
  state(): string {
    const errors = this.members.flatMap((c) => c.events.filter((e) => e.event === 'error' || e.event === 'record-error').map((e) => `${c.name}: ${JSON.stringify(e)}`));
    const stderr = this.members.map((c) => `--- ${c.name} stderr (end):\n${c.stderr().slice(-3000)}`);
    return [`${this.deliveries().length} deliveries`, ...errors.slice(-20), ...stderr].join('\n');
  }

  until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
    return eventually(what, condition, timeoutMs, () => this.state());
  }

  /** With SHARE_CONSUMER_EVENTS=DIR, each consumer's events and stderr go to DIR/NAME.jsonl and NAME.stderr: for a post-mortem. */
  dump(): void {
    const dir = process.env.SHARE_CONSUMER_EVENTS;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    for (const c of this.members) {
      writeFileSync(join(dir, `${c.name}.jsonl`), c.events.map((e) => JSON.stringify(e)).join('\n'));
      writeFileSync(join(dir, `${c.name}.stderr`), c.stderr());
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((c) => c.stop()));
    this.dump();
  }

  async killAll(): Promise<void> {
    await Promise.all(this.members.map((c) => c.kill()));
    this.dump();
  }
}
