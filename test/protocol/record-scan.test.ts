import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../src/protocol/protocol-error.js';
import { BATCH_LENGTH_OVERHEAD, CRC_START, DEFAULT_MAX_DECOMPRESSED_BYTES, HeaderField, RECORD_BATCH_HEADER_SIZE } from '../../src/protocol/records/batch-layout.js';
import { openBatchRecords } from '../../src/protocol/records/batch-records.js';
import { RecordBatchHeader } from '../../src/protocol/records/batch-header.js';
import { crc32c, encodeRecordBatch, validateRecordBatch, type RecordInput } from '../../src/protocol/records/index.js';
import { nativeAddon, nativeAddonError } from '../../src/native/addon.js';
import { Prng, fuzzSeed, mutate } from '../support/fuzz.js';

/** The validating scan as next() alone walks it: what the fast path must agree with exactly. */
function scanWithNextOnly(batch: Buffer, seen: string[]): number {
  const header = new RecordBatchHeader();
  const cursor = openBatchRecords(batch, 0, header, DEFAULT_MAX_DECOMPRESSED_BYTES);
  const count = header.recordCount;
  if (count === 0) throw new ProtocolError('invalid-value', `batch at 0 holds no records`);
  if (header.lastOffsetDelta !== count - 1) throw new ProtocolError('invalid-value', `batch at 0 has lastOffsetDelta ${header.lastOffsetDelta} for ${count} records`);
  while (cursor.next(null)) {
    if (cursor.offsetDelta !== cursor.index) throw new ProtocolError('invalid-value', `record ${cursor.index} has offsetDelta ${cursor.offsetDelta}`);
    seen.push([cursor.keyStart, cursor.keyLength, cursor.valueStart, cursor.valueLength, cursor.index, cursor.timestampDelta].join());
  }
  return count;
}

function outcome(scan: (batch: Buffer, seen: string[]) => number, batch: Buffer): string {
  const seen: string[] = [];
  try {
    return `accepted ${scan(batch, seen)}: ${seen.join(' ')}`;
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return `refused (${e.kind}) ${e.message} after: ${seen.join(' ')}`;
  }
}

/** Records with nulls, headers, 3-byte lengths now and then, and timestamp deltas whose varints run past the fast path's 3 bytes. */
function randomRecords(rng: Prng, maxCount = 30): RecordInput[] {
  return Array.from({ length: 1 + rng.int(maxCount) }, () => ({
    key: rng.chance(0.3) ? null : rng.bytes(rng.int(rng.chance(0.05) ? 9_000 : 20)),
    value: rng.chance(0.1) ? null : rng.bytes(rng.int(rng.chance(0.05) ? 20_000 : 150)),
    headers: rng.chance(0.3) ? Array.from({ length: rng.int(3) }, () => ({ key: `h${rng.int(10)}`, value: rng.chance(0.3) ? null : rng.bytes(rng.int(10)) })) : [],
    timestampDelta: rng.chance(0.1) ? rng.int(2 ** 31) - 2 ** 30 : rng.int(100),
  }));
}

/** Makes the size field and CRC agree with the bytes, so every mutation reaches the records. */
function reseal(batch: Buffer): Buffer {
  if (batch.length < RECORD_BATCH_HEADER_SIZE) return batch;
  batch.writeInt32BE(batch.length - BATCH_LENGTH_OVERHEAD, HeaderField.batchLength);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), HeaderField.crc);
  return batch;
}

test('the validating scan accepts and refuses exactly what a walk with next() alone does, with the same spans and reasons', () => {
  const rng = new Prng(fuzzSeed() ^ 0x5ca9);
  const seeds = Array.from({ length: 40 }, () => encodeRecordBatch({ baseTimestamp: 1_700_000_000_000n, records: randomRecords(rng) }));
  const verdicts = new Map<string, number>();
  for (let i = 0; i < 6_000; i++) {
    const batch = reseal(mutate(rng, rng.pick(seeds), RECORD_BATCH_HEADER_SIZE));
    const viaNext = outcome(scanWithNextOnly, batch);
    const viaScan = outcome(
      (b, seen) =>
        validateRecordBatch(b, 0, {
          onRecord: (_records, keyStart, keyLength, valueStart, valueLength, index, timestampDelta) => {
            seen.push([keyStart, keyLength, valueStart, valueLength, index, timestampDelta].join());
          },
        }).recordCount,
      batch,
    );
    assert.equal(viaScan, viaNext);
    const verdict = viaNext.slice(0, viaNext.indexOf(viaNext.startsWith('accepted') ? ':' : ')') + 1);
    verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
  }
  for (const kind of ['accepted', 'refused (invalid-length)', 'refused (invalid-value)', 'refused (invalid-varint)']) {
    assert.ok([...verdicts.keys()].some((v) => v.startsWith(kind)), `no batch was ${kind}: ${JSON.stringify([...verdicts])}`);
  }
});

/** Where a walk stops: the index reached, whether it saw headers, and what next() says from there. */
function walkOutcome(batch: Buffer, visitor: boolean): string {
  try {
    const cursor = openBatchRecords(batch, 0, new RecordBatchHeader(), DEFAULT_MAX_DECOMPRESSED_BYTES);
    // A visitor keeps the walk in JavaScript; without one, long batches go to the native walk.
    cursor.skipSequential(visitor ? () => {} : undefined);
    const stop = `stopped at ${cursor.index}, headers ${cursor.headersSeen}`;
    try {
      while (cursor.next(null));
      return `${stop}, then accepted up to ${cursor.index}`;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return `${stop}, then refused at ${cursor.index}: ${e.message}`;
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return `refused before the records: ${e.message}`;
  }
}

/** An outcome without the spans seen. */
const verdict = (o: string): string => (o.startsWith('accepted') ? o.slice(0, o.indexOf(':')) : o.slice(0, o.lastIndexOf(' after:')));

test('the native walk of long batches stops where the JavaScript walk does, and the scan gives the same verdicts', (t) => {
  if (!nativeAddon) {
    if (process.env.CI) assert.fail(`native addon missing in CI: ${nativeAddonError}`);
    t.skip(`native addon not in use: ${nativeAddonError}`);
    return;
  }
  const rng = new Prng(fuzzSeed() ^ 0x7a1c);
  const seeds = Array.from({ length: 30 }, () => encodeRecordBatch({ baseTimestamp: 1_700_000_000_000n, records: randomRecords(rng, 200).concat(randomRecords(rng, 0)) }));
  const stops = new Set<string>();
  for (let i = 0; i < 3_000; i++) {
    const batch = reseal(rng.chance(0.1) ? rng.pick(seeds) : mutate(rng, rng.pick(seeds), RECORD_BATCH_HEADER_SIZE));
    const viaJs = walkOutcome(batch, true);
    assert.equal(walkOutcome(batch, false), viaJs);
    assert.equal(verdict(outcome((b) => validateRecordBatch(b).recordCount, batch)), verdict(outcome(scanWithNextOnly, batch)));
    stops.add(viaJs.replace(/\d+/g, 'N'));
  }
  // The batches must have taken the walk down each of its ways out.
  for (const way of ['headers true, then accepted', 'headers false, then accepted', 'then refused']) {
    assert.ok([...stops].some((s) => s.includes(way)), `no walk ${way}: ${[...stops].join('; ')}`);
  }
});
