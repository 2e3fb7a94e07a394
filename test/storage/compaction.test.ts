import assert from 'node:assert/strict';
import { closeSync, cpSync, existsSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { CompressionType } from '../../src/protocol/compression/index.js';
import type { TimestampType } from '../../src/protocol/records/batch-layout.js';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { cleanableRange, cleanLog, cleanPass, dirtyRatio, LogCleaner, runInSlices, type CleanStats } from '../../src/storage/log-cleaner.js';
import type { LogConfig } from '../../src/storage/log-config.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import type { SwapHook, SwapStep } from '../../src/storage/segment-swap.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { assertOnlySegmentFiles, openLog, readBatches, regionBytes, tempDir, testConfig } from '../support/storage-fixtures.js';

// ---------------------------------------------------------------------------------------------
// Writing and reading

interface Rec {
  key: string | null;
  value: string | null;
}

interface BatchSpec {
  records: Rec[];
  compression: CompressionType;
  /** An idempotent producer's batch: producer id, epoch and base sequence set. */
  producer?: boolean;
  transactional?: boolean;
  control?: boolean;
}

/** A record as read back: what compaction must preserve. */
interface Entry {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: string;
}

interface BatchView {
  bytes: Buffer;
  baseOffset: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  hasDeleteHorizon: boolean;
  /** The header fields compaction must never change. */
  fixed: { producerId: bigint; producerEpoch: number; baseSequence: number; compression: number; timestampType: TimestampType; partitionLeaderEpoch: number; transactional: boolean; control: boolean };
  records: Entry[];
}

const long = (s: string) => s.padEnd(120, '.');
const CODECS = [CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];
const buf = (s: string | null) => (s === null ? null : Buffer.from(s));

/** Appends one batch with the broker clock at `now`; record i is stamped now + i * step (create time). */
function appendBatch(log: PartitionLog, spec: BatchSpec, now: number, step = 1): void {
  const batch = encodeRecordBatch({
    baseTimestamp: BigInt(now),
    compression: spec.compression,
    transactional: spec.transactional,
    control: spec.control,
    ...(spec.producer || spec.transactional ? { producerId: 7n, producerEpoch: 2, baseSequence: log.logEndOffset } : {}),
    records: spec.records.map((r, i) => ({ key: buf(r.key), value: buf(r.value), timestampDelta: i * step, headers: [{ key: 'n', value: Buffer.from(String(i)) }] })),
  });
  log.append(batch, { leaderEpoch: 4, now, assignOffsets: true });
}

/**
 * Every batch the log serves, decoded (which checks its CRC and records), read as a consumer
 * reads: each fetch continues after the last batch's lastOffset, which compaction keeps even
 * when the records at the end of a batch are gone.
 */
function snapshot(log: PartitionLog): BatchView[] {
  return readBatches(log).map(batchView);
}

/** One whole batch, decoded: which checks its CRC and its records. */
function batchView(bytes: Buffer): BatchView {
  const b = decodeRecordBatch(bytes);
  const base = Number(b.baseOffset);
  return {
    bytes,
    baseOffset: base,
    lastOffsetDelta: b.lastOffsetDelta,
    baseTimestamp: Number(b.baseTimestamp),
    hasDeleteHorizon: b.hasDeleteHorizon,
    fixed: {
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      baseSequence: b.baseSequence,
      compression: b.compression,
      timestampType: b.timestampType,
      partitionLeaderEpoch: b.partitionLeaderEpoch,
      transactional: b.transactional,
      control: b.control,
    },
    records: b.records.map((r) => ({
      offset: base + r.offsetDelta,
      timestamp: b.timestampType === 'log-append' ? Number(b.maxTimestamp) : Number(b.baseTimestamp) + r.timestampDelta,
      key: r.key?.toString() ?? null,
      value: r.value?.toString() ?? null,
      headers: r.headers.map((h) => `${h.key}=${h.value?.toString()}`).join(','),
    })),
  };
}

/** The whole batches of a fetched region (a cut-off last one is skipped, as clients do). */
function batchesIn(region: Buffer): BatchView[] {
  return [...batchSpans(region, { allowPartialTail: true })].map((span) => batchView(region.subarray(span.offset, span.offset + span.size)));
}

const entries = (view: readonly BatchView[]): Entry[] => view.flatMap((b) => b.records);
const isTombstone = (r: Entry) => r.key !== null && r.value === null;

/** Offsets strictly increase across the whole log, within and across batches. */
function assertOffsetsIncrease(view: readonly BatchView[]): void {
  let last = -1;
  for (const b of view) {
    assert.ok(b.baseOffset > last, `batch at ${b.baseOffset} follows ${last}`);
    for (const r of b.records) {
      assert.ok(r.offset > last && r.offset <= b.baseOffset + b.lastOffsetDelta, `record ${r.offset} in batch ${b.baseOffset}`);
      last = r.offset;
    }
    last = b.baseOffset + b.lastOffsetDelta;
  }
}

/** Opens a closed log's directory again after a clean shutdown, with its cleaner checkpoint. */
function reopen(log: PartitionLog): PartitionLog {
  const reopened = openLog(log.dir, log.config);
  reopened.cleanerCheckpoint = log.cleanerCheckpoint;
  return reopened;
}

// ---------------------------------------------------------------------------------------------
// The model: what the log must hold after each pass

interface ModelRecord extends Entry {
  /** The delete horizon of its batch, once a pass has kept it as a tombstone. */
  horizon: number | null;
}

interface Model {
  records: ModelRecord[];
  checkpoint: number;
}

/**
 * One pass over the model, from the segment layout alone: the latest offset of each key in the
 * dirty range wins; tombstones go once a pass runs at or after their horizon; a trailing run
 * of segments that would keep nothing stays as it is (and dirty). Returns the new checkpoint.
 */
function cleanModel(model: Model, log: PartitionLog, now: number): number {
  const layout = cleanableRange(log);
  const segments = layout.segments.map((s) => ({ base: s.baseOffset, next: s.nextOffset }));
  // The range, checked against the log rather than taken from the cleaner: every inactive segment, up to the active one.
  const activeBase = log.segmentBaseOffsets().at(-1)!;
  assert.equal(segments.length, log.segmentCount - 1);
  assert.equal(layout.end, activeBase);
  if (segments.length === 0) return model.checkpoint;
  const end = activeBase;
  const firstDirty = Math.min(Math.max(model.checkpoint, log.logStartOffset, segments[0].base), end);
  const latest = new Map<string, number>();
  for (const r of model.records) if (r.key !== null && r.offset >= firstDirty && r.offset < end) latest.set(r.key, r.offset);
  const keeps = (r: ModelRecord) =>
    r.offset >= end || r.key === null || ((latest.get(r.key) ?? -1) <= r.offset && !(r.value === null && r.horizon !== null && now >= r.horizon));
  let cleanedUpTo = end;
  for (const s of [...segments].reverse()) {
    if (model.records.some((r) => r.offset >= s.base && r.offset < s.next && keeps(r))) break;
    cleanedUpTo = s.base;
  }
  model.records = model.records.filter((r) => r.offset >= cleanedUpTo || keeps(r));
  for (const r of model.records) if (r.offset < cleanedUpTo && isTombstone(r) && r.horizon === null) r.horizon = now + log.config.deleteRetentionMs;
  model.checkpoint = cleanedUpTo;
  return cleanedUpTo;
}

const withoutHorizon = (records: readonly ModelRecord[]): Entry[] => records.map(({ horizon: _, ...e }) => e);

/**
 * What must hold of any compacted log, whatever the cleaner's choices: every record is the one
 * appended at its offset; each key's latest record is there unless it is a tombstone, and a
 * key whose latest tombstone is gone has nothing left; below cleanedUpTo each key appears
 * once at most, as its latest record below the range end.
 */
function assertCompactedInvariants(history: readonly Entry[], view: readonly BatchView[], cleanedUpTo: number, rangeEnd: number): void {
  assertOffsetsIncrease(view);
  const byOffset = new Map(history.map((r) => [r.offset, r]));
  const present = entries(view);
  for (const r of present) assert.deepEqual(r, byOffset.get(r.offset), `offset ${r.offset} holds what was appended there`);
  const presentAt = new Set(present.map((r) => r.offset));
  const latestOf = new Map<string, Entry>();
  for (const r of history) if (r.key !== null) latestOf.set(r.key, r);
  for (const [key, latest] of latestOf) {
    if (latest.value !== null) assert.ok(presentAt.has(latest.offset), `the latest value of ${key} (offset ${latest.offset}) survives`);
    else if (!presentAt.has(latest.offset)) assert.ok(!present.some((r) => r.key === key), `nothing of ${key} survives its dropped tombstone`);
  }
  const latestBelowEnd = new Map<string, number>();
  for (const r of history) if (r.key !== null && r.offset < rangeEnd) latestBelowEnd.set(r.key, r.offset);
  for (const r of present) {
    if (r.key !== null && r.offset < cleanedUpTo) assert.equal(r.offset, latestBelowEnd.get(r.key), `obsolete ${r.key} at ${r.offset} survived`);
  }
}

/**
 * Batches keep the header fields of the batch appended at their base offset, and a batch that
 * kept all its records and needed no horizon is the very batch appended.
 */
function assertBatchesPreserved(originals: ReadonlyMap<number, BatchView>, view: readonly BatchView[], model: readonly ModelRecord[]): void {
  const horizonAt = new Map(model.map((r) => [r.offset, r.horizon]));
  for (const b of view) {
    const original = originals.get(b.baseOffset);
    assert.ok(original, `batch at ${b.baseOffset} was appended there`);
    assert.equal(b.lastOffsetDelta, original.lastOffsetDelta, `batch ${b.baseOffset} keeps its offset range`);
    assert.deepEqual(b.fixed, original.fixed, `batch ${b.baseOffset} keeps producer, codec, timestamp type and leader epoch`);
    const tombstones = b.records.filter(isTombstone);
    for (const t of tombstones) {
      const horizon = horizonAt.get(t.offset);
      if (horizon !== null && horizon !== undefined) {
        assert.ok(b.hasDeleteHorizon, `batch ${b.baseOffset} is marked with its delete horizon`);
        assert.equal(b.baseTimestamp, horizon, `batch ${b.baseOffset} stores its delete horizon`);
      }
    }
    if (!b.hasDeleteHorizon) assert.equal(b.baseTimestamp, original.baseTimestamp);
    if (b.records.length === original.records.length && !b.hasDeleteHorizon) assert.ok(b.bytes.equals(original.bytes), `untouched batch ${b.baseOffset} is copied as it is`);
  }
}

// ---------------------------------------------------------------------------------------------
// Random workloads

const recArb: fc.Arbitrary<Rec> = fc.record({
  key: fc.oneof({ weight: 12, arbitrary: fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5') }, { weight: 1, arbitrary: fc.constant(null) }),
  value: fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 120 }) }, { weight: 1, arbitrary: fc.constant(null) }),
});

