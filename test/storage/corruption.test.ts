import assert from 'node:assert/strict';
import { appendFileSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { nativeAddon } from '../../src/native/addon.js';
import { HeaderField, RECORD_BATCH_HEADER_SIZE } from '../../src/protocol/records/batch-layout.js';
import { batchSpans } from '../../src/protocol/records/batch-spans.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { readInt64 } from '../../src/storage/int64.js';
import type { AppendMode, LogConfig } from '../../src/storage/log-config.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { LogSegment, MAX_RELATIVE_OFFSET, segmentFileName } from '../../src/storage/segment.js';
import {
  appendGenerated,
  assertGeneratedPrefix,
  assertLookupsMatchScan,
  assertOnlySegmentFiles,
  generatedBatch,
  openLog,
  readAll,
  readBatches,
  tempDir,
  testConfig,
} from '../support/storage-fixtures.js';

/**
 * Damages a closed log on disk (as a crash, a bad disk or a careless operator might) and checks
 * that recovery keeps exactly the batches before the damage, never serves a damaged one, rebuilds
 * the indexes, and leaves a log that takes appends.
 */

const BASE_CONFIG: Partial<LogConfig> = { segmentBytes: 16 * 1024, indexIntervalBytes: 512 };
/** Offsets and timestamps looked up per case, against a brute-force scan. */
const LOOKUPS = 150;

/** A batch of the last segment as written: where it is and which offsets it holds. */
interface BatchLayout {
  start: number;
  size: number;
  baseOffset: number;
  lastOffsetDelta: number;
}

/** The undamaged log every case copies. */
interface Template {
  dir: string;
  end: number;
  bases: number[];
  lastBatches: BatchLayout[];
}

let template: Template;
let removeTemplate = (): void => {};

before(async () => {
  const { dir, cleanup } = tempDir('corruption-template');
  removeTemplate = cleanup;
  const log = openLog(dir, testConfig(BASE_CONFIG));
  // Several segments, the last of them holding several batches.
  let inLast = 0;
  while (log.segmentCount < 5 || inLast < 6) {
    const segments = log.segmentCount;
    appendGenerated(log, 1);
    inLast = log.segmentCount === segments ? inLast + 1 : 1;
  }
  const bases = log.segmentBaseOffsets();
  const end = log.logEndOffset;
  await log.close();
  const bytes = readFileSync(LogSegment.paths(dir, bases.at(-1)!).log);
  const lastBatches = [...batchSpans(bytes)].map(({ offset, size }) => ({
    start: offset,
    size,
    baseOffset: readInt64(bytes, offset),
    lastOffsetDelta: bytes.readInt32BE(offset + HeaderField.lastOffsetDelta),
  }));
  template = { dir, end, bases, lastBatches };
});

after(() => removeTemplate());

type FileDamage =
  | { kind: 'flip'; flips: { at: number; xor: number }[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'garbage'; bytes: Uint8Array };

/** Damage to the last segment's .log; a flip with a batch number lands in that batch's header. */
type LogDamage =
  | { kind: 'flip'; flips: { at: number; headerOf: number | null; xor: number }[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'zero-tail'; cutAt: number | null; zeros: number };

type IndexDamage = FileDamage | { kind: 'delete' } | { kind: 'replace'; bytes: Uint8Array };

interface Case {
  log: LogDamage | null;
  index: { file: 'index' | 'timeindex'; segment: number; damage: IndexDamage } | null;
  /** Recover from the last segment's base offset (trusting the segments before it) or from 0. */
  trustPrefix: boolean;
  appendMode: AppendMode;
}

const flips = fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 });
const garbage = fc.uint8Array({ minLength: 1, maxLength: 300 });

const logDamage: fc.Arbitrary<LogDamage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    flips: fc.array(
      fc.record({ at: fc.nat(), headerOf: fc.option(fc.nat(), { nil: null }), xor: fc.integer({ min: 1, max: 255 }) }),
      { minLength: 1, maxLength: 4 },
    ),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: garbage }),
  fc.record({ kind: fc.constant('zero-tail' as const), cutAt: fc.option(fc.nat(), { nil: null }), zeros: fc.integer({ min: 1, max: 64 * 1024 }) }),
);

const indexDamage: fc.Arbitrary<IndexDamage> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), flips }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: garbage }),
  fc.record({ kind: fc.constant('delete' as const) }),
  fc.record({ kind: fc.constant('replace' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 200 }) }),
);

