import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compress as zstdCompress } from 'zstd-napi';
import { COMPRESSION_TYPES, CompressionType } from '../../src/protocol/compression/index.js';
import { ProtocolError, type ProtocolErrorKind } from '../../src/protocol/protocol-error.js';
import {
  HeaderField,
  RECORD_BATCH_HEADER_SIZE,
  RecordBatchHeader,
  batchSizeAt,
  batchSpans,
  crc32c,
  crc32cImplementation,
  crc32cImplementations,
  crc32cJs,
  decodeRecordBatch,
  encodeRecordBatch,
  validateRecordBatch,
  type RecordBatchInput,
  type RecordInput,
} from '../../src/protocol/records/index.js';
import { encodeRecords } from '../../src/protocol/records/record-encoder.js';

const MiB = 1024 * 1024;
const CODECS = COMPRESSION_TYPES;

function assertProtocolError(fn: () => unknown, kind?: ProtocolErrorKind, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
    if (kind !== undefined) assert.equal(err.kind, kind, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** Runs fn and lets it succeed or throw ProtocolError; anything else fails the test. */
function onlyProtocolErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
  }
}

/** Re-seals a batch after tampering, so the parser behind the CRC check gets to see the damage. */
function resealCrc(batch: Buffer, offset = 0): Buffer {
  const header = new RecordBatchHeader(batch, offset);
  batch.writeUInt32BE(header.computeCrc(), offset + HeaderField.crc);
  return batch;
}

function keysOf(batch: Buffer): (string | null)[] {
  const keys: (string | null)[] = [];
  validateRecordBatch(batch, 0, {
    onRecord: (buf, keyStart, keyLength) => {
      keys.push(keyLength < 0 ? null : buf.toString('utf8', keyStart, keyStart + keyLength));
    },
  });
  return keys;
}

/**
 * Assembled byte by byte from the v2 format description, not by our encoder. Two records:
 * key "k" value "v" at offsetDelta 0; then a null key, an empty value, timestampDelta 300,
 * offsetDelta 1 and one header a=b.
 */
const HAND_BUILT_BATCH = Buffer.from(
  [
    '0000000000000005', // baseOffset 5
    '00000046', // batchLength 70 = 49 + 21 bytes of records
    '00000007', // partitionLeaderEpoch 7
    '02', // magic
    'd15083c8', // CRC32C of everything after it (computed by a separate bitwise implementation)
    '0000', // attributes: no codec, create time
    '00000001', // lastOffsetDelta
    '0000018bcfe56800', // baseTimestamp 1700000000000
    '0000018bcfe5692c', // maxTimestamp 1700000000300
    'ffffffffffffffff', // producerId -1
    'ffff', // producerEpoch -1
    'ffffffff', // baseSequence -1
    '00000002', // recordCount
    // record 0: length 8 (zig-zag 0x10), attributes, tsDelta 0, offsetDelta 0, key 1 "k", value 1 "v", 0 headers
    '10' + '00' + '00' + '00' + '026b' + '0276' + '00',
    // record 1: length 11, attributes, tsDelta 300 (zig-zag 600 = d8 04), offsetDelta 1, key null,
    // value length 0, 1 header: key 1 "a", value 1 "b"
    '16' + '00' + 'd804' + '02' + '01' + '00' + '02' + '0261' + '0262',
  ].join(''),
  'hex',
);