const batchArb: fc.Arbitrary<BatchSpec> = fc.record({
  records: fc.array(recArb, { minLength: 1, maxLength: 5 }),
  compression: fc.constantFrom(...CODECS),
  producer: fc.boolean(),
});

const workloadArb = fc.record({
  rounds: fc.array(fc.array(batchArb, { minLength: 1, maxLength: 25 }), { minLength: 1, maxLength: 3 }),
  segmentBytes: fc.integer({ min: 400, max: 3000 }),
  indexIntervalBytes: fc.integer({ min: 64, max: 1024 }),
  timestampType: fc.constantFrom<TimestampType>('create', 'log-append'),
  step: fc.integer({ min: 0, max: 3 }),
});

type Workload = typeof workloadArb extends fc.Arbitrary<infer W> ? W : never;

const RETENTION = 15_000;

function workloadConfig(w: Workload): LogConfig {
  return testConfig({ segmentBytes: w.segmentBytes, indexIntervalBytes: w.indexIntervalBytes, timestampType: w.timestampType, cleanupCompact: true, cleanupDelete: false, deleteRetentionMs: RETENTION });
}

/** Appends round `r` of a workload; clocks move 10 s per round, so horizons expire a round or two later. */
function appendRound(log: PartitionLog, w: Workload, r: number): void {
  for (const [i, spec] of w.rounds[r].entries()) appendBatch(log, spec, 1_000_000 + r * 10_000 + i, w.step);
}

const roundClock = (r: number) => 1_000_000 + r * 10_000 + 5_000;

