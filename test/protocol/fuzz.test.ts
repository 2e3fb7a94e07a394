import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ApiEntry } from '../../src/protocol/api-entry.js';
import type { ProtocolSpecs } from '../../src/protocol/codegen/spec-model.js';
import { apis } from '../../src/protocol/generated/api-table.js';
import { decodeRequestFrame, decodeResponseFrame, encodeRequestFrame, encodeResponseFrame } from '../../src/protocol/headers.js';
import { CompressionType, compress } from '../../src/protocol/compression/index.js';
import { Writer } from '../../src/protocol/primitives/writer.js';
import { ProtocolError, type ProtocolErrorKind } from '../../src/protocol/protocol-error.js';
import {
  BATCH_LENGTH_OVERHEAD,
  CRC_START,
  HeaderField,
  RECORD_BATCH_HEADER_SIZE,
  batchSpans,
  crc32c,
  decodeRecordBatch,
  encodeRecordBatch,
  validateRecordBatch,
  type RecordInput,
} from '../../src/protocol/records/index.js';
import { arbitraryMessage } from '../support/arbitrary-message.js';
import { FuzzHarness, Prng, fuzzSeed, isKnownProtocolError, measureAllocation, mutate, overwriteHugeLength } from '../support/fuzz.js';
import { specsOrExplain } from '../support/specs.js';

const SEED = fuzzSeed();
/** FUZZ_SCALE=20 for a deeper local hunt; CI runs the default. */
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
const iterations = (n: number): number => Math.round(n * SCALE);
const TIMEOUT_MS = 120_000 * SCALE;
/**
 * Honest decodes of these inputs take microseconds; the slack is for GC pauses and a busy CI
 * machine descheduling the process. Super-linear blow-ups land far beyond it, and a true hang
 * trips the test timeout.
 */
const SLOW_CALL_MS = 500;

const API_LIST = Object.values(apis) as unknown as ApiEntry<unknown, unknown>[];
const HEADER = { correlationId: 0x1234, clientId: 'fuzz' };
/** Api key and version: the part of a request frame a mutation may leave alone to reach the body. */
const HEADER_PREFIX = 4;

interface ResponseSeed {
  frame: Buffer;
  apiKey: number;
  version: number;
}

interface Corpus {
  requests: Buffer[];
  responses: ResponseSeed[];
  /** Frames that decode cleanly, for exhaustive truncation (defaults plus one populated each). */
  truncationSeeds: Buffer[];
}

/** Random but deterministic populated bodies (only when Kafka's specs are present). */
function populated(specs: ProtocolSpecs | null, kind: 'request' | 'response', apiKey: number, version: number, runs: number): unknown[] {
  const spec = specs?.messages.find((m) => m.kind === kind && m.apiKey === apiKey);
  if (!spec) return [];
  return fc.sample(arbitraryMessage(spec, version), { seed: SEED ^ (apiKey * 1000 + version), numRuns: runs });
}

/** Size prefix off: the decoders take what the network layer cut out of the stream. */
const unframed = (frame: Buffer): Buffer => frame.subarray(4);

function buildCorpus(specs: ProtocolSpecs | null): Corpus {
  const corpus: Corpus = { requests: [], responses: [], truncationSeeds: [] };
  for (const api of API_LIST) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const requests = [api.request.create(), ...populated(specs, 'request', api.apiKey, v, 3)].map((body) =>
        unframed(encodeRequestFrame(HEADER, api.apiKey, v, body)),
      );
      corpus.requests.push(...requests);
      corpus.truncationSeeds.push(...requests.slice(0, 2));
      for (const body of [api.response.create(), ...populated(specs, 'response', api.apiKey, v, 3)]) {
        corpus.responses.push({ frame: unframed(encodeResponseFrame(HEADER.correlationId, api.apiKey, v, body)), apiKey: api.apiKey, version: v });
      }
    }
  }
  return corpus;
}

/**
 * What a broker does with a request it accepts: decode it and, for echoed fields, write parts
 * back. Re-encoding whatever the decoder accepted must not crash either.
 */
function decodeRequest(frame: Buffer): void {
  const { header, body } = decodeRequestFrame(frame);
  encodeRequestFrame(header, header.requestApiKey, header.requestApiVersion, body);
}

function decodeResponse(apiKey: number, version: number): (frame: Buffer) => void {
  return (frame) => {
    const { correlationId, body } = decodeResponseFrame(frame, apiKey, version);
    encodeResponseFrame(correlationId, apiKey, version, body);
  };
}