const cases: fc.Arbitrary<Case> = fc
  .record({
    log: fc.option(logDamage, { nil: null }),
    index: fc.option(fc.record({ file: fc.constantFrom('index' as const, 'timeindex' as const), segment: fc.nat(), damage: indexDamage }), { nil: null }),
    trustPrefix: fc.boolean(),
    appendMode: fc.constantFrom<AppendMode>('write', 'mmap'),
  })
  .filter((c) => c.log !== null || c.index !== null);

/** Applies a flip, truncation or garbage to a file's bytes. */
function damageBytes(bytes: Buffer, damage: FileDamage): Buffer {
  switch (damage.kind) {
    case 'flip': {
      const out = Buffer.from(bytes);
      if (out.length > 0) for (const f of damage.flips) out[f.at % out.length] ^= f.xor;
      return out;
    }
    case 'truncate':
      return bytes.subarray(0, damage.at % (bytes.length + 1));
    case 'garbage':
      return Buffer.concat([bytes, damage.bytes]);
  }
}

/** What recovery must serve: the original batches up to intactEnd, then any that moved. */
interface Expectation {
  intactEnd: number;
  /** Batches whose base offset (outside the CRC) was damaged upward: served at the new offset. */
  moved: { offset: number; original: number }[];
}

/**
 * Which batches of the damaged last segment recovery must keep, going by which bytes changed:
 * a change covered by the CRC, or to the length or magic, rejects the batch and everything
 * after it; the partition leader epoch lies outside the CRC, so a batch changed there alone is
 * kept; a changed base offset is kept if it still moves forward and fits the segment's index.
 */
function expectedAfter(original: Buffer, damaged: Buffer): Expectation {
  const last = template.lastBatches;
  const segmentBase = template.bases.at(-1)!;
  const moved: Expectation['moved'] = [];
  let next = segmentBase;
  for (const b of last) {
    if (b.start + b.size > damaged.length) break;
    let structural = false;
    for (let i = 0; i < b.size && !structural; i++) {
      const at = b.start + i;
      const outsideCrc = i < HeaderField.batchLength || (i >= HeaderField.partitionLeaderEpoch && i < HeaderField.magic);
      structural = original[at] !== damaged[at] && !outsideCrc;
    }
    if (structural) break;
    const base = readInt64(damaged, b.start);
    if (base < next || base + b.lastOffsetDelta - segmentBase > MAX_RELATIVE_OFFSET) break;
    if (base !== b.baseOffset || moved.length > 0) moved.push({ offset: base, original: b.baseOffset });
    next = base + b.lastOffsetDelta + 1;
  }
  const intactEnd = moved.length > 0 ? moved[0].original : next;
  return { intactEnd, moved };
}

function damageLog(path: string, damage: LogDamage): Expectation {
  const original = readFileSync(path);
  let damaged: Buffer;
  if (damage.kind === 'flip') {
    const batches = template.lastBatches;
    const flips = damage.flips.map(({ at, headerOf, xor }) => ({
      // Header fields are few bytes among many: aim half the flips at them.
      at: headerOf === null ? at % original.length : batches[headerOf % batches.length].start + (at % RECORD_BATCH_HEADER_SIZE),
      xor,
    }));
    damaged = damageBytes(original, { kind: 'flip', flips });
  } else if (damage.kind === 'zero-tail') {
    // A torn write into a preallocated mapping: data, maybe a partial batch, then zeros.
    const kept = damage.cutAt === null ? original : original.subarray(0, damage.cutAt % (original.length + 1));
    damaged = Buffer.concat([kept, Buffer.alloc(damage.zeros)]);
  } else damaged = damageBytes(original, damage);
  writeFileSync(path, damaged);
  return expectedAfter(original, damaged);
}

function damageIndex(path: string, damage: IndexDamage): void {
  if (damage.kind === 'delete') rmSync(path);
  else if (damage.kind === 'replace') writeFileSync(path, damage.bytes);
  else writeFileSync(path, damageBytes(readFileSync(path), damage));
}

/** Damages a copy of the template as the case says; returns what recovery must serve. */
function damage(dir: string, c: Case): Expectation {
  const expected = c.log ? damageLog(LogSegment.paths(dir, template.bases.at(-1)!).log, c.log) : { intactEnd: template.end, moved: [] };
  if (c.index) {
    // Only the last segment is checked when the prefix is trusted, and a trusted index is
    // believed unless it is missing (as in Kafka): damage the others only by deleting files.
    const anySegment = !c.trustPrefix || c.index.damage.kind === 'delete';
    const segment = anySegment ? c.index.segment % template.bases.length : template.bases.length - 1;
    damageIndex(LogSegment.paths(dir, template.bases[segment])[c.index.file], c.index.damage);
  }
  return expected;
}