test('compaction keeps each key\'s latest record, drops tombstones after their horizon, and survives reopening', async () => {
  await fc.assert(
    fc.asyncProperty(workloadArb, async (w) => {
      const { dir, cleanup } = tempDir('compact');
      try {
        let log = openLog(dir, workloadConfig(w));
        const model: Model = { records: [], checkpoint: 0 };
        const history: Entry[] = [];
        const originals = new Map<number, BatchView>();
        const check = (stats: CleanStats, cleanedUpTo: number, rangeEnd: number) => {
          const view = snapshot(log);
          assert.deepEqual(entries(view), withoutHorizon(model.records));
          assert.equal(stats.cleanedUpTo, cleanedUpTo);
          assert.equal(log.cleanerCheckpoint, cleanedUpTo);
          assertCompactedInvariants(history, view, cleanedUpTo, rangeEnd);
          assertBatchesPreserved(originals, view, model.records);
        };
        const clean = (now: number) => {
          const rangeEnd = log.segmentBaseOffsets().at(-1)!;
          const cleanedUpTo = cleanModel(model, log, now);
          check(cleanLog(log, now), cleanedUpTo, rangeEnd);
        };
        for (let r = 0; r < w.rounds.length; r++) {
          const before = log.logEndOffset;
          appendRound(log, w, r);
          for (const b of snapshot(log)) {
            if (b.baseOffset < before) continue;
            originals.set(b.baseOffset, b);
            history.push(...b.records);
            model.records.push(...b.records.map((e) => ({ ...e, horizon: null })));
          }
          clean(roundClock(r));
        }
        const last = roundClock(w.rounds.length - 1);
        // Just before the latest horizon nothing changes; at it, the last tombstones go.
        clean(last + RETENTION - 1);
        clean(last + RETENTION);
        const belowCheckpoint = entries(snapshot(log)).filter((e) => e.offset < log.cleanerCheckpoint);
        assert.ok(!belowCheckpoint.some(isTombstone), 'no tombstone outlives its horizon in cleaned segments');

        const before = snapshot(log);
        await log.close();
        log = reopen(log);
        assertOnlySegmentFiles(log);
        assert.deepEqual(snapshot(log).map((b) => b.bytes), before.map((b) => b.bytes), 'the log reopens as it was');
        await log.close();
      } finally {
        cleanup();
      }
    }),
    { numRuns: 60 },
  );
});

// ---------------------------------------------------------------------------------------------
// Crashes

class Crash extends Error {}

interface Recorded {
  steps: { step: SwapStep; detail: string }[];
  pre: Entry[];
  post: Entry[];
  /** Offset ranges of the groups swapped, in order. */
  groups: { base: number; end: number }[];
}

/**
 * The log as a reader must see it when the first `committed` groups are swapped in: their
 * ranges as after the pass, the rest as before it.
 */
function partlyCleaned(r: Recorded, committed: number): Entry[] {
  const done = r.groups.slice(0, committed);
  const inDone = (e: Entry) => done.some((g) => e.offset >= g.base && e.offset < g.end);
  return [...r.pre.filter((e) => !inDone(e)), ...r.post.filter(inDone)].sort((a, b) => a.offset - b.offset);
}

/** How many groups are swapped in once steps[0..i] have happened, by the log (`switched`) or on disk (the `.log.swap` rename). */
function groupsDone(steps: Recorded['steps'], i: number, onDisk: boolean): number {
  return steps.slice(0, i + 1).filter((s) => (onDisk ? s.step === 'to-swap' && s.detail.endsWith('.log.swap') : s.step === 'switched')).length;
}

/**
 * Cleans a copy of the closed log in `source` at `now` with every step recorded, and checks on
 * the way that a reader at any step sees every group either before or after its swap.
 */
async function recordClean(source: string, config: LogConfig, now: number): Promise<Recorded> {
  const { dir, cleanup } = tempDir('crash-record');
  try {
    // A copy of the closed log, so that every run starts from the same files.
    cpSync(source, dir, { recursive: true });
    const log = openLog(dir, config);
    const pre = entries(snapshot(log));
    const steps: Recorded['steps'] = [];
    const views: Entry[][] = [];
    cleanLog(log, now, {
      onSwapStep: (step, detail) => {
        steps.push({ step, detail });
        views.push(entries(snapshot(log)));
      },
    });
    const post = entries(snapshot(log));
    const bases = log.segmentBaseOffsets();
    const groups = steps.filter((s) => s.step === 'written').map((s) => {
      const base = Number(s.detail);
      return { base, end: bases.find((b) => b > base)! };
    });
    const recorded = { steps, pre, post, groups };
    views.forEach((view, i) => assert.deepEqual(view, partlyCleaned(recorded, groupsDone(steps, i, false)), `a reader after step ${i} (${steps[i].step})`));
    await log.close();
    return recorded;
  } finally {
    cleanup();
  }
}

/**
 * Crashes a clean of a copy of `source` after step `k`, reopens the directory as after an
 * unclean shutdown, and checks that it holds each group as before or after its swap, that no
 * temporary file is left, and that cleaning again completes the pass.
 */
async function crashAfterStep(source: string, config: LogConfig, now: number, recorded: Recorded, k: number): Promise<void> {
  const { dir, cleanup } = tempDir('crash');
  try {
    // A copy of the closed log, so that every run starts from the same files.
    cpSync(source, dir, { recursive: true });
    const log = openLog(dir, config);
    let calls = 0;
    const hook: SwapHook = () => {
      if (calls++ === k) throw new Crash(`crash after step ${k}`);
    };
    assert.throws(() => cleanLog(log, now, { onSwapStep: hook }), Crash);
    // Only descriptors are released: the files stay as the crash left them.
    await log.close();
    const reopened = openLog(dir, config, false);
    const where = `crash after step ${k} (${recorded.steps[k].step} ${recorded.steps[k].detail})`;
    assertOnlySegmentFiles(reopened);
    assert.deepEqual(entries(snapshot(reopened)), partlyCleaned(recorded, groupsDone(recorded.steps, k, true)), where);
    cleanLog(reopened, now);
    assert.deepEqual(entries(snapshot(reopened)), recorded.post, `${where}, then cleaned again`);
    await reopened.close();
  } finally {
    cleanup();
  }
}

/**
 * A log whose clean merges several groups, one of which takes over a segment that kept nothing
 * from the group before (seg 1 below), with tombstones and every codec.
 */