const HAND_BUILT_INPUT: RecordBatchInput = {
  baseOffset: 5n,
  partitionLeaderEpoch: 7,
  baseTimestamp: 1_700_000_000_000n,
  records: [
    { key: Buffer.from('k'), value: Buffer.from('v') },
    { key: null, value: Buffer.alloc(0), timestampDelta: 300, headers: [{ key: 'a', value: Buffer.from('b') }] },
  ],
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const nullableBytes = fc.option(bytes, { nil: null, freq: 4 });
const recordArb = fc.record({
  attributes: fc.integer({ min: -128, max: 127 }),
  timestampDelta: fc.oneof(
    fc.integer({ min: -1000, max: 1000 }),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    // The extremes a delta can take (see MAX_TIMESTAMP_DELTA in the encoder).
    fc.constantFrom(2 ** 52 - 1, -(2 ** 52), 0),
  ),
  key: nullableBytes,
  value: nullableBytes,
  headers: fc.array(fc.record({ key: fc.string({ unit: 'binary', maxLength: 12 }), value: nullableBytes }), {
    maxLength: 3,
  }),
});
const batchArb = fc.record(
  {
    baseOffset: fc.bigInt({ min: 0n, max: INT64_MAX }),
    partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    compression: fc.constantFrom(...CODECS),
    timestampType: fc.constantFrom('create' as const, 'log-append' as const),
    transactional: fc.boolean(),
    control: fc.boolean(),
    producerId: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
    producerEpoch: fc.integer({ min: -(2 ** 15), max: 2 ** 15 - 1 }),
    baseSequence: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    // Leaves room for baseTimestamp + the largest delta within int64.
    baseTimestamp: fc.oneof(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), fc.constantFrom(-1n, 0n)),
    maxTimestamp: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
    records: fc.array(recordArb, { minLength: 1, maxLength: 20 }),
  },
  { requiredKeys: ['baseTimestamp', 'records'] },
);

describe('crc32c', () => {
  it('gives the CRC-32C check value for "123456789", unsigned', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32cJs(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32cJs(Buffer.alloc(0)), 0);
  });

  it("uses the addon's hardware CRC here, and every implementation agrees with the JS one", () => {
    assert.equal(crc32cImplementation, 'sluice-native');
    assert.deepEqual(
      crc32cImplementations.map((i) => i.name),
      ['sluice-native', '@node-rs/crc32', 'js'],
    );
    // Sizes past 3 x 8 KiB reach the three-stream lanes of both lengths, and their joins.
    const big = new Uint8Array(100_000).map((_, i) => (i * 2654435761) >>> 13);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.nat(big.length).map((n) => big.subarray(0, n))), fc.nat(16), (data, skip) => {
        // Views at odd offsets exercise the unaligned head and the 8-byte loop's tail.
        const view = data.subarray(Math.min(skip, data.length));
        for (const { name, crc32c: f } of crc32cImplementations) assert.equal(f(view), crc32cJs(view), name);
      }),
    );
  });
});

describe('record batch: a hand-built batch', () => {
  it('decodes to the fields it was assembled from', () => {
    const batch = decodeRecordBatch(HAND_BUILT_BATCH);
    assert.equal(batch.baseOffset, 5n);
    assert.equal(batch.batchLength, 70);
    assert.equal(batch.partitionLeaderEpoch, 7);
    assert.equal(batch.magic, 2);
    assert.equal(batch.crc, 0xd15083c8);
    assert.equal(batch.compression, CompressionType.None);
    assert.equal(batch.timestampType, 'create');
    assert.equal(batch.lastOffsetDelta, 1);
    assert.equal(batch.baseTimestamp, 1_700_000_000_000n);
    assert.equal(batch.maxTimestamp, 1_700_000_000_300n);
    assert.equal(batch.producerId, -1n);
    assert.equal(batch.producerEpoch, -1);
    assert.equal(batch.baseSequence, -1);
    assert.deepEqual(batch.records, [
      { attributes: 0, timestampDelta: 0, offsetDelta: 0, key: Buffer.from('k'), value: Buffer.from('v'), headers: [] },
      {
        attributes: 0,
        timestampDelta: 300,
        offsetDelta: 1,
        key: null,
        value: Buffer.alloc(0),
        headers: [{ key: 'a', value: Buffer.from('b') }],
      },
    ]);
  });

  it('is exactly what encodeRecordBatch writes for the same input', () => {
    assert.equal(encodeRecordBatch(HAND_BUILT_INPUT).toString('hex'), HAND_BUILT_BATCH.toString('hex'));
  });

  it('passes the validating scan, which reports the key and value spans', () => {
    const spans: [number, number, number, number][] = [];
    const count = validateRecordBatch(HAND_BUILT_BATCH, 0, {
      onRecord: (buf, keyStart, keyLength, valueStart, valueLength) => {
        assert.equal(buf, HAND_BUILT_BATCH);
        spans.push([keyStart, keyLength, valueStart, valueLength]);
      },
    }).recordCount;
    assert.equal(count, 2);
    // Record 0 starts at 61: length, attributes, tsDelta, offsetDelta, key length, then "k" at 66.
    // Record 1 starts at 70; its null key "starts" after the key length, at 76.
    assert.deepEqual(spans, [
      [66, 1, 68, 1],
      [76, -1, 77, 0],
    ]);
    assert.equal(HAND_BUILT_BATCH.toString('utf8', 66, 67), 'k');
  });
});