/** Asserts the log serves exactly the expected batches; returns its end. */
function assertServes(log: PartitionLog, expected: Expectation): number {
  const served = readBatches(log);
  const intact = served.slice(0, served.length - expected.moved.length);
  assert.equal(assertGeneratedPrefix(intact), expected.intactEnd, 'batches before the damage are all kept');
  let end = expected.intactEnd;
  for (const [i, m] of expected.moved.entries()) {
    const bytes = served[intact.length + i];
    const batch = decodeRecordBatch(bytes);
    assert.equal(Number(batch.baseOffset), m.offset);
    assert.ok(bytes.subarray(HeaderField.magic).equals(generatedBatch(m.original).bytes.subarray(HeaderField.magic)), `moved batch ${m.original}`);
    end = m.offset + batch.lastOffsetDelta + 1;
  }
  assert.equal(log.logEndOffset, end, 'the log ends after the last batch kept');
  return end;
}

function checkRecovery(c: Case): void {
  const { dir, cleanup } = tempDir('corruption');
  try {
    cpSync(template.dir, dir, { recursive: true });
    const expected = damage(dir, c);
    const log = openLog(dir, testConfig({ ...BASE_CONFIG, appendMode: c.appendMode }), false, c.trustPrefix ? template.bases.at(-1)! : 0);
    try {
      const end = assertServes(log, expected);
      assertOnlySegmentFiles(log);
      assertLookupsMatchScan(log, readAll(log), LOOKUPS);
      // Appends continue from the recovered end and read back after everything before them.
      appendGenerated(log, 4);
      assert.equal(assertGeneratedPrefix(readBatches(log, end), end), log.logEndOffset);
    } finally {
      // Dropped unflushed: the fdatasyncs of a clean close would cost more than the checks.
      log.deleteAll();
    }
  } finally {
    cleanup();
  }
}

test('mmap append mode has the native addon in CI', () => {
  if (process.env.CI) assert.ok(nativeAddon, 'the native addon must be built in CI: without it mmap mode is never exercised');
});

test('recovery keeps exactly the undamaged batches, rebuilds the indexes, and the log takes appends', () => {
  fc.assert(
    fc.property(cases, checkRecovery),
    { numRuns: 300 },
  );
});

test('a base offset damaged beyond what the index can hold is cut off, and the log stays usable', async () => {
  const { dir, cleanup } = tempDir('corruption-base-offset');
  try {
    cpSync(template.dir, dir, { recursive: true });
    const last = template.lastBatches.at(-1)!;
    const path = LogSegment.paths(dir, template.bases.at(-1)!).log;
    const bytes = readFileSync(path);
    // +2^48: still a forward-moving offset, far past any int32 relative offset.
    bytes[last.start + 1] ^= 0x01;
    writeFileSync(path, bytes);
    const log = openLog(dir, testConfig(BASE_CONFIG), false, 0);
    assert.equal(log.logEndOffset, last.baseOffset);
    appendGenerated(log, 2);
    assert.equal(assertGeneratedPrefix(readBatches(log)), log.logEndOffset);
    await log.close();
  } finally {
    cleanup();
  }
});

test('index files left without their .log by an interrupted delete are removed, not reused', async () => {
  const { dir, cleanup } = tempDir('corruption-orphans');
  try {
    // The stale entries point past anything a new segment 0 will hold.
    const stale = Buffer.alloc(8 * 50);
    for (let i = 0; i < 50; i++) {
      stale.writeInt32BE(i * 4, i * 8);
      stale.writeInt32BE(100_000 + i * 1000, i * 8 + 4);
    }
    writeFileSync(LogSegment.paths(dir, 0).index, stale);
    appendFileSync(LogSegment.paths(dir, 0).timeindex, Buffer.alloc(24, 1));
    writeFileSync(`${dir}/${segmentFileName(500, '.index')}`, stale);
    const log = openLog(dir, testConfig(BASE_CONFIG), false, 0);
    assertOnlySegmentFiles(log);
    appendGenerated(log, 30);
    const records = readAll(log);
    assert.equal(assertGeneratedPrefix(readBatches(log)), log.logEndOffset);
    assertLookupsMatchScan(log, records);
    await log.close();
  } finally {
    cleanup();
  }
});