async function craftedLog(dir: string): Promise<{ config: LogConfig; segmentBases: number[] }> {
  // segment.ms rolls a segment per clock step while appending; the pass then groups by segment.bytes.
  const config = testConfig({ segmentMs: 5_000, cleanupCompact: true, deleteRetentionMs: RETENTION });
  const log = openLog(dir, config);
  const segments: BatchSpec[][] = [
    [{ compression: CompressionType.Gzip, records: ['a0', 'a1', 'a2', 'a3'].map((k) => ({ key: k, value: `${k}-old` })) }],
    [0, 1].map((b) => ({ compression: CompressionType.Lz4, records: [0, 1, 2, 3].map((i) => ({ key: `b${b * 4 + i}`, value: long(`b-first-${i}`) })) })),
    [0, 1].map((b) => ({ compression: CompressionType.None, records: [0, 1, 2, 3].map((i) => ({ key: `b${b * 4 + i}`, value: long(`b-second-${i}`) })) })),
    [
      { compression: CompressionType.Zstd, producer: true, records: [{ key: 'a1', value: 'a1-new' }, { key: 'a2', value: null }, { key: 'c0', value: long('c0') }] },
      { compression: CompressionType.Snappy, records: [{ key: 'a3', value: null }, { key: 'c1', value: long('c1') }, { key: null, value: 'no key' }] },
    ],
    [{ compression: CompressionType.Gzip, records: ['d0', 'd1', 'd2', 'd3', 'c1'].map((k) => ({ key: k, value: long(`${k}-x`) })) }],
    [{ compression: CompressionType.None, records: ['d0', 'd1', 'd2'].map((k) => ({ key: k, value: long(`${k}-y`) })) }],
    [{ compression: CompressionType.Lz4, records: [{ key: 'b0', value: 'b0-active' }, { key: 'e0', value: 'e0' }] }],
  ];
  const segmentBases: number[] = [];
  for (const [i, specs] of segments.entries()) {
    segmentBases.push(log.logEndOffset);
    for (const spec of specs) appendBatch(log, spec, 1_000_000 + i * 10_000);
  }
  assert.deepEqual(log.segmentBaseOffsets(), segmentBases);
  await log.close();
  return { config: { ...config, segmentBytes: 1300 }, segmentBases };
}

test('a crash after any step of any swap loses nothing: each group reopens as before or after its swap', async () => {
  const { dir, cleanup } = tempDir('crash-source');
  try {
    const { config, segmentBases } = await craftedLog(dir);
    const now = 2_000_000;
    const recorded = await recordClean(dir, config, now);
    assert.ok(recorded.groups.length >= 3, `several groups, got ${JSON.stringify(recorded.groups)}`);
    // Segment 1 kept nothing, so it went with segment 2 rather than ending the group of segment 0.
    const carried = recorded.groups.find((g) => g.base === segmentBases[1]);
    assert.ok(carried && recorded.post.filter((e) => e.offset >= carried.base && e.offset < carried.end).every((e) => e.offset >= segmentBases[2]), `a group starts at segment 1 with segment 2's records: ${JSON.stringify(recorded.groups)}`);
    assert.ok(recorded.post.some((e) => e.key === 'b0' && e.value === long('b-second-0')), 'b0 keeps its older copy: its update is in the active segment');
    for (let k = 0; k < recorded.steps.length; k++) await crashAfterStep(dir, config, now, recorded, k);
  } finally {
    cleanup();
  }
});

test('a crash at a random step of cleaning a random log loses nothing', async () => {
  await fc.assert(
    fc.asyncProperty(workloadArb, fc.nat(), async (w, pick) => {
      const { dir, cleanup } = tempDir('crash-random');
      try {
        const config = workloadConfig(w);
        const log = openLog(dir, config);
        for (let r = 0; r < w.rounds.length; r++) appendRound(log, w, r);
        await log.close();
        const now = roundClock(w.rounds.length);
        const recorded = await recordClean(dir, config, now);
        // Nothing to swap (a single segment, or nothing obsolete): no step to crash at.
        if (recorded.steps.length === 0) return;
        await crashAfterStep(dir, config, now, recorded, pick % recorded.steps.length);
      } finally {
        cleanup();
      }
    }),
    { numRuns: 25 },
  );
});

test('a crash while deleting a replaced segment\'s files is finished on load', async () => {
  const { dir, cleanup } = tempDir('crash-partial');
  try {
    const { config } = await craftedLog(dir);
    const now = 2_000_000;
    const recorded = await recordClean(dir, config, now);
    const log = openLog(dir, config);
    // The first group that replaces several segments; groups before it are swapped in whole.
    const sources = (g: { base: number; end: number }) => log.inactiveSegments().filter((s) => s.baseOffset >= g.base && s.baseOffset < g.end);
    const target = recorded.groups.findIndex((g) => sources(g).length >= 2);
    assert.ok(target >= 0, 'some group replaces several segments');
    const victim = sources(recorded.groups[target])[1].baseOffset;
    let switches = 0;
    assert.throws(
      () =>
        cleanLog(log, now, {
          onSwapStep: (step) => {
            if (step === 'switched' && switches++ === target) throw new Crash();
          },
        }),
      Crash,
    );
    // The second replaced segment was being deleted: its log file is gone, its indexes are not,
    // and a `.deleted` name was left behind.
    unlinkSync(join(dir, segmentFileName(victim, '.log')));
    cpSync(join(dir, segmentFileName(victim, '.index')), join(dir, segmentFileName(victim, '.timeindex.deleted')));
    assert.ok(existsSync(join(dir, segmentFileName(recorded.groups[target].base, '.log.swap'))), 'the swap was committed');
    await log.close();
    const reopened = openLog(dir, config, false);
    assertOnlySegmentFiles(reopened);
    assert.deepEqual(entries(snapshot(reopened)), partlyCleaned(recorded, target + 1));
    await reopened.close();
  } finally {
    cleanup();
  }
});

// ---------------------------------------------------------------------------------------------
// Readers, tombstones, batches