describe('record batch: header view', () => {
  it('reads every header field in place', () => {
    const h = new RecordBatchHeader(HAND_BUILT_BATCH);
    assert.equal(h.baseOffset, 5n);
    assert.equal(h.batchLength, 70);
    assert.equal(h.totalSize, 82);
    assert.equal(h.partitionLeaderEpoch, 7);
    assert.equal(h.magic, 2);
    assert.equal(h.crc, 0xd15083c8);
    assert.equal(h.attributes, 0);
    assert.equal(h.compression, 0);
    assert.equal(h.timestampType, 'create');
    assert.equal(h.isTransactional, false);
    assert.equal(h.isControl, false);
    assert.equal(h.hasDeleteHorizon, false);
    assert.equal(h.lastOffsetDelta, 1);
    assert.equal(h.lastOffset, 6n);
    assert.equal(h.baseTimestamp, 1_700_000_000_000n);
    assert.equal(h.maxTimestamp, 1_700_000_000_300n);
    assert.equal(h.producerId, -1n);
    assert.equal(h.producerEpoch, -1);
    assert.equal(h.baseSequence, -1);
    assert.equal(h.recordCount, 2);
    h.verifyCrc();
  });

  it('reads the attribute bits', () => {
    const batch = encodeRecordBatch({
      baseTimestamp: 0n,
      compression: CompressionType.Zstd,
      timestampType: 'log-append',
      transactional: true,
      control: true,
      records: [{ key: null, value: null }],
    });
    const h = new RecordBatchHeader(batch);
    assert.equal(h.attributes, 4 | 8 | 16 | 32);
    assert.equal(h.compression, CompressionType.Zstd);
    assert.equal(h.timestampType, 'log-append');
    assert.equal(h.isTransactional, true);
    assert.equal(h.isControl, true);
    batch[HeaderField.attributes + 1] |= 0x40;
    assert.equal(h.hasDeleteHorizon, true);
  });

  it('assigns baseOffset and partitionLeaderEpoch without invalidating the CRC', () => {
    const batch = Buffer.from(HAND_BUILT_BATCH);
    const h = new RecordBatchHeader(batch);
    h.baseOffset = 1_000_000_000_000n;
    h.partitionLeaderEpoch = 42;
    h.verifyCrc();
    assert.equal(h.lastOffset, 1_000_000_000_001n);
    const decoded = decodeRecordBatch(batch);
    assert.equal(decoded.baseOffset, 1_000_000_000_000n);
    assert.equal(decoded.partitionLeaderEpoch, 42);
  });

  it('sets log-append time and rewrites the CRC, leaving an unchanged batch alone', () => {
    const batch = Buffer.from(HAND_BUILT_BATCH);
    const h = new RecordBatchHeader(batch);
    h.setMaxTimestamp('create', 1_700_000_000_300n);
    assert.deepEqual(batch, HAND_BUILT_BATCH);

    h.setMaxTimestamp('log-append', 1_800_000_000_000n);
    h.verifyCrc();
    assert.notEqual(h.crc, 0xd15083c8);
    const decoded = decodeRecordBatch(batch);
    assert.equal(decoded.timestampType, 'log-append');
    assert.equal(decoded.maxTimestamp, 1_800_000_000_000n);
    assert.deepEqual(decoded.records, decodeRecordBatch(HAND_BUILT_BATCH).records);

    h.setMaxTimestamp('create', 1_700_000_000_300n);
    assert.deepEqual(batch, HAND_BUILT_BATCH);
  });

  it('is reused across the batches of a blob with reset()', () => {
    const a = encodeRecordBatch({ baseOffset: 10n, baseTimestamp: 1n, records: [{ key: null, value: null }] });
    const b = encodeRecordBatch({
      baseOffset: 20n,
      baseTimestamp: 2n,
      compression: CompressionType.Gzip,
      records: [
        { key: null, value: null },
        { key: null, value: null },
      ],
    });
    const blob = Buffer.concat([a, b]);
    const h = new RecordBatchHeader();
    const seen = [...batchSpans(blob)].map(({ offset }) => {
      h.reset(blob, offset);
      h.verifyCrc();
      return [h.baseOffset, h.recordCount, h.compression];
    });
    assert.deepEqual(seen, [
      [10n, 1, CompressionType.None],
      [20n, 2, CompressionType.Gzip],
    ]);
  });

  it('refuses to view fewer than 61 bytes, and CRC work on a batch cut short', () => {
    assertProtocolError(() => new RecordBatchHeader(HAND_BUILT_BATCH.subarray(0, 60)), 'truncated');
    assertProtocolError(() => new RecordBatchHeader(HAND_BUILT_BATCH, 30), 'truncated');
    const cut = Buffer.from(HAND_BUILT_BATCH.subarray(0, 70));
    const h = new RecordBatchHeader(cut);
    assertProtocolError(() => h.verifyCrc(), 'invalid-length');
    assertProtocolError(() => h.setMaxTimestamp('log-append', 0n), 'invalid-length');
    assert.deepEqual(cut, HAND_BUILT_BATCH.subarray(0, 70), 'a failed setMaxTimestamp changes nothing');
  });

  it('reports a CRC mismatch as checksum', () => {
    const batch = Buffer.from(HAND_BUILT_BATCH);
    batch[batch.length - 1] ^= 1;
    assertProtocolError(() => new RecordBatchHeader(batch).verifyCrc(), 'checksum', /CRC/);
  });
});