/** An api key and version as the first four bytes, so random bytes get past the header. */
function plausiblePrefix(rng: Prng): Buffer {
  const api = rng.pick(API_LIST);
  const prefix = Buffer.alloc(4);
  prefix.writeInt16BE(api.apiKey, 0);
  prefix.writeInt16BE(api.minVersion + rng.int(api.maxVersion - api.minVersion + 1), 2);
  return prefix;
}

function assertClean(h: FuzzHarness): void {
  assert.equal(h.escapeCount, 0, h.describeEscapes(SEED));
  assert.ok(h.slowestMs < SLOW_CALL_MS, `slowest call took ${h.slowestMs.toFixed(1)} ms: ${h.slowestTarget} (FUZZ_SEED=${SEED})`);
}

let corpusCache: Corpus | undefined;
function corpusFor(t: { diagnostic(msg: string): void }): Corpus {
  corpusCache ??= buildCorpus(specsOrExplain(t));
  return corpusCache;
}

test('the harness reports anything but a known ProtocolError as an escape, with its input', () => {
  const h = new FuzzHarness();
  const input = Buffer.from([0xde, 0xad]);
  h.run('typeerror', input, () => {
    throw new TypeError('boom');
  });
  h.run('unknown kind', input, () => {
    throw Object.assign(new ProtocolError('truncated', 'x'), { kind: 'made-up' });
  });
  h.run('refused', input, () => {
    throw new ProtocolError('truncated', 'x');
  });
  h.run('accepted', input, () => 1);
  assert.equal(h.escapeCount, 2);
  assert.equal(h.rejected, 1);
  assert.equal(h.accepted, 1);
  assert.match(h.describeEscapes(1), /typeerror on dead\n {2}TypeError: boom/);
});

test(`decoders refuse mutated and random frames with ProtocolError only (FUZZ_SEED=${SEED})`, { timeout: TIMEOUT_MS }, (t) => {
  t.diagnostic(`seed ${SEED}; replay with FUZZ_SEED=${SEED}`);
  const { requests, responses } = corpusFor(t);
  const rng = new Prng(SEED);
  const h = new FuzzHarness();

  for (let i = 0; i < iterations(100_000); i++) {
    h.run('decodeRequestFrame', mutate(rng, rng.pick(requests), rng.chance(0.75) ? HEADER_PREFIX : 0), decodeRequest);
  }
  for (let i = 0; i < iterations(40_000); i++) {
    const seed = rng.pick(responses);
    // Mostly the api the bytes were written for; sometimes a mismatch, as a confused client sees.
    const api = rng.chance(0.75) ? seed : { apiKey: rng.int(100) - 2, version: rng.int(20) - 2 };
    h.run(`decodeResponseFrame(${api.apiKey}, v${api.version})`, mutate(rng, seed.frame), decodeResponse(api.apiKey, api.version));
  }
  for (let i = 0; i < iterations(20_000); i++) {
    const noise = rng.bytes(rng.int(64));
    h.run('decodeRequestFrame', rng.chance(0.5) ? Buffer.concat([plausiblePrefix(rng), noise]) : noise, decodeRequest);
  }

  t.diagnostic(`${requests.length} request and ${responses.length} response seeds; ${h.summary()}`);
  assertClean(h);
  assert.ok(h.calls >= 150_000, `only ${h.calls} frames`);
  // Evidence that the mutations reach the body decoders rather than dying in the header.
  for (const kind of ['truncated', 'invalid-length', 'invalid-varint', 'invalid-value', 'unsupported-version'] as const) {
    assert.ok((h.rejectedByKind.get(kind) ?? 0) > 0, `no input was refused as ${kind}: ${h.summary()}`);
  }
  assert.ok(h.accepted > 1_000, `almost nothing survived mutation, so little was exercised: ${h.summary()}`);
});

test('every strict prefix of a valid frame is refused as truncated or too long', { timeout: TIMEOUT_MS }, (t) => {
  const { truncationSeeds } = corpusFor(t);
  const h = new FuzzHarness();
  for (const frame of truncationSeeds) {
    for (let end = 0; end < frame.length; end++) {
      h.run('decodeRequestFrame prefix', frame.subarray(0, end), decodeRequestFrame);
    }
  }
  t.diagnostic(h.summary());
  assertClean(h);
  // A prefix can be read only by stopping early, and a decoder that stops early on the full frame
  // would leave bytes unread: the round-trip tests rule that out, so every prefix must fail.
  assert.equal(h.accepted, 0, 'a truncated frame decoded');
  const kinds = [...h.rejectedByKind.keys()].sort();
  assert.deepEqual(kinds, ['invalid-length', 'truncated']);
  assert.ok(h.calls >= 5_000, `only ${h.calls} prefixes: the corpus has collapsed`);
});

