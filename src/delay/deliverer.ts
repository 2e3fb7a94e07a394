import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { log } from '../log.js';
import { encodeRecordBatch } from '../protocol/records/record-batch.js';
import { sequenceAfter } from '../replication/producers/producer-entry.js';
import type { DelayStore } from './delay-store.js';
import type { DelayedMessage } from './delayed-message.js';
import { sequenceKey, type DeliveryIntent, type DeliveryJournal } from './delivery-journal.js';
import type { TimerEntry } from './timer-entry.js';
import { slotStart, SLOT_MS } from './timer-wheel.js';

/** What appending a batch to its partition came to. */
export type WriteOutcome =
  /** In the log and durable, or already there (the partition's duplicate detection said so). */
  | 'appended'
  /** Not led here now, or its log failed: try the same batch again later. */
  | 'not-here'
  /** The topic or partition no longer exists: the records are dropped. */
  | 'gone'
  /** The partition refuses the sequence: its record of this producer is not the deliverer's. */
  | 'out-of-sequence';

export interface PartitionWriter {
  /** Appends `batch` as the deliverer's idempotent producer; settles when it is durable. */
  write(topic: string, partition: number, batch: Buffer): Promise<WriteOutcome>;
}

/** A batch per partition and turn, within these: large enough to spread the journal writes, under Kafka's default max.message.bytes. */
const MAX_BATCH_RECORDS = 500;
const MAX_BATCH_BYTES = 512 * 1024;
/** How long a partition that cannot take its records waits before they are tried again. */
const RETRY_MS = 500;
/** How long before its time the next slot is read: reading 10,000 entries takes ~50 ms. */
const READ_AHEAD_MS = 250;
/**
 * Due entries delivered per turn of the loop: a backlog (after downtime, or under load) goes
 * out in bounded chunks with produce requests served in between, not in one long block.
 */
const MAX_DUE_PER_STEP = 4096;

interface PendingIntent extends DeliveryIntent {
  messages: DelayedMessage[];
}

export interface DelivererStats {
  delivered: number;
  dropped: number;
  /** Delivery time minus due time of the last delivered record. */
  lastLatenessMs: number;
}

/**
 * Moves due records from the delay store into their partitions, slot by slot, as an idempotent
 * producer of its own: each batch gets an intent in the journal (its sequences and entries)
 * before it is appended and a done marker after, so an append that a crash interrupted is
 * retried with the same producer id and sequences and the partition itself says whether it
 * already has it. Within the slot being delivered (the open slot) the entries wait in memory,
 * sorted by due time; the store and wheel hold everything else.
 */
export class Deliverer {
  private producerId: bigint;
  private sequences: Map<string, number>;
  private cursorMs: number;
  /** Entries of the open slot not yet delivered, by due time; null while no slot is open. */
  private queue: TimerEntry[] | null = null;
  /** The next slot's entries, read ahead of its time so that reading them makes nothing late. */
  private next: TimerEntry[] | null = null;
  /** Entries of the open slot that intents already cover, so the slot's reload skips them. */
  private readonly taken: Set<number>;
  /** Intents that did not get an answer yet: appended again, as they are, before anything new. */
  private readonly unresolved: PendingIntent[];
  private wake: (() => void) | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  readonly stats: DelivererStats = { delivered: 0, dropped: 0, lastLatenessMs: 0 };
  /** The due times of each delivered batch and when it was in, for measuring lateness. */
  onDelivered: ((dueTimes: readonly number[], at: number) => void) | null = null;

  constructor(
    private readonly store: DelayStore,
    private readonly journal: DeliveryJournal,
    private readonly writer: PartitionWriter,
    private readonly newProducerId: () => Promise<bigint>,
  ) {
    const checkpoint = journal.readCheckpoint();
    this.cursorMs = checkpoint?.cursorMs ?? slotStart(Date.now());
    this.producerId = BigInt(checkpoint?.producerId ?? -1);
    this.sequences = new Map(Object.entries(checkpoint?.sequences ?? {}));
    if (!checkpoint) journal.initialize(this.checkpointState());
    const intents = new Map<string, DeliveryIntent>();
    const done = new Set<string>();
    for (const r of journal.open(this.cursorMs)) {
      const id = `${r.producerId}\u0000${r.topic}\u0000${r.partition}\u0000${r.baseSequence}`;
      if (r.kind === 'done') {
        done.add(id);
        continue;
      }
      intents.set(id, r);
      // A producer id replaced after a sequence failure starts every partition again at 0.
      if (BigInt(r.producerId) !== this.producerId) {
        this.producerId = BigInt(r.producerId);
        this.sequences.clear();
      }
      this.sequences.set(sequenceKey(r.topic, r.partition), sequenceAfter(r.baseSequence, r.positions.length));
    }
    this.taken = new Set([...intents.values()].flatMap((i) => i.positions));
    const resolved = new Set([...intents].filter(([id]) => done.has(id)).flatMap(([, i]) => i.positions));
    store.recover(this.cursorMs, resolved);
    this.unresolved = [...intents]
      .filter(([id]) => !done.has(id))
      .map(([, i]) => ({ ...i, messages: i.positions.map((p) => this.messageAt(p)).filter((m): m is DelayedMessage => m !== null) }))
      .filter((i) => i.messages.length > 0);
  }