describe('record batch: walking a records blob', () => {
  const one = HAND_BUILT_BATCH;
  const blob = Buffer.concat([one, one, one]);

  it('yields each batch offset and size', () => {
    assert.deepEqual([...batchSpans(blob)], [
      { offset: 0, size: 82 },
      { offset: 82, size: 82 },
      { offset: 164, size: 82 },
    ]);
    assert.deepEqual([...batchSpans(Buffer.alloc(0))], []);
  });

  it('stops quietly at a cut last batch in Fetch mode, and refuses it otherwise', () => {
    for (const cut of [1, 11, 12, 16, 17, 60, 81]) {
      const input = blob.subarray(0, 164 + cut);
      assert.deepEqual(
        [...batchSpans(input, { allowPartialTail: true })].map((s) => s.offset),
        [0, 82],
      );
      assertProtocolError(() => [...batchSpans(input)], cut < 12 ? 'truncated' : 'invalid-length');
    }
  });

  it('refuses a batchLength below 49 and a magic other than 2, even in Fetch mode', () => {
    const short = Buffer.from(one);
    short.writeInt32BE(48, HeaderField.batchLength);
    assertProtocolError(() => batchSizeAt(short, 0, short.length, true), 'invalid-length', /48/);
    const negative = Buffer.from(one);
    negative.writeInt32BE(-1, HeaderField.batchLength);
    assertProtocolError(() => [...batchSpans(negative, { allowPartialTail: true })], 'invalid-length');
    const magic1 = Buffer.from(one);
    magic1[HeaderField.magic] = 1;
    assertProtocolError(() => batchSizeAt(magic1, 0, magic1.length, true), 'invalid-value', /magic 1/);
  });

  it('refuses a batch that claims more bytes than the blob holds', () => {
    const long = Buffer.from(one);
    long.writeInt32BE(2 ** 31 - 1, HeaderField.batchLength);
    assertProtocolError(() => batchSizeAt(long, 0), 'invalid-length', /overruns/);
  });
});

/** What decodeRecordBatch should give back for a batch encoded from input. */
function expectedRecords(records: readonly RecordInput[]) {
  return records.map((r, i) => ({
    attributes: r.attributes ?? 0,
    timestampDelta: r.timestampDelta ?? 0,
    offsetDelta: r.offsetDelta ?? i,
    key: r.key,
    value: r.value,
    headers: (r.headers ?? []).map((h) => ({ key: h.key, value: h.value })),
  }));
}