/** A request frame of one api and version: header v1 or v2 as the version needs, then `body`. */
function requestWith(apiKey: number, version: number, writeBody: (w: Writer) => void): Buffer {
  const w = new Writer();
  w.int16(apiKey);
  w.int16(version);
  w.int32(1);
  w.string('c');
  if (version >= (API_LIST.find((a) => a.apiKey === apiKey)?.flexibleFrom ?? Infinity)) w.uvarint(0);
  writeBody(w);
  return Buffer.from(w.finish());
}

const rawBytes = (...bytes: number[]) => (w: Writer) => w.raw(Buffer.from(bytes));

/** Hand-built hostile frames, each aimed at one length check, with the refusal it must earn. */
const TARGETED: { name: string; frame: Buffer; kind: ProtocolErrorKind }[] = [
  {
    name: 'client id of 32767 bytes with 3 left',
    frame: Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0x61, 0x62, 0x63]),
    kind: 'invalid-length',
  },
  {
    name: 'Metadata v1 topic array of 2^31-1',
    frame: requestWith(apis.Metadata.apiKey, 1, rawBytes(0x7f, 0xff, 0xff, 0xff)),
    kind: 'invalid-length',
  },
  {
    name: 'Metadata v4 topic array of -2',
    frame: requestWith(apis.Metadata.apiKey, 4, rawBytes(0xff, 0xff, 0xff, 0xfe, 0)),
    kind: 'invalid-length',
  },
  {
    name: 'Metadata v12 compact array count of five 0xff bytes',
    frame: requestWith(apis.Metadata.apiKey, 12, rawBytes(0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0)),
    kind: 'invalid-varint',
  },
  {
    name: 'Metadata v12 compact array count 2^31-1 as a varint',
    frame: requestWith(apis.Metadata.apiKey, 12, rawBytes(0xff, 0xff, 0xff, 0xff, 0x07, 0, 0, 0)),
    kind: 'invalid-length',
  },
  {
    name: 'Metadata v12 varint longer than 5 bytes',
    frame: requestWith(apis.Metadata.apiKey, 12, rawBytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)),
    kind: 'invalid-varint',
  },
  {
    name: 'Metadata v12 tagged-field section of 2^31-1 fields',
    // Null topics, two bools, then the body's tagged section.
    frame: requestWith(apis.Metadata.apiKey, 12, rawBytes(0x00, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07)),
    kind: 'invalid-length',
  },
  {
    name: 'header v2 tagged field of 2^31-1 bytes',
    frame: Buffer.from([0, 3, 0, 12, 0, 0, 0, 1, 0, 1, 0x63, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00]),
    kind: 'truncated',
  },
  {
    name: 'SaslAuthenticate v0 auth bytes of 2^31-1',
    frame: requestWith(apis.SaslAuthenticate.apiKey, 0, rawBytes(0x7f, 0xff, 0xff, 0xff, 1, 2, 3)),
    kind: 'invalid-length',
  },
  {
    name: 'Produce v3 records of 2^31-1 bytes',
    frame: requestWith(apis.Produce.apiKey, 3, (w) => {
      w.nullableString(null);
      w.int16(1);
      w.int32(1000);
      w.int32(1); // one topic
      w.string('t');
      w.int32(1); // one partition
      w.int32(0);
      w.int32(0x7fffffff);
      w.raw(Buffer.alloc(8));
    }),
    kind: 'invalid-length',
  },
];

test('targeted hostile lengths earn the refusal they are aimed at', () => {
  for (const { name, frame, kind } of TARGETED) {
    assert.throws(
      () => decodeRequestFrame(frame),
      (e) => isKnownProtocolError(e) && e.kind === kind,
      `${name}: expected a ${kind} ProtocolError`,
    );
  }
});

/**
 * Per call, growth may be a fixed 4 MiB (JIT code and feedback land on the heap too; measured
 * cold, the worst call grows it by about 250 KiB) plus 512 bytes per input byte: an honest
 * decoder turns each input byte into at most an element of some array of small objects, about
 * 100 bytes. On these inputs (at most a few KiB) that stays under 8 MiB, so a decoder that
 * trusted a 2^31 length prefix (2 GiB), or even a 2^24 one, fails it.
 */
const allocationBound = (inputBytes: number, budget: number): number => 4 * 2 ** 20 + 512 * inputBytes + budget;