  /** No record may be due before this: the slot being delivered starts here. */
  get earliestDue(): number {
    return this.cursorMs;
  }

  start(): void {
    this.loop ??= this.run().catch((e: unknown) => log.error({ err: e }, 'delayed delivery stopped'));
  }

  /** Newly held entries: those due in the open or the read-ahead slot join it (the rest wait on disk). */
  offer(entries: readonly TimerEntry[]): void {
    let added = false;
    for (const e of entries) {
      const slot = slotStart(e.dueMs);
      const queue = slot === this.cursorMs ? this.queue : slot === this.cursorMs + SLOT_MS ? this.next : null;
      if (!queue) continue;
      queue.splice(sortedIndex(queue, e.dueMs), 0, e);
      added = true;
    }
    if (added) this.wake?.();
  }

  /**
   * Finishes the batches being appended. No checkpoint: the journal already says which entries
   * of the open slot went out, and a restart reads the empty slots since the last one again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step();
        await yieldToLoop();
      } catch (e) {
        // A producer id the metadata store could not give, a log that failed: try again soon.
        log.error({ err: e }, 'delayed delivery failed; retrying');
        await this.pause(RETRY_MS);
      }
    }
  }

  /** One move of the loop: retry, open a slot, deliver what is due, close the slot, or wait. */
  private async step(): Promise<void> {
    if (this.unresolved.length > 0) {
      if (!(await this.retryUnresolved())) await this.pause(RETRY_MS);
      return;
    }
    const now = Date.now();
    if (!this.queue) {
      if (this.cursorMs > now) return this.pause(this.cursorMs - now);
      this.queue = this.readSlot(this.cursorMs);
    }
    const due = sortedIndex(this.queue, now);
    if (due > 0) return this.deliver(this.queue.splice(0, Math.min(due, MAX_DUE_PER_STEP)));
    const readAheadAt = this.cursorMs + SLOT_MS - READ_AHEAD_MS;
    if (!this.next && now >= readAheadAt) {
      this.next = this.readSlot(this.cursorMs + SLOT_MS);
      return;
    }
    if (this.queue.length === 0 && now >= this.cursorMs + SLOT_MS) {
      return this.finishSlot();
    }
    await this.pause(Math.min(this.queue[0]?.dueMs ?? Infinity, this.next ? Infinity : readAheadAt, this.cursorMs + SLOT_MS) - now);
  }

  /** A slot's entries that no intent covers yet, by due time. */
  private readSlot(slotMs: number): TimerEntry[] {
    const entries = this.store.slotEntries(slotMs).filter((e) => !this.taken.has(e.pos));
    return entries.sort((a, b) => a.dueMs - b.dueMs || a.pos - b.pos);
  }