test('fetches in flight keep reading the replaced segments; new reads see the cleaned log', async () => {
  const { dir, cleanup } = tempDir('readers');
  try {
    const { config } = await craftedLog(dir);
    const log = openLog(dir, { ...config, fileDeleteDelayMs: 60_000 });
    const before = entries(snapshot(log));
    const regions = log.segmentBaseOffsets().map((base) => log.read(base, 1 << 20)!);
    const heldBytes = regions.map(regionBytes);
    const oldFiles = log.inactiveSegments().map((s) => segmentFileName(s.baseOffset, '.log'));
    cleanLog(log, 2_000_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const replaced = oldFiles.filter((f) => !log.segmentBaseOffsets().some((b) => segmentFileName(b, '.log') === f));
    assert.ok(replaced.length > 0 && replaced.every((f) => !existsSync(join(dir, f))), 'replaced segments are gone from the directory');
    for (const [i, region] of regions.entries()) {
      const bytes = regionBytes(region);
      assert.ok(bytes.equals(heldBytes[i]), `region ${i} still reads the bytes it had`);
      const held = entries(batchesIn(bytes));
      assert.ok(held.length > 0, `region ${i} holds whole batches`);
      for (const e of held) assert.deepEqual(e, before.find((b) => b.offset === e.offset));
    }
    const after = entries(snapshot(log));
    assert.ok(after.length < before.length, 'the cleaned log is smaller');
    assert.ok(after.every((e) => before.some((b) => b.offset === e.offset && b.value === e.value)), 'reads after the clean see records from before it, at their offsets');
    await log.close();
  } finally {
    cleanup();
  }
});

test('a tombstone is stamped with its delete horizon when first cleaned and dropped once the horizon has come', async () => {
  const { dir, cleanup } = tempDir('tombstones');
  try {
    const log = openLog(dir, testConfig({ segmentMs: 5_000, cleanupCompact: true, deleteRetentionMs: 1_000 }));
    appendBatch(log, { compression: CompressionType.Gzip, records: [{ key: 'a', value: 'a1' }, { key: 'b', value: 'b1' }] }, 100_000);
    appendBatch(log, { compression: CompressionType.Gzip, records: [{ key: 'c', value: 'c1' }, { key: 'a', value: null }, { key: 'b', value: 'b2' }] }, 110_000, 7);
    appendBatch(log, { compression: CompressionType.None, records: [{ key: 'z', value: 'z' }] }, 120_000);
    const timestamps = new Map(entries(snapshot(log)).map((e) => [e.offset, e.timestamp]));

    const first = cleanLog(log, 200_000);
    assert.equal(first.nextDeleteHorizon, 201_000);
    const stamped = snapshot(log).find((b) => b.records.some(isTombstone))!;
    assert.ok(stamped.hasDeleteHorizon, 'the deleteHorizon attribute is set');
    assert.equal(stamped.baseTimestamp, 201_000, 'KIP-534: the horizon is stored in baseTimestamp');
    assert.equal(stamped.fixed.compression, CompressionType.Gzip, 'recompressed with its own codec');
    assert.deepEqual(stamped.records.map((e) => [e.offset, e.key, e.value]), [[2, 'c', 'c1'], [3, 'a', null], [4, 'b', 'b2']]);
    for (const e of entries(snapshot(log))) assert.equal(e.timestamp, timestamps.get(e.offset), `record ${e.offset} keeps its timestamp`);
    assert.ok(!entries(snapshot(log)).some((e) => e.key === 'a' && e.value !== null), 'the tombstone took the older value of its key');

    cleanLog(log, 200_999);
    assert.ok(entries(snapshot(log)).some(isTombstone), 'kept until the horizon');
    const dropped = cleanLog(log, 201_000);
    assert.equal(dropped.tombstonesRemoved, 1);
    assert.equal(dropped.nextDeleteHorizon, Infinity);
    assert.deepEqual(entries(snapshot(log)).map((e) => [e.offset, e.key]), [[2, 'c'], [4, 'b'], [5, 'z']]);
    for (const e of entries(snapshot(log))) assert.equal(e.timestamp, timestamps.get(e.offset));
    await log.close();
  } finally {
    cleanup();
  }
});

test('a rewritten batch keeps its base offset, offset range, producer fields and codec; an emptied batch goes', async () => {
  const { dir, cleanup } = tempDir('rewrite');
  try {
    const log = openLog(dir, testConfig({ segmentMs: 5_000, cleanupCompact: true }));
    appendBatch(log, { compression: CompressionType.Zstd, producer: true, records: [{ key: 'a', value: '1' }, { key: 'b', value: '1' }, { key: 'c', value: '1' }, { key: 'd', value: '1' }] }, 100_000);
    appendBatch(log, { compression: CompressionType.Lz4, producer: true, records: [{ key: 'a', value: '2' }, { key: 'd', value: '2' }] }, 110_000);
    appendBatch(log, { compression: CompressionType.Snappy, records: [{ key: 'b', value: '3' }, { key: 'c', value: '3' }] }, 120_000);
    appendBatch(log, { compression: CompressionType.None, records: [{ key: 'z', value: 'z' }] }, 130_000);
    const before = snapshot(log);
    const stats = cleanLog(log, 200_000);
    const after = snapshot(log);
    // The first batch lost every record, the second none, the third none: only the first is gone.
    assert.deepEqual(after.map((b) => b.baseOffset), [4, 6, 8]);
    assert.equal(stats.batchesRemoved, 1);
    assert.equal(stats.batchesRewritten, 0);
    assert.ok(after[0].bytes.equals(before[1].bytes) && after[1].bytes.equals(before[2].bytes), 'untouched batches are copied as they are');
    const files = readdirSync(dir).sort();
    const again = cleanLog(log, 200_000);
    assert.deepEqual([again.segmentsRead, again.segmentsWritten], [1, 0], 'a segment with nothing to change is not rewritten');
    assert.deepEqual(readdirSync(dir).sort(), files);

    appendBatch(log, { compression: CompressionType.None, records: [{ key: 'd', value: '5' }] }, 140_000);
    appendBatch(log, { compression: CompressionType.None, records: [{ key: 'y', value: 'y' }] }, 150_000);
    cleanLog(log, 200_000);
    const rewritten = snapshot(log)[0];
    assert.equal(rewritten.baseOffset, 4);
    assert.equal(rewritten.lastOffsetDelta, 1, 'the batch still ends at offset 5 although its record there is gone');
    assert.deepEqual(rewritten.fixed, before[1].fixed);
    assert.deepEqual(rewritten.records.map((e) => [e.offset, e.key, e.value]), [[4, 'a', '2']]);
    await log.close();
  } finally {
    cleanup();
  }
});

test('the active segment and offsets past the high watermark are neither cleaned nor consulted', async () => {
  const { dir, cleanup } = tempDir('scope');
  try {
    const log = openLog(dir, testConfig({ segmentMs: 5_000, cleanupCompact: true }));
    for (let i = 0; i < 4; i++) appendBatch(log, { compression: CompressionType.None, records: [{ key: 'k', value: `v${i}` }, { key: `u${i}`, value: 'u' }] }, 100_000 + i * 10_000);
    // Segments at 0, 2, 4 and the active one at 6. With the high watermark at 5, only 0 and 2 may be cleaned.
    const stats = cleanLog(log, 200_000, { upTo: 5 });
    assert.equal(stats.cleanedUpTo, 4);
    assert.deepEqual(entries(snapshot(log)).map((e) => `${e.offset}:${e.key}=${e.value}`), ['1:u0=u', '2:k=v1', '3:u1=u', '4:k=v2', '5:u2=u', '6:k=v3', '7:u3=u']);
    cleanLog(log, 200_000);
    // k=v3 in the active segment does not count: k=v2 stays, as in Kafka.
    assert.deepEqual(entries(snapshot(log)).map((e) => `${e.offset}:${e.key}=${e.value}`), ['1:u0=u', '3:u1=u', '4:k=v2', '5:u2=u', '6:k=v3', '7:u3=u']);
    await log.close();
  } finally {
    cleanup();
  }
});

test('aborted transactions go, committed ones are compacted, markers go with their last record after delete.retention.ms; records without a key are kept', async () => {
  const { dir, cleanup } = tempDir('txn');
  try {
    let log = openLog(dir, testConfig({ segmentMs: 5_000, cleanupCompact: true, deleteRetentionMs: 50_000 }));
    const COMMIT = '\u0000\u0000\u0000\u0001';
    const ABORT = '\u0000\u0000\u0000\u0000';
    appendBatch(log, { compression: CompressionType.None, records: [{ key: 'a', value: 'plain-1' }, { key: null, value: 'keyless' }] }, 100_000);
    appendBatch(log, { compression: CompressionType.Gzip, transactional: true, records: [{ key: 'a', value: 'txn' }, { key: 'b', value: 'txn' }] }, 110_000);
    appendBatch(log, { compression: CompressionType.None, transactional: true, control: true, records: [{ key: COMMIT, value: 'commit' }] }, 110_001);
    appendBatch(log, { compression: CompressionType.Lz4, transactional: true, records: [{ key: 'a', value: 'aborted' }, { key: 'c', value: 'aborted' }] }, 115_000);
    appendBatch(log, { compression: CompressionType.None, transactional: true, control: true, records: [{ key: ABORT, value: 'abort' }] }, 115_001);
    log.appendAbortedTxn({ producerId: 7n, firstOffset: 5, lastOffset: 7, lastStableOffset: 8 });
    appendBatch(log, { compression: CompressionType.None, records: [{ key: 'b', value: 'plain-2' }, { key: null, value: null }] }, 120_000);
    appendBatch(log, { compression: CompressionType.None, records: [{ key: 'z', value: 'z' }] }, 130_000);
    const shown = (view: BatchView[]) => entries(view).map((e) => `${e.key}=${e.value}`);

    cleanLog(log, 150_000);
    let after = snapshot(log);
    // The committed write of a made plain-1 obsolete and plain-2 made b=txn obsolete; the aborted
    // records went and made nothing obsolete. The abort marker is younger than delete.retention.ms.
    assert.deepEqual(shown(after), ['null=keyless', 'a=txn', `${COMMIT}=commit`, `${ABORT}=abort`, 'b=plain-2', 'null=null', 'z=z']);
    assert.ok(after.find((b) => b.records.some((r) => r.value === 'txn'))!.fixed.transactional, 'a rewritten transactional batch stays transactional');
    assert.deepEqual(log.abortedTransactions(0, log.logEndOffset).map((t) => t.lastOffset), [7], 'the kept marker keeps its index entry');
    log = reopen(log);
    assert.deepEqual(log.abortedTransactions(0, log.logEndOffset).map((t) => t.lastOffset), [7], 'and it is on disk');

    cleanLog(log, 200_000);
    after = snapshot(log);
    // Nothing is left of the aborted transaction: its marker and index entry go; the committed one still has a record.
    assert.deepEqual(shown(after), ['null=keyless', 'a=txn', `${COMMIT}=commit`, 'b=plain-2', 'null=null', 'z=z']);
    assert.deepEqual(log.abortedTransactions(0, log.logEndOffset), []);
    await log.close();
  } finally {
    cleanup();
  }
});

test('LogCleaner cleans when the dirty ratio passes min.cleanable.dirty.ratio or a delete horizon comes', async () => {
  const { dir, cleanup } = tempDir('cleaner');
  try {
    const config = testConfig({ segmentMs: 5_000, cleanupCompact: true, cleanupDelete: false, minCleanableDirtyRatio: 0.5, deleteRetentionMs: 1_000 });
    const log = openLog(dir, { ...config, cleanupCompact: false });
    const cleaner = new LogCleaner();
    let clock = 100_000;
    const add = (key: string, value: string | null) => appendBatch(log, { compression: CompressionType.None, records: [{ key, value: value?.padEnd(50, '.') ?? null }] }, (clock += 10_000));
    add('a', '1');
    add('b', '1');
    add('a', '2');
    assert.equal(await cleaner.cleanIfNeeded(log, clock), null, 'cleanup.policy=delete alone: never');
    const endOf = (): number => assert.fail('the cleanable end (a producer state load) is not asked of a log that is not compacted');
    assert.equal(await cleaner.cleanIfNeeded(log, clock, endOf), null);
    log.config = config;
    const first = await cleaner.cleanIfNeeded(log, clock);
    assert.ok(first, 'everything is dirty');
    assert.equal(log.cleanerCheckpoint, 2);
    assert.equal(await cleaner.cleanIfNeeded(log, clock), null, 'nothing dirty');
    add('b', null);
    add('c', '1');
    // Clean: a=2 at 2 (one segment after merging). Dirty: the tombstone's segment, no bigger than the clean part.
    const range = cleanableRange(log);
    assert.ok(range.dirtyBytes > 0 && range.dirtyBytes / (range.dirtyBytes + range.cleanBytes) <= 0.5, `dirty ${range.dirtyBytes}, clean ${range.cleanBytes}`);
    assert.equal(await cleaner.cleanIfNeeded(log, clock), null, 'dirty ratio not above 0.5');
    log.config = { ...config, minCleanableDirtyRatio: dirtyRatio(range) };
    assert.equal(await cleaner.cleanIfNeeded(log, clock), null, 'a ratio equal to min.cleanable.dirty.ratio is not above it (as in Kafka)');
    log.config = config;
    add('d', '1');
    const second = await cleaner.cleanIfNeeded(log, clock);
    assert.ok(second && second.nextDeleteHorizon === clock + 1_000, 'dirty ratio above 0.5: cleaned, the tombstone stamped');
    assert.equal(await cleaner.cleanIfNeeded(log, clock + 999), null);
    const third = await cleaner.cleanIfNeeded(log, clock + 1_000);
    assert.ok(third && third.tombstonesRemoved === 1, 'the horizon alone calls for a pass');
    assert.equal(await cleaner.cleanIfNeeded(log, clock + 5_000), null);

    // Truncation pulls the checkpoint back: the records written after it are new to the cleaner.
    const checkpoint = log.cleanerCheckpoint;
    log.truncateTo(checkpoint - 1);
    assert.equal(log.cleanerCheckpoint, log.logEndOffset);
    assert.ok(log.cleanerCheckpoint < checkpoint, 'the checkpoint moved back');
    await log.close();
  } finally {
    cleanup();
  }
});

test('max.compaction.lag.ms: a dirty record that old calls for a pass whatever the dirty ratio, and rolls the segment holding it', async () => {
  for (const maxCompactionLagMs of [30_000, Number.POSITIVE_INFINITY]) {
    const { dir, cleanup } = tempDir('max-lag');
    try {
      // A ratio of 1 is never exceeded: only the lag can call for a pass.
      const log = openLog(dir, testConfig({ segmentMs: 1_000_000_000, cleanupCompact: true, cleanupDelete: false, minCleanableDirtyRatio: 1, maxCompactionLagMs }));
      const cleaner = new LogCleaner();
      const add = (key: string, value: string, at: number) => appendBatch(log, { compression: CompressionType.None, records: [{ key, value }] }, at);
      add('a', '1', 100_000);
      add('a', '2', 140_000);
      add('c', '1', 180_000);
      if (maxCompactionLagMs === Number.POSITIVE_INFINITY) {
        assert.equal(log.inactiveSegments().length, 0, 'segment.ms alone: nothing rolled');
        assert.equal(await cleaner.cleanIfNeeded(log, 1_000_000), null);
      } else {
        assert.equal(log.inactiveSegments().length, 2, 'each record 30 s past its segment\'s first rolled it');
        assert.equal(await cleaner.cleanIfNeeded(log, 129_999), null, 'the oldest dirty record is not 30 s old yet');
        const pass = await cleaner.cleanIfNeeded(log, 130_000);
        assert.ok(pass && pass.recordsRemoved === 1, 'overdue: cleaned below the dirty ratio');
        assert.deepEqual(entries(snapshot(log)).map((e) => `${e.key}=${e.value}`), ['a=2', 'c=1']);
      }
      await log.close();
    } finally {
      cleanup();
    }
  }
});

test('a pass that leaves segments with nothing to keep is not repeated until later records arrive', async () => {
  const { dir, cleanup } = tempDir('no-repeat');
  try {
    const log = openLog(dir, testConfig({ segmentMs: 5_000, cleanupCompact: true, minCleanableDirtyRatio: 0, deleteRetentionMs: 1_000 }));
    const cleaner = new LogCleaner();
    const add = (key: string, value: string | null, at: number) => appendBatch(log, { compression: CompressionType.None, records: [{ key, value }] }, at);
    add('x', '1', 100_000);
    add('x', null, 110_000);
    add('y', '1', 120_000);
    const first = await cleaner.cleanIfNeeded(log, 200_000);
    assert.ok(first && first.nextDeleteHorizon === 201_000, 'x=1 removed, its tombstone stamped');
    // Past the horizon the tombstone would go, but it is all the cleanable range holds: the
    // segment is left as it is (and dirty), and nothing is counted as removed.
    const second = await cleaner.cleanIfNeeded(log, 201_000);
    assert.ok(second, 'the horizon calls for a pass');
    assert.deepEqual([second.cleanedUpTo, second.segmentsWritten, second.tombstonesRemoved, second.recordsRemoved], [0, 0, 0, 0]);
    assert.equal(log.cleanerCheckpoint, 0);
    assert.deepEqual(entries(snapshot(log)).map((e) => `${e.key}=${e.value}`), ['x=null', 'y=1']);
    assert.equal(await cleaner.cleanIfNeeded(log, 202_000), null, 'all dirty, but the same range: no pass');
    add('z', '1', 130_000);
    const third = await cleaner.cleanIfNeeded(log, 203_000);
    assert.ok(third && third.tombstonesRemoved === 1, 'with y=1 now cleanable, the tombstone goes');
    assert.deepEqual(entries(snapshot(log)).map((e) => `${e.key}=${e.value}`), ['y=1', 'z=1']);
    await log.close();
  } finally {
    cleanup();
  }
});

test('with cleanup.policy=compact,delete, retention still deletes cleaned segments', async () => {
  const { dir, cleanup } = tempDir('compact-delete');
  try {
    // segment.bytes small enough that cleaning merges nothing: a merged segment would take its newest record's time.
    const log = openLog(dir, testConfig({ segmentMs: 5_000, segmentBytes: 150, cleanupCompact: true, cleanupDelete: true, retentionMs: 50_000 }));
    for (let i = 0; i < 6; i++) appendBatch(log, { compression: CompressionType.Lz4, records: [{ key: `k${i % 2}`, value: `${i}` }, { key: `once${i}`, value: 'x' }] }, 100_000 + i * 10_000);
    cleanLog(log, 160_000);
    const bases = log.segmentBaseOffsets();
    assert.ok(bases.length >= 2, 'several segments');
    const deleted = log.applyRetention(175_000);
    assert.ok(deleted >= 1, 'old cleaned segments go by time');
    assert.ok(entries(snapshot(log)).every((e) => e.timestamp > 175_000 - 50_000), 'records older than retention.ms are gone');
    assert.ok(log.logStartOffset > 0, 'the log start moved');
    cleanLog(log, 175_000);
    assertOffsetsIncrease(snapshot(log));
    await log.close();
  } finally {
    cleanup();
  }
});

test('a damaged segment is not cleaned, and the log is left as it was', async () => {
  // Damage a sealed segment of a log trusted after a clean shutdown, so only the cleaner meets it.
  const damaged = async (at: (segment: number) => number, xor: number, error: RegExp) => {
    const { dir, cleanup } = tempDir('damaged');
    try {
      const config = testConfig({ segmentMs: 5_000, cleanupCompact: true });
      const log = openLog(dir, config);
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 2; j++) appendBatch(log, { compression: CompressionType.None, records: [{ key: 'k', value: `value-${i}-${j}` }] }, 100_000 + i * 10_000);
      }
      await log.close();
      const fd = openSync(join(dir, segmentFileName(2, '.log')), 'r+');
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, at(2));
      writeSync(fd, Buffer.from([byte[0] ^ xor]), 0, 1, at(2));
      closeSync(fd);
      const reopened = openLog(dir, config);
      const files = readdirSync(dir).sort();
      assert.throws(() => cleanLog(reopened, 200_000), error);
      assert.deepEqual(readdirSync(dir).sort(), files, 'no file written, renamed or deleted');
      assert.equal(reopened.cleanerCheckpoint, 0);
      await reopened.close();
    } finally {
      cleanup();
    }
  };
  // A byte of a record: the CRC catches it.
  await damaged(() => 70, 0xff, /CRC/);
  // The high byte of the first batch's length: reading stops there, and cleaning the segment
  // would silently drop both of its batches.
  await damaged(() => 8, 0x80, /damaged/);
});