function hostileLengthFrames(corpus: Corpus, rng: Prng, count: number): Buffer[] {
  const out: Buffer[] = TARGETED.map((c) => c.frame);
  while (out.length < count) {
    const frame = Buffer.from(rng.pick(corpus.requests));
    for (let n = 1 + rng.int(3); n > 0; n--) overwriteHugeLength(rng, frame, HEADER_PREFIX + rng.int(frame.length - HEADER_PREFIX));
    out.push(frame);
  }
  return out;
}

/** `calls` decode inputs of at most `largestInput` bytes and may use `budget` bytes besides. */
function assertBounded(label: string, largestInput: number, calls: (() => unknown)[], budget = 0): void {
  // No warm-up pass: compiling the decoders costs well under the fixed slack, and a second pass
  // could hide a huge buffer behind the GC that frees the first pass's copy.
  const { maxHeapGrowth, maxExternalGrowth } = measureAllocation(calls);
  const bound = allocationBound(largestInput, budget);
  assert.ok(
    maxHeapGrowth <= bound && maxExternalGrowth <= bound,
    `${label}: a call grew the heap by ${maxHeapGrowth} and array buffers by ${maxExternalGrowth} bytes; bound ${bound} for inputs of up to ${largestInput} bytes`,
  );
}

const largest = (frames: Buffer[]): number => Math.max(...frames.map((b) => b.length));

test('hostile length prefixes allocate nothing in proportion to what they claim', { timeout: TIMEOUT_MS }, (t) => {
  const corpus = corpusFor(t);
  const rng = new Prng(SEED ^ 0x5eed);
  const frames = hostileLengthFrames(corpus, rng, 3_000);
  assertBounded('decodeRequestFrame', largest(frames), frames.map((f) => () => decodeRequestFrame(f)));

  const responses = Array.from({ length: 2_000 }, () => {
    const { frame, apiKey, version } = rng.pick(corpus.responses);
    const hostile = Buffer.from(frame);
    overwriteHugeLength(rng, hostile, rng.int(hostile.length));
    return { frame: hostile, decode: () => decodeResponseFrame(hostile, apiKey, version) };
  });
  assertBounded('decodeResponseFrame', largest(responses.map((r) => r.frame)), responses.map((r) => r.decode));
});

test('the allocation bound catches a decoder that trusts a length prefix', () => {
  // The naive decoder the bound exists for, capped at 512 MiB to stay kind to CI machines.
  const frame = Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  const naive = (): Buffer => Buffer.alloc(Math.min(frame.readInt32BE(0), 2 ** 29));
  assert.throws(() => assertBounded('naive', frame.length, [naive]), /array buffers by \d{9,}/);
});

const CODECS = Object.values(CompressionType);
/** Small enough that a decompression bomb costs the fuzz run little; large enough for any seed. */
const RECORDS_CAP = 1 << 20;

function randomRecords(rng: Prng): RecordInput[] {
  return Array.from({ length: 1 + rng.int(8) }, (_, i) => ({
    key: rng.chance(0.3) ? null : rng.bytes(rng.int(12)),
    value: rng.chance(0.1) ? null : rng.bytes(rng.int(48)),
    headers: rng.chance(0.5) ? [] : [{ key: `h${i}`, value: rng.chance(0.2) ? null : rng.bytes(rng.int(8)) }],
    timestampDelta: rng.int(1000),
  }));
}

function sealCrc(batch: Buffer): Buffer {
  if (batch.length >= RECORD_BATCH_HEADER_SIZE) batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), HeaderField.crc);
  return batch;
}

/** Makes the size field and CRC agree with the bytes, so a mutation reaches the records. */
function reseal(batch: Buffer): Buffer {
  if (batch.length >= RECORD_BATCH_HEADER_SIZE) batch.writeInt32BE(batch.length - BATCH_LENGTH_OVERHEAD, HeaderField.batchLength);
  return sealCrc(batch);
}

/**
 * An uncompressed batch's (possibly mutated) records, compressed into a sealed batch: the only
 * way for damaged records to reach the record parser from under a codec.
 */
function recompress(batch: Buffer, codec: CompressionType): Buffer {
  if (batch.length < RECORD_BATCH_HEADER_SIZE) return batch;
  const header = Buffer.from(batch.subarray(0, RECORD_BATCH_HEADER_SIZE));
  header.writeInt16BE((header.readInt16BE(HeaderField.attributes) & ~7) | codec, HeaderField.attributes);
  return reseal(Buffer.concat([header, compress(codec, batch.subarray(RECORD_BATCH_HEADER_SIZE))]));
}

