import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { assertSucceeded, runCommand, startCommand, type CommandResult, type RunningCommand } from './commands.js';
import { messageValue, type Ack } from './python-clients.js';
import { PYTHON } from './tools.js';

/** The scripts in test/support/python/groups/: confluent-kafka group members and librdkafka's group admin. */
const SCRIPTS = fileURLToPath(new URL('./python/groups/', import.meta.url));

/** -B: no __pycache__ left in the source tree. */
const scriptArgs = (script: string, args: string[]): string[] => ['-B', `${SCRIPTS}${script}`, ...args];

/** When group_consumer.py reported an event: the machine's monotonic clock, in seconds, the same for every member. */
type Stamped = { at: number };
export type RebalanceEvent = Stamped & { event: 'assigned' | 'revoked' | 'lost'; partitions: number[]; protocol: string | null };
export type MessageEvent = Stamped & { event: 'message'; partition: number; offset: number; value: string };
export type CommittedEvent = Stamped & { event: 'committed' | 'final-committed'; offsets: Record<string, number> };

/** What group_consumer.py reports, one JSON line each. */
export type ConsumerEvent = RebalanceEvent | MessageEvent | CommittedEvent | (Stamped & ({ event: 'error'; error: string } | { event: 'closed' }));

export interface GroupConsumerOptions {
  bootstrap: string;
  group: string;
  topic: string;
  /** partition.assignment.strategy; range by default. */
  strategy?: string;
  sessionTimeoutMs?: number;
  /** auto: librdkafka's auto-commit; sync: a synchronous commit after each message. */
  commit?: 'auto' | 'sync';
  /** Close after this many messages. */
  maxMessages?: number;
  /** Report the group's committed offsets of the first assignment (committed()). */
  reportCommitted?: boolean;
  /** group.instance.id: a static member, which keeps its place across restarts. */
  instanceId?: string;
  /** The process is killed, and waits on it fail, after this long. */
  lifetimeMs?: number;
}

/** Rejects after `ms` unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` every 100 ms until it holds; fails after `timeoutMs`, with `state()` in the
 * message to show how far things got.
 */
export async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, state: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${state()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A group_consumer.py child: a confluent-kafka consumer subscribed to one topic in a group. */
export class GroupConsumer {
  readonly events: ConsumerEvent[] = [];
  private readonly command: RunningCommand;

  constructor(
    readonly name: string,
    options: GroupConsumerOptions,
  ) {
    const args = [options.bootstrap, options.group, options.topic, '--strategy', options.strategy ?? 'range'];
    args.push('--session-timeout-ms', String(options.sessionTimeoutMs ?? 6000), '--commit', options.commit ?? 'auto');
    if (options.maxMessages !== undefined) args.push('--max-messages', String(options.maxMessages));
    if (options.reportCommitted) args.push('--report-committed');
    if (options.instanceId) args.push('--instance-id', options.instanceId);
    this.command = startCommand(PYTHON, scriptArgs('group_consumer.py', args), {
      timeoutMs: options.lifetimeMs ?? 120_000,
      onLine: (line) => this.events.push(JSON.parse(line) as ConsumerEvent),
    });
  }

  /**
   * The partitions it holds now. Assign callbacks add and revoke/lost callbacks remove, which
   * is right for both protocols: an eager member is revoked everything before each assignment.
   */
  get assignment(): number[] {
    const held = new Set<number>();
    for (const e of this.rebalances()) {
      for (const p of e.partitions) {
        if (e.event === 'assigned') held.add(p);
        else held.delete(p);
      }
    }
    return [...held].sort((a, b) => a - b);
  }

  /** Its rebalance callbacks, from the event numbered `since` on. */
  rebalances(since = 0): RebalanceEvent[] {
    return this.events.slice(since).filter((e): e is RebalanceEvent => e.event === 'assigned' || e.event === 'revoked' || e.event === 'lost');
  }

  messages(): MessageEvent[] {
    return this.events.filter((e): e is MessageEvent => e.event === 'message');
  }

  committed(kind: CommittedEvent['event']): Record<string, number> | undefined {
    return this.events.find((e): e is CommittedEvent => e.event === kind)?.offsets;
  }

  errors(): string[] {
    return this.events.flatMap((e) => (e.event === 'error' ? [e.error] : []));
  }

  /** Its latest non-message events, to show in a failure. */
  recent(): string {
    return `${this.name}: ${JSON.stringify(this.events.filter((e) => e.event !== 'message').slice(-6))}`;
  }

  /** Waits for it to exit by itself (after maxMessages); fails unless it exited with 0. */
  async exited(timeoutMs: number): Promise<CommandResult> {
    const result = await within(this.command.result, timeoutMs, `${this.name} to exit`);
    assertSucceeded(result, this.name);
    return result;
  }

  /** SIGTERM: the consumer closes (committing and leaving the group); fails unless that went cleanly. */
  async stop(timeoutMs = 20_000): Promise<CommandResult> {
    this.command.child.kill('SIGTERM');
    return this.exited(timeoutMs);
  }

  /** SIGKILL, if it still runs: gone without a word to the group. */
  kill(): Promise<void> {
    return this.command.kill();
  }
}

const at = (partition: number, offset: number): string => `${partition}:${offset}`;

/** Whether the members hold `each` partitions apiece, together every one of `partitions` once. */
export function splitEvenly(members: GroupConsumer[], partitions: number, each: number): boolean {
  const all = members.flatMap((m) => m.assignment).sort((a, b) => a - b);
  return members.every((m) => m.assignment.length === each) && isDeepStrictEqual(all, Array.from({ length: partitions }, (_, i) => i));
}

export const assignments = (members: GroupConsumer[]): string => members.map((m) => `${m.name}=${JSON.stringify(m.assignment)}`).join(' ');

/** Waits until every acknowledged message has been consumed by one of `members`, then checks what they read. */
export async function untilConsumed(members: GroupConsumer[], acks: Ack[], timeoutMs: number): Promise<void> {
  const missing = (): string[] => {
    const seen = new Set(members.flatMap((m) => m.messages().map((e) => at(e.partition, e.offset))));
    return acks.map((a) => at(a.partition, a.offset)).filter((k) => !seen.has(k));
  };
  await eventually(`${acks.length} messages to be consumed`, () => missing().length === 0, timeoutMs, () => {
    const left = missing();
    return `${left.length} missing, e.g. ${left.slice(0, 5).join(' ')}; ${members.map((m) => m.recent()).join('; ')}`;
  });
  const sent = new Map(acks.map((a) => [at(a.partition, a.offset), messageValue(a.n)]));
  for (const m of members) {
    for (const e of m.messages()) {
      const value = sent.get(at(e.partition, e.offset));
      if (value !== undefined) assert.equal(e.value, value, `${m.name} read ${at(e.partition, e.offset)}`);
    }
  }
}

/** Which members consumed each message (partition:offset), in member order. */
export function consumers(members: GroupConsumer[]): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const m of members) {
    for (const e of m.messages()) {
      const where = at(e.partition, e.offset);
      by.set(where, [...(by.get(where) ?? []), m.name]);
    }
  }
  return by;
}