test('a capped key map cleans the range in slices that end as one uncapped pass does', async () => {
  const { dir, cleanup } = tempDir('capped');
  try {
    const config = testConfig({ segmentMs: 5_000, cleanupCompact: true, minCleanableDirtyRatio: 0, deleteRetentionMs: 1_000 });
    const capped = openLog(join(dir, 'capped'), config);
    const whole = openLog(join(dir, 'whole'), config);
    // Ten segments of three keys each, from a set of eight: later segments make earlier records obsolete.
    for (let s = 0; s < 10; s++) {
      for (const log of [capped, whole]) {
        appendBatch(log, { compression: CompressionType.None, records: [0, 1, 2].map((i) => ({ key: `k${(s * 3 + i) % 8}`, value: `${s}.${i}` })) }, 100_000 + s * 10_000);
      }
    }
    const cleaner = new LogCleaner(4);
    const passes: CleanStats[] = [];
    for (let now = 300_000; passes.length < 20; now += 1) {
      const stats = await cleaner.cleanIfNeeded(capped, now);
      if (!stats) break;
      passes.push(stats);
    }
    assert.ok(passes[0].capped, 'the first pass stops at the cap');
    assert.ok(passes.length > 1 && passes.length < 20, `the range is cleaned in a few slices (${passes.length} passes)`);
    for (let i = 1; i < passes.length; i++) assert.ok(passes[i].cleanedUpTo >= passes[i - 1].cleanedUpTo, 'each slice starts where the last stopped');
    assert.ok(await new LogCleaner().cleanIfNeeded(whole, 300_000));
    assert.deepEqual(entries(snapshot(capped)), entries(snapshot(whole)));
    await Promise.all([capped.close(), whole.close()]);
  } finally {
    cleanup();
  }
});