/** Damaged record blobs: raw (the CRC catches them), resealed, or recompressed under a codec. */
function hostileRecords(rng: Prng, plain: Buffer[], compressed: Buffer[]): Buffer {
  const fromCompressed = rng.chance(0.3);
  const seed = rng.pick(fromCompressed ? compressed : plain);
  // Keeping the header intact sends the damage into the records (or the compressed block).
  const mutated = mutate(rng, seed, rng.chance(0.6) ? RECORD_BATCH_HEADER_SIZE : 0);
  const roll = rng.int(10);
  if (roll < 2) return mutated;
  if (roll < 8 || fromCompressed) return reseal(mutated);
  return recompress(mutated, rng.pick(CODECS));
}

function decodeBatches(blob: Buffer): void {
  for (const { offset } of batchSpans(blob, { allowPartialTail: true })) {
    decodeRecordBatch(blob, { offset, maxDecompressedBytes: RECORDS_CAP });
  }
}

function recordSeeds(rng: Prng): { plain: Buffer[]; compressed: Buffer[] } {
  return {
    plain: Array.from({ length: 200 }, () => encodeRecordBatch({ baseTimestamp: 1_700_000_000_000n, records: randomRecords(rng) })),
    compressed: CODECS.flatMap((compression) =>
      Array.from({ length: 40 }, () => encodeRecordBatch({ baseTimestamp: 0n, compression, records: randomRecords(rng) })),
    ),
  };
}

test('record batch decoders refuse damaged batches with ProtocolError only', { timeout: TIMEOUT_MS }, (t) => {
  const rng = new Prng(SEED ^ 0xba7c4);
  const { plain, compressed } = recordSeeds(rng);
  const h = new FuzzHarness();
  let keyBytes = 0;
  const onRecord = (_records: Buffer, _keyStart: number, keyLength: number): void => {
    keyBytes += Math.max(0, keyLength);
  };
  for (let i = 0; i < iterations(30_000); i++) {
    // Two batches back to back, or one with a torn tail, exercise the batch iterator's seams.
    const blob = rng.chance(0.2) ? Buffer.concat([rng.pick(plain), hostileRecords(rng, plain, compressed)]) : hostileRecords(rng, plain, compressed);
    h.run('decodeRecordBatch', blob, (b) => decodeRecordBatch(b, { maxDecompressedBytes: RECORDS_CAP }));
    h.run('validateRecordBatch', blob, (b) => validateRecordBatch(b, 0, { maxDecompressedBytes: RECORDS_CAP, onRecord }));
    h.run('batchSpans + decodeRecordBatch', blob, decodeBatches);
  }
  t.diagnostic(h.summary());
  assertClean(h);
  assert.ok(h.calls >= 90_000);
  assert.ok(keyBytes > 0, 'the validating scan never reached a record');
  for (const kind of ['truncated', 'invalid-length', 'invalid-varint', 'invalid-value', 'checksum', 'compression'] as const) {
    assert.ok((h.rejectedByKind.get(kind) ?? 0) > 0, `no batch was refused as ${kind}: ${h.summary()}`);
  }
  assert.ok(h.accepted > 1_000, `almost no damaged batch was accepted, so little was exercised: ${h.summary()}`);
});

test('hostile lengths in record batches allocate at most the decompression cap', { timeout: TIMEOUT_MS }, () => {
  const rng = new Prng(SEED ^ 0x1e9);
  const { plain, compressed } = recordSeeds(rng);
  const seeds = [...plain, ...compressed];
  const blobs = Array.from({ length: 3_000 }, () => {
    const batch = Buffer.from(rng.pick(seeds));
    // From batchLength on: batchLength lies outside the CRC, everything after it is resealed.
    overwriteHugeLength(rng, batch, HeaderField.batchLength + rng.int(batch.length - HeaderField.batchLength));
    return sealCrc(batch);
  });
  const calls = blobs.flatMap((b) => [
    () => decodeRecordBatch(b, { maxDecompressedBytes: RECORDS_CAP }),
    () => validateRecordBatch(b, 0, { maxDecompressedBytes: RECORDS_CAP }),
  ]);
  // A codec may spend up to the cap on output by design; nothing may scale with a length field.
  // lz4-napi and snappy allocate outside V8's accounting, so for them this sees only the JS side:
  // their declared-size checks against the cap are what bound the native side.
  assertBounded('record batches', largest(blobs), calls, RECORDS_CAP);
});