  /** Waits for `ms`, or less when something is offered or the deliverer stops. */
  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    const ac = new AbortController();
    this.wake = () => ac.abort();
    try {
      await sleep(Math.max(1, ms), undefined, { signal: ac.signal });
    } catch {
      // Woken early: the loop looks again.
    } finally {
      this.wake = null;
    }
  }

  /** Closes the open slot: everything due before the next one is delivered. */
  private async finishSlot(): Promise<void> {
    const hadWork = this.taken.size > 0;
    this.cursorMs += SLOT_MS;
    this.queue = this.next;
    this.next = null;
    // Empty slots move the cursor in memory only: a restart reads them again and finds them empty.
    if (!hadWork) return;
    await this.journal.checkpoint(this.checkpointState());
    this.taken.clear();
    this.store.release(this.cursorMs);
  }

  private checkpointState() {
    return { cursorMs: this.cursorMs, producerId: String(this.producerId), sequences: Object.fromEntries(this.sequences) };
  }

  private messageAt(pos: number): DelayedMessage | null {
    const entry = this.store.entryAt(pos);
    return entry && this.store.message(entry);
  }

  /** Due entries, in batches by partition, each batch appended under its own intent. */
  private async deliver(entries: TimerEntry[]): Promise<void> {
    const byPartition = new Map<string, { entries: TimerEntry[]; messages: DelayedMessage[]; bytes: number }[]>();
    for (const e of entries) {
      this.taken.add(e.pos);
      const m = this.store.message(e);
      if (!m) {
        log.error({ pos: e.messagePos }, 'delay store: a held record is damaged and is dropped');
        this.drop(e.dueMs);
        continue;
      }
      const key = sequenceKey(m.topic, m.partition);
      let batches = byPartition.get(key);
      if (!batches) byPartition.set(key, (batches = [{ entries: [], messages: [], bytes: 0 }]));
      let batch = batches.at(-1)!;
      if (batch.entries.length === MAX_BATCH_RECORDS || batch.bytes + e.messageSize > MAX_BATCH_BYTES) batches.push((batch = { entries: [], messages: [], bytes: 0 }));
      batch.entries.push(e);
      batch.messages.push(m);
      batch.bytes += e.messageSize;
    }
    if (this.producerId < 0n) this.producerId = await this.newProducerId();
    const writes = [...byPartition.values()].map(async (batches) => {
      for (const b of batches) {
        const m = b.messages[0];
        const intent = this.intend(m.topic, m.partition, b.entries.map((e) => e.pos), b.messages);
        if (!(await this.journalAndAttempt(intent))) this.unresolved.push(intent);
      }
    });
    await Promise.all(writes);
  }

  /** Takes the next sequences of the partition for a batch; the caller journals it before appending. */
  private intend(topic: string, partition: number, positions: number[], messages: DelayedMessage[]): PendingIntent {
    const key = sequenceKey(topic, partition);
    const baseSequence = this.sequences.get(key) ?? 0;
    this.sequences.set(key, sequenceAfter(baseSequence, positions.length));
    const intent: DeliveryIntent = { kind: 'intent', topic, partition, producerId: String(this.producerId), baseSequence, positions };
    return { ...intent, messages };
  }

  /** A new intent: journaled before its first attempt. */
  private async journalAndAttempt(intent: PendingIntent): Promise<boolean> {
    await this.journal.append(withoutMessages(intent));
    return this.attempt(intent);
  }

  /** Appends a journaled intent's batch; false when it must be tried again later. */
  private async attempt(intent: PendingIntent): Promise<boolean> {
    const outcome = await this.writer.write(intent.topic, intent.partition, this.batchOf(intent));
    if (outcome === 'not-here') return false;
    // Not waited for: a lost marker only costs an append that the partition answers as a duplicate.
    this.journal.append({ kind: 'done', producerId: intent.producerId, topic: intent.topic, partition: intent.partition, baseSequence: intent.baseSequence }).catch(() => {});
    if (outcome === 'appended') {
      const now = Date.now();
      for (const m of intent.messages) this.store.released(m.dueMs);
      this.stats.delivered += intent.messages.length;
      this.stats.lastLatenessMs = now - intent.messages.at(-1)!.dueMs;
      this.onDelivered?.(intent.messages.map((m) => m.dueMs), now);
      return true;
    }
    if (outcome === 'gone') {
      log.warn({ topic: intent.topic, partition: intent.partition, records: intent.messages.length }, 'delayed records dropped: their partition no longer exists');
      for (const m of intent.messages) this.drop(m.dueMs);
      return true;
    }
    // The partition's state of this producer is not ours (a batch of ours lost from its log):
    // a fresh producer id starts clean everywhere, and the same records go under it.
    log.warn({ topic: intent.topic, partition: intent.partition, producerId: String(this.producerId) }, 'delayed delivery: sequence refused, taking a new producer id');
    this.producerId = await this.newProducerId();
    this.sequences.clear();
    return this.journalAndAttempt(this.intend(intent.topic, intent.partition, intent.positions, intent.messages));
  }

  private async retryUnresolved(): Promise<boolean> {
    if (this.producerId < 0n) this.producerId = await this.newProducerId();
    while (this.unresolved.length > 0) {
      if (!(await this.attempt(this.unresolved[0]))) return false;
      this.unresolved.shift();
    }
    return true;
  }

  private drop(dueMs: number): void {
    this.store.released(dueMs);
    this.stats.dropped++;
  }

  /** The records with their due times as timestamps, under the intent's producer id and sequences. */
  private batchOf(intent: PendingIntent): Buffer {
    const base = intent.messages[0].dueMs;
    return encodeRecordBatch({
      producerId: BigInt(intent.producerId),
      producerEpoch: 0,
      baseSequence: intent.baseSequence,
      baseTimestamp: BigInt(base),
      records: intent.messages.map((m, i) => ({ key: m.key, value: m.value, headers: m.headers, timestampDelta: m.dueMs - base, offsetDelta: i })),
    });
  }
}

/** The intent as journaled: the records themselves are in the store already. */
function withoutMessages(intent: PendingIntent): DeliveryIntent {
  const { kind, topic, partition, producerId, baseSequence, positions } = intent;
  return { kind, topic, partition, producerId, baseSequence, positions };
}

/** The first index whose due time is after `ms`. */
function sortedIndex(queue: readonly TimerEntry[], ms: number): number {
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (queue[mid].dueMs <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
