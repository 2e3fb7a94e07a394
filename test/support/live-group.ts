import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';

/**
 * Real clients as group members in child processes, under a steady load, for tests that start,
 * stop and kill members and then check that nothing was lost and nothing committed was processed
 * twice. The member scripts (test/support/*-member.mjs) print what they do as JSON lines.
 */

/**
 * One line of a member script: 'ready' once subscribed; 'message' before a record is committed,
 * 'committed' once its commit is acknowledged, 'commit-failed' when it is refused; 'skipped' for a
 * record of a partition no longer owned or already committed past; 'closed' after SIGTERM made the
 * member leave the group.
 */
export interface LiveEvent {
  name: string;
  event: 'ready' | 'message' | 'skipped' | 'committed' | 'commit-failed' | 'closed';
  partition?: number;
  offset?: number;
  value?: string;
  error?: string;
}

/**
 * A broker for consumer group tests: members are removed 4 s after their last heartbeat, asked to
 * heartbeat every 500 ms, and a classic group's first rebalance does not wait for more members.
 */
export const GROUP_TEST_SETTINGS: Readonly<Record<string, string>> = {
  'group.consumer.session.timeout.ms': '4000',
  'group.consumer.heartbeat.interval.ms': '500',
  'offsets.topic.num.partitions': '3',
  'group.initial.rebalance.delay.ms': '0',
};

export class LiveMembers {
  readonly events: LiveEvent[] = [];
  private readonly children = new Map<string, ChildProcess>();
  private readonly stderr: string[] = [];

  constructor(private readonly cwd: string) {}

  start(name: string, command: string, args: string[]): void {
    const child = spawn(command, args, { cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(name, child);
    createInterface({ input: child.stdout! }).on('line', (line) => this.events.push(JSON.parse(line) as LiveEvent));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => this.stderr.push(`${name}: ${s}`));
  }

  /** What the members wrote on stderr, for failure messages. */
  errors(): string {
    return this.stderr.join('');
  }

  async until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${this.errors()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  processedBy(name: string): number {
    return this.events.filter((e) => e.name === name && e.event === 'message').length;
  }

  hasEvent(name: string, event: LiveEvent['event']): boolean {
    return this.events.some((e) => e.name === name && e.event === event);
  }

  stop(name: string, signal: NodeJS.Signals): Promise<void> {
    return new Promise((resolve) => {
      const child = this.children.get(name)!;
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async killAll(): Promise<void> {
    for (const name of this.children.keys()) await this.stop(name, 'SIGKILL');
  }

  processedValues(): Set<string> {
    return new Set(this.events.filter((e) => e.event === 'message').map((e) => e.value!));
  }

  /**
   * No loss: every one of `produced` records was processed. No repeat of committed work: once a
   * record's processing has been committed, it is never processed again. The only repeats allowed
   * are of records processed but not committed: at most `inFlight` (what killed members had in
   * hand), plus those whose commit the broker refused (the member's epoch or generation had moved on).
   */
  assertProcessedOnce(produced: number, inFlight: number): void {
    // For a post-mortem of a failure: every member's events, one JSON line each.
    if (process.env.KIP848_EVENTS) writeFileSync(process.env.KIP848_EVENTS, this.events.map((e) => JSON.stringify(e)).join('\n'));
    const seen = this.processedValues();
    for (let i = 0; i < produced; i++) assert.ok(seen.has(String(i)), `record ${i} was never processed`);
    // Each processing of a record, in the order reported; a member reports the outcome of its
    // commits in the order it processed, so outcomes pair with its oldest processing still open.
    const processings = new Map<string, { name: string; outcome?: 'committed' | 'commit-failed' }[]>();
    const open = new Map<string, { name: string; outcome?: 'committed' | 'commit-failed' }[]>();
    for (const e of this.events) {
      const key = `${e.partition}/${e.offset}`;
      if (e.event === 'message') {
        const p = { name: e.name };
        processings.set(key, [...(processings.get(key) ?? []), p]);
        open.set(`${e.name}/${key}`, [...(open.get(`${e.name}/${key}`) ?? []), p]);
      } else if (e.event === 'committed' || e.event === 'commit-failed') {
        const p = open.get(`${e.name}/${key}`)?.shift();
        assert.ok(p, `${e.name} reported ${e.event} for ${key}, which it had not processed`);
        p.outcome = e.event;
      }
    }
    let repeats = 0;
    for (const [key, list] of processings) {
      repeats += list.length - 1;
      const committed = list.findIndex((p) => p.outcome === 'committed');
      assert.ok(
        committed === -1 || committed === list.length - 1,
        `${key} was committed by ${list[committed]?.name} and processed again by ${list[committed + 1]?.name} (processed by, in order: ${list.map((p) => `${p.name} ${p.outcome ?? 'uncommitted'}`).join(', ')})`,
      );
    }
    const failed = this.events.filter((e) => e.event === 'commit-failed').length;
    assert.ok(repeats <= inFlight + failed, `${repeats} records processed twice`);
  }
}

/**
 * Members m1, m2 and m3 join under `load` and consume, `joined()` checks the group; m4 joins, m2
 * leaves (SIGTERM, a clean close), m3 is killed (SIGKILL) and `removed()` waits until the group has
 * moved on without it; then the load stops and every record gets processed. Resolves to how many
 * records were produced; m1 and m4 are left running.
 */
export async function joinLeaveKill(members: LiveMembers, start: (name: string) => void, load: { stop(): Promise<number> }, joined: () => Promise<void>, removed: () => Promise<void>): Promise<number> {
  for (const name of ['m1', 'm2', 'm3']) start(name);
  await members.until('three members consuming', () => ['m1', 'm2', 'm3'].every((n) => members.processedBy(n) > 0));
  await joined();
  start('m4');
  await members.until('m4 consuming', () => members.processedBy('m4') > 0);
  await members.stop('m2', 'SIGTERM');
  assert.ok(members.hasEvent('m2', 'closed'), `m2 did not leave cleanly: ${members.errors()}`);
  const before = members.processedBy('m1') + members.processedBy('m4');
  await members.until('m1 and m4 carrying on', () => members.processedBy('m1') + members.processedBy('m4') > before + 50);
  await members.stop('m3', 'SIGKILL');
  await removed();
  const produced = await load.stop();
  await members.until(`every one of ${produced} records processed`, () => members.processedValues().size === produced, 90_000);
  return produced;
}

/**
 * Produces numbered records round-robin over the partitions (value = its number) until stopped;
 * stop() resolves to how many were produced.
 */
export function produceSteadily(bootstrap: string, topic: string, partitions: number): { stop(): Promise<number> } {
  const kafka = new Kafka({ clientId: `${topic}-producer`, brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  let produced = 0;
  let producing = true;
  const production = (async () => {
    await producer.connect();
    try {
      while (producing) {
        const messages = Array.from({ length: 12 }, (_, i) => ({ partition: (produced + i) % partitions, value: String(produced + i) }));
        await producer.send({ topic, acks: -1, messages });
        produced += messages.length;
        await new Promise((r) => setTimeout(r, 30));
      }
    } finally {
      await producer.disconnect();
    }
  })();
  return {
    async stop() {
      producing = false;
      await production;
      return produced;
    },
  };
}