test('a pass runs in slices with the event loop free between them, and gives up, leaving no output, when the log changes under it', async () => {
  const { dir, cleanup } = tempDir('slices');
  try {
    const config = testConfig({ segmentMs: 5_000, cleanupCompact: true, minCleanableDirtyRatio: 0, deleteRetentionMs: 1_000 });
    const names = ['sliced', 'interrupted', 'stopped', 'reference'] as const;
    const logs = Object.fromEntries(names.map((n) => [n, openLog(join(dir, n), config)])) as Record<(typeof names)[number], PartitionLog>;
    // Twelve segments of keys from a set of twenty: later segments make earlier records obsolete.
    for (let s = 0; s < 12; s++) {
      for (const log of Object.values(logs)) {
        for (let b = 0; b < 4; b++) {
          appendBatch(log, { compression: CompressionType.None, records: [0, 1, 2].map((i) => ({ key: `k${(s * 12 + b * 3 + i) % 20}`, value: long(`${s}.${b}.${i}`) })) }, 100_000 + s * 10_000 + b);
        }
      }
    }
    const now = 300_000;
    const sliceBytes = 512;
    const cleanedFiles = (log: PartitionLog) => readdirSync(log.dir).filter((f) => f.includes('.cleaned'));

    // Uninterrupted: many turns of the loop, and the same result as a pass that holds the loop.
    let turns = 0;
    const sliced = await runInSlices(cleanPass(logs.sliced, now, { sliceBytes }), () => (turns++, false));
    const reference = cleanLog(logs.reference, now);
    assert.ok(sliced && turns > 20, `${turns} turns of the event loop`);
    assert.deepEqual({ ...sliced }, { ...reference });
    assert.deepEqual(entries(snapshot(logs.sliced)), entries(snapshot(logs.reference)));

    // Records deleted (DeleteRecords) while the pass writes its output: it gives up at once.
    const cut = logs.interrupted.segmentBaseOffsets()[1];
    let changed = false;
    const interrupted = await runInSlices(cleanPass(logs.interrupted, now, { sliceBytes }), () => {
      if (!changed && cleanedFiles(logs.interrupted).length > 0) {
        logs.interrupted.deleteRecordsBefore(cut);
        changed = true;
      }
      return false;
    });
    assert.ok(changed, 'the change came while the pass was writing a cleaned segment');
    assert.equal(interrupted, null);
    assert.equal(logs.interrupted.cleanerCheckpoint, 0, 'the checkpoint stays');
    assert.deepEqual(cleanedFiles(logs.interrupted), []);
    const again = cleanLog(logs.interrupted, now);
    assert.ok(again.recordsRemoved > 0, 'the next pass does the work');
    assert.ok(entries(snapshot(logs.interrupted)).every((e) => e.offset >= cut));

    // Stopped by its driver (the broker shutting down): nothing of the log changes.
    const before = entries(snapshot(logs.stopped));
    let m = 0;
    assert.equal(await runInSlices(cleanPass(logs.stopped, now, { sliceBytes }), () => ++m > turns / 2), null);
    assert.deepEqual(cleanedFiles(logs.stopped), []);
    assert.deepEqual(entries(snapshot(logs.stopped)), before);
    assert.equal(logs.stopped.cleanerCheckpoint, 0);
    await Promise.all(Object.values(logs).map((l) => l.close()));
  } finally {
    cleanup();
  }
});