describe('record batch: encode and decode', () => {
  it('round-trips random batches with every codec', () => {
    fc.assert(
      fc.property(batchArb, (input) => {
        const encoded = encodeRecordBatch(input);
        const batch = decodeRecordBatch(encoded);
        assert.equal(batch.baseOffset, input.baseOffset ?? 0n);
        assert.equal(batch.batchLength, encoded.length - 12);
        assert.equal(batch.partitionLeaderEpoch, input.partitionLeaderEpoch ?? -1);
        assert.equal(batch.compression, input.compression ?? CompressionType.None);
        assert.equal(batch.timestampType, input.timestampType ?? 'create');
        assert.equal(batch.transactional, input.transactional ?? false);
        assert.equal(batch.control, input.control ?? false);
        assert.equal(batch.hasDeleteHorizon, false);
        assert.equal(batch.lastOffsetDelta, input.records.length - 1);
        assert.equal(batch.baseTimestamp, input.baseTimestamp);
        const maxDelta = Math.max(...input.records.map((r) => r.timestampDelta ?? 0));
        assert.equal(batch.maxTimestamp, input.maxTimestamp ?? input.baseTimestamp + BigInt(maxDelta));
        assert.equal(batch.producerId, input.producerId ?? -1n);
        assert.equal(batch.producerEpoch, input.producerEpoch ?? -1);
        assert.equal(batch.baseSequence, input.baseSequence ?? -1);
        assert.deepEqual(batch.records, expectedRecords(input.records));
        // Batches from the encoder also pass the produce-path scan, with the same keys, and it
        // reports the records it walked (decompressed) and whether any had headers.
        const walked = validateRecordBatch(encoded);
        assert.equal(walked.recordCount, input.records.length);
        assert.equal(walked.headersSeen, input.records.some((r) => (r.headers?.length ?? 0) > 0));
        assert.deepEqual(walked.records, encodeRecords(input.records, 0));
        assert.deepEqual(
          keysOf(encoded),
          input.records.map((r) => (r.key === null ? null : Buffer.from(r.key).toString('utf8'))),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('encodes an empty batch with lastOffsetDelta -1 and maxTimestamp = baseTimestamp', () => {
    const encoded = encodeRecordBatch({ baseTimestamp: 99n, records: [] });
    assert.equal(encoded.length, RECORD_BATCH_HEADER_SIZE);
    const batch = decodeRecordBatch(encoded);
    assert.equal(batch.lastOffsetDelta, -1);
    assert.equal(batch.maxTimestamp, 99n);
    assert.deepEqual(batch.records, []);
  });

  it('decodes the batch at an offset of a larger buffer', () => {
    const blob = Buffer.concat([Buffer.alloc(7), HAND_BUILT_BATCH, Buffer.alloc(5)]);
    assert.equal(decodeRecordBatch(blob, { offset: 7 }).baseOffset, 5n);
    assert.equal(validateRecordBatch(blob, 7).recordCount, 2);
  });

  it('refuses records the wire types cannot hold', () => {
    const encode = (record: RecordInput) => () => encodeRecordBatch({ baseTimestamp: 0n, records: [record] });
    assertProtocolError(encode({ key: null, value: null, timestampDelta: 1.5 }), 'unencodable', /timestampDelta/);
    assertProtocolError(encode({ key: null, value: null, timestampDelta: 2 ** 52 }), 'unencodable', /timestampDelta/);
    const belowMin = -(2 ** 52) - 2;
    assertProtocolError(encode({ key: null, value: null, timestampDelta: belowMin }), 'unencodable', /timestampDelta/);
    assertProtocolError(encode({ key: null, value: null, offsetDelta: 2 ** 31 }), 'unencodable', /offsetDelta/);
    assertProtocolError(encode({ key: null, value: null, attributes: 128 }), 'unencodable', /attributes/);
  });

  it('stays correct after an encode that failed halfway (shared scratch)', () => {
    assertProtocolError(() =>
      encodeRecordBatch({
        baseTimestamp: 0n,
        records: [
          { key: null, value: null, headers: [{ key: 'left-behind', value: null }] },
          { key: null, value: null, timestampDelta: 0.5 },
        ],
      }),
    );
    assert.equal(encodeRecordBatch(HAND_BUILT_INPUT).toString('hex'), HAND_BUILT_BATCH.toString('hex'));
  });
});

describe('record batch: damaged and hostile input', () => {
  const sampleBatches = CODECS.map((compression) =>
    encodeRecordBatch({
      baseTimestamp: 1_700_000_000_000n,
      compression,
      records: Array.from({ length: 12 }, (_, i) => ({
        key: i % 3 === 0 ? null : Buffer.from(`key-${i}`),
        value: Buffer.from(`value ${i} `.repeat(i)),
        timestampDelta: i * 7,
        headers: i % 2 ? [{ key: 'h', value: Buffer.from([i]) }] : [],
      })),
    }),
  );

  it('flipped bytes only ever produce ProtocolError, with or without a resealed CRC', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sampleBatches),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (original, flips, reseal) => {
          const batch = Buffer.from(original);
          for (const [at, mask] of flips) batch[at % batch.length] ^= mask;
          if (reseal) onlyProtocolErrors(() => resealCrc(batch));
          onlyProtocolErrors(() => decodeRecordBatch(batch, { maxDecompressedBytes: MiB }));
          onlyProtocolErrors(() => validateRecordBatch(batch, 0, { maxDecompressedBytes: MiB }));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('a flipped byte under the CRC is caught as a CRC mismatch', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sampleBatches),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (original, at, mask) => {
          const batch = Buffer.from(original);
          batch[21 + (at % (batch.length - 21))] ^= mask;
          assertProtocolError(() => decodeRecordBatch(batch), 'checksum', /CRC/);
          assertProtocolError(() => validateRecordBatch(batch), 'checksum', /CRC/);
        },
      ),
    );
  });

  it('every truncation is refused with ProtocolError', () => {
    for (const original of sampleBatches) {
      for (let length = 0; length < original.length; length++) {
        const cut = original.subarray(0, length);
        assertProtocolError(() => decodeRecordBatch(cut));
        assertProtocolError(() => validateRecordBatch(cut));
      }
    }
  });

  it('random record bytes behind a valid header and CRC only produce ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 120 }),
        fc.integer({ min: -2, max: 40 }),
        fc.constantFrom(...CODECS),
        (body, count, compression) => {
          const batch = Buffer.concat([encodeRecordBatch({ baseTimestamp: 0n, compression, records: [] }), body]);
          batch.writeInt32BE(batch.length - 12, HeaderField.batchLength);
          batch.writeInt32BE(count, HeaderField.recordCount);
          resealCrc(batch);
          onlyProtocolErrors(() => decodeRecordBatch(batch, { maxDecompressedBytes: MiB }));
          onlyProtocolErrors(() => validateRecordBatch(batch, 0, { maxDecompressedBytes: MiB }));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a hostile recordCount is refused before anything is sized from it', () => {
    for (const original of sampleBatches) {
      for (const count of [2 ** 31 - 1, 1_000_000, -1]) {
        const batch = Buffer.from(original);
        batch.writeInt32BE(count, HeaderField.recordCount);
        resealCrc(batch);
        assertProtocolError(() => decodeRecordBatch(batch), 'invalid-length');
        assertProtocolError(() => validateRecordBatch(batch), 'invalid-length');
      }
    }
    const batch = Buffer.from(sampleBatches[0]);
    batch.writeInt32BE(2 ** 31 - 1, HeaderField.recordCount);
    resealCrc(batch);
    assertProtocolError(() => decodeRecordBatch(batch), 'invalid-length', /record count 2147483647 cannot fit/);
  });

  it('fewer records than the count claims, or bytes after the last, are refused', () => {
    const batch = Buffer.from(sampleBatches[0]);
    batch.writeInt32BE(11, HeaderField.recordCount);
    resealCrc(batch);
    assertProtocolError(() => decodeRecordBatch(batch), 'invalid-length', /follow the last of 11 records/);
    // Two tiny records with a count of 3: the count fits the bytes, the records run out.
    const tiny = encodeRecordBatch({ baseTimestamp: 0n, records: [{ key: null, value: Buffer.alloc(30) }] });
    tiny.writeInt32BE(3, HeaderField.recordCount);
    resealCrc(tiny);
    assertProtocolError(() => decodeRecordBatch(tiny), 'invalid-length', /claims 3 records but holds 1/);
  });

  it('a record length that disagrees with its fields is refused', () => {
    const batch = Buffer.from(HAND_BUILT_BATCH);
    // Record 0 declares 8 body bytes (zig-zag 0x10); claim 9 and let the next record's first byte pad it.
    batch[RECORD_BATCH_HEADER_SIZE] = 0x12;
    resealCrc(batch);
    const message = /record 0 has length 9 but its fields take 8/;
    assertProtocolError(() => decodeRecordBatch(batch), 'invalid-length', message);
    assertProtocolError(() => validateRecordBatch(batch), 'invalid-length', /record 0/);
  });

  it('a header with a null key is refused', () => {
    const batch = Buffer.from(HAND_BUILT_BATCH);
    // Record 1's header key length (0x02 at its position) becomes -1 (0x01).
    const headerKeyAt = HAND_BUILT_BATCH.length - 4;
    assert.equal(batch[headerKeyAt], 0x02);
    batch[headerKeyAt] = 0x01;
    resealCrc(batch);
    assertProtocolError(() => decodeRecordBatch(batch), 'invalid-length');
  });

  it('a decompression bomb in a batch is stopped at the cap', () => {
    const bomb = encodeRecordBatch({
      baseTimestamp: 0n,
      compression: CompressionType.Zstd,
      records: [{ key: null, value: Buffer.alloc(32 * MiB) }],
    });
    assert.ok(bomb.length < 10_000);
    assertProtocolError(() => decodeRecordBatch(bomb, { maxDecompressedBytes: MiB }), 'compression', /cap/);
    assertProtocolError(() => validateRecordBatch(bomb, 0, { maxDecompressedBytes: MiB }), 'compression', /cap/);
    // A frame without a declared size (as Java writes) hits the same cap while streaming.
    const streamed = Buffer.concat([
      bomb.subarray(0, RECORD_BATCH_HEADER_SIZE),
      zstdCompress(Buffer.alloc(32 * MiB), { contentSizeFlag: false }),
    ]);
    streamed.writeInt32BE(streamed.length - 12, HeaderField.batchLength);
    resealCrc(streamed);
    assertProtocolError(() => validateRecordBatch(streamed, 0, { maxDecompressedBytes: MiB }), 'compression', /cap/);
  });

  it('an unassigned codec id is a compression error', () => {
    const batch = Buffer.from(HAND_BUILT_BATCH);
    batch.writeInt16BE(6, HeaderField.attributes);
    resealCrc(batch);
    assertProtocolError(() => decodeRecordBatch(batch), 'compression', /unknown codec 6/);
  });
});

describe('record batch: the produce-path scan', () => {
  it('sees key and value spans in the decompressed records of a compressed batch', () => {
    for (const compression of CODECS) {
      const batch = encodeRecordBatch({
        baseTimestamp: 0n,
        compression,
        records: [
          { key: Buffer.from('alpha'), value: Buffer.from('one') },
          { key: null, value: null },
          { key: Buffer.from('gamma'), value: Buffer.alloc(0) },
        ],
      });
      const seen: (string | null)[][] = [];
      validateRecordBatch(batch, 0, {
        onRecord: (buf, ks, kl, vs, vl) => {
          const text = (start: number, length: number) =>
            length < 0 ? null : buf.toString('utf8', start, start + length);
          seen.push([text(ks, kl), text(vs, vl)]);
        },
      });
      assert.deepEqual(seen, [
        ['alpha', 'one'],
        [null, null],
        ['gamma', ''],
      ]);
    }
  });

  it('refuses an offsetDelta that is not the record index', () => {
    const batch = encodeRecordBatch({
      baseTimestamp: 0n,
      records: [
        { key: null, value: null, offsetDelta: 0 },
        { key: null, value: null, offsetDelta: 0 },
      ],
    });
    batch.writeInt32BE(1, HeaderField.lastOffsetDelta);
    resealCrc(batch);
    assertProtocolError(() => validateRecordBatch(batch), 'invalid-value', /record 1 has offsetDelta 0/);
    // Full decoding reports what is there; the rule is the produce path's.
    assert.equal(decodeRecordBatch(batch).records[1].offsetDelta, 0);
  });

  it('refuses a lastOffsetDelta other than recordCount - 1', () => {
    const batch = encodeRecordBatch({
      baseTimestamp: 0n,
      records: [
        { key: null, value: null },
        { key: null, value: null, offsetDelta: 5 },
      ],
    });
    assertProtocolError(() => validateRecordBatch(batch), 'invalid-value', /lastOffsetDelta 5 for 2 records/);
  });

  it('refuses an empty batch, as Kafka does on produce', () => {
    const batch = encodeRecordBatch({ baseTimestamp: 0n, records: [] });
    assertProtocolError(() => validateRecordBatch(batch), 'invalid-value', /no records/);
  });
});

describe('record batch: agreement with kafkajs, an independent implementation', () => {
  // kafkajs is a dev dependency; its encoder and decoder are internal CommonJS modules.
  const require = createRequire(import.meta.url);
  const { RecordBatch: KafkaJsBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
  const KafkaJsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
  const kafkaJsDecode = require('kafkajs/src/protocol/recordBatch/v0/decoder.js');
  const KafkaJsDecoder = require('kafkajs/src/protocol/decoder.js');
  const Long = require('kafkajs/src/utils/long.js');

  for (const compression of [CompressionType.None, CompressionType.Gzip]) {
    it(`decodes and validates a kafkajs batch (${compression === 0 ? 'uncompressed' : 'gzip'})`, async () => {
      const records = [
        KafkaJsRecord({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('k0'), value: Buffer.from('v0') }),
        KafkaJsRecord({ offsetDelta: 1, timestampDelta: 12, key: null, value: Buffer.from('v1'), headers: { h: 'x' } }),
      ];
      const encoder = await KafkaJsBatch({
        compression,
        firstOffset: Long.fromInt(3),
        firstTimestamp: 1_700_000_000_000,
        maxTimestamp: 1_700_000_000_012,
        lastOffsetDelta: 1,
        producerId: Long.fromInt(77),
        records,
      });
      const batch = decodeRecordBatch(encoder.buffer);
      assert.equal(batch.baseOffset, 3n);
      assert.equal(batch.compression, compression);
      assert.equal(batch.producerId, 77n);
      assert.equal(batch.maxTimestamp, 1_700_000_000_012n);
      assert.deepEqual(batch.records, [
        {
          attributes: 0,
          timestampDelta: 0,
          offsetDelta: 0,
          key: Buffer.from('k0'),
          value: Buffer.from('v0'),
          headers: [],
        },
        {
          attributes: 0,
          timestampDelta: 12,
          offsetDelta: 1,
          key: null,
          value: Buffer.from('v1'),
          headers: [{ key: 'h', value: Buffer.from('x') }],
        },
      ]);
      assert.equal(validateRecordBatch(encoder.buffer).recordCount, 2);
    });
  }

  it('writes batches kafkajs decodes', async () => {
    const encoded = encodeRecordBatch({
      baseOffset: 100n,
      baseTimestamp: 1_700_000_000_000n,
      compression: CompressionType.Gzip,
      records: [
        { key: Buffer.from('a'), value: Buffer.from('1'), headers: [{ key: 'trace', value: Buffer.from('t') }] },
        { key: null, value: Buffer.from('2'), timestampDelta: 5 },
      ],
    });
    const decoded = await kafkaJsDecode(new KafkaJsDecoder(encoded));
    assert.equal(decoded.firstOffset, '100');
    assert.equal(decoded.maxTimestamp, '1700000000005');
    assert.deepEqual(
      decoded.records.map((r: { offset: string; key: Buffer | null; value: Buffer; headers: object }) => [
        r.offset,
        r.key?.toString() ?? null,
        r.value.toString(),
        r.headers,
      ]),
      [
        ['100', 'a', '1', { trace: Buffer.from('t') }],
        ['101', null, '2', {}],
      ],
    );
  });
});