/**
 * Records a second member read although the first reader kept the partition from that read on:
 * nothing but an offset older than the group's can explain those. A record read again after its
 * partition was revoked from (or lost by) its first reader is at-least-once delivery, as
 * auto-commit allows when the commit on revocation fails (a coordinator moving, a session expired).
 */
export function readAgainWithoutHandover(members: GroupConsumer[]): string[] {
  // Reads in the order they happened across members, so the first reader is the one whose revoke or loss must come between.
  const reads = members
    .flatMap((member) => member.events.map((e, index) => ({ member, e, index })))
    .filter((r): r is { member: GroupConsumer; e: MessageEvent; index: number } => r.e.event === 'message')
    .sort((a, b) => a.e.at - b.e.at);
  const firstReader = new Map<string, { member: GroupConsumer; index: number }>();
  const again: string[] = [];
  for (const { member, e, index } of reads) {
    const where = at(e.partition, e.offset);
    const first = firstReader.get(where);
    if (!first) {
      firstReader.set(where, { member, index });
      continue;
    }
    const handedOver = first.member.events.slice(first.index).some((later) => (later.event === 'revoked' || later.event === 'lost') && later.partitions.includes(e.partition));
    if (!handedOver) again.push(`${where} by ${first.member.name} and ${member.name}`);
  }
  return again;
}

/** Runs one admin.py subcommand and returns the JSON it printed. */
export async function groupAdmin<T>(bootstrap: string, args: string[], timeoutMs = 60_000): Promise<T> {
  const result = await runCommand(PYTHON, scriptArgs('admin.py', [bootstrap, ...args]), { timeoutMs });
  assertSucceeded(result, `admin.py ${args.join(' ')}`);
  return JSON.parse(result.stdout) as T;
}

/** An error as librdkafka_c.py reports it. */
export interface AdminErrorInfo {
  code: number;
  name: string;
  message: string;
}

export interface GroupListing {
  groups: { group_id: string; is_simple: boolean; state: string }[];
  errors: AdminErrorInfo[];
}

export interface AdminPartition {
  topic: string;
  partition: number;
  offset: number;
  error?: string;
}

export interface GroupDescription {
  group_id: string;
  error: AdminErrorInfo | null;
  is_simple: boolean;
  partition_assignor: string;
  state: string;
  coordinator: { id: number; host: string; port: number } | null;
  members: { client_id: string; group_instance_id: string | null; consumer_id: string; host: string; assignment: AdminPartition[] }[];
}

/** The result of DeleteGroups, ListConsumerGroupOffsets and AlterConsumerGroupOffsets for one group. */
export interface GroupResult {
  group_id: string;
  error: AdminErrorInfo | null;
  partitions: AdminPartition[];
}

export interface GroupLag {
  error: AdminErrorInfo | null;
  partitions: { partition: number; committed: number; end: number; lag: number }[];
}

/** confluent-kafka 1.7's AdminClient.list_groups(). */
export interface LegacyGroup {
  id: string;
  error: string | null;
  state: string;
  protocol_type: string;
  protocol: string;
  members: { id: string; client_id: string; client_host: string }[];
}
