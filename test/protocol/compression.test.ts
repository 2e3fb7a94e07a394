import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as snappyRawBlock, uncompressSync as snappyUncompress } from 'snappy';
import { compress as zstdCompress } from 'zstd-napi';
import { COMPRESSION_TYPES, CompressionType, compress, decompress } from '../../src/protocol/compression/index.js';
import { ProtocolError } from '../../src/protocol/protocol-error.js';

const CODECS = COMPRESSION_TYPES;
const REAL_CODECS = CODECS.filter((t) => t !== CompressionType.None);
const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
const LZ4_MAGIC = Buffer.from([0x04, 0x22, 0x4d, 0x18]);
const MiB = 1024 * 1024;

function isCompressionError(err: unknown): boolean {
  return err instanceof ProtocolError && err.kind === 'compression';
}

function assertCompressionError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isCompressionError(err), `expected ProtocolError('compression'), got ${String(err)}`);
    if (message !== undefined) assert.match((err as Error).message, message);
    return true;
  });
}

/** Decompression may succeed or refuse, but only with ProtocolError('compression'). */
function decompressOrCompressionError(type: number, data: Buffer, cap: number): void {
  try {
    decompress(type, data, cap);
  } catch (err) {
    if (!isCompressionError(err)) throw err;
  }
}

function xerialStream(blocks: Buffer[]): Buffer {
  const parts: Buffer[] = [XERIAL_HEADER];
  for (const block of blocks) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** Payloads that compress well and badly: random bytes, runs, and repeated text. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 100_000 })).map(([b, n]) => Buffer.alloc(n, b)),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 3000 })).map(([s, n]) =>
    Buffer.from(s.repeat(n)),
  ),
);

describe('compression', () => {
  it('numbers the codecs as Kafka does', () => {
    assert.deepEqual(CODECS, [0, 1, 2, 3, 4]);
  });

  for (const type of CODECS) {
    it(`${NAMES[type]}: round-trips any payload, with a cap of exactly its size`, () => {
      fc.assert(
        fc.property(payload, (data) => {
          const compressed = compress(type, data);
          assert.deepEqual(decompress(type, compressed, data.length), data);
        }),
        { numRuns: 60 },
      );
    });

    it(`${NAMES[type]}: refuses output one byte over the cap`, () => {
      const data = Buffer.alloc(50_000, 'a');
      assertCompressionError(() => decompress(type, compress(type, data), data.length - 1), /cap/);
    });
  }

  it('refuses unassigned codec ids 5 to 7', () => {
    for (const type of [5, 6, 7, -1]) {
      assertCompressionError(() => decompress(type, Buffer.from('x'), 100), /unknown codec/);
    }
  });

  describe('gzip', () => {
    it('stops a gzip bomb at the cap', () => {
      const bomb = gzipSync(Buffer.alloc(64 * MiB));
      assert.ok(bomb.length < 100_000);
      assertCompressionError(() => decompress(CompressionType.Gzip, bomb, MiB), /cap/);
    });

    it('reads what other gzip writers produce', () => {
      const data = Buffer.from('hello from another writer '.repeat(50));
      assert.deepEqual(decompress(CompressionType.Gzip, gzipSync(data, { level: 9 }), data.length), data);
    });
  });

  describe('snappy', () => {
    it('writes the xerial framing: header, then int32 length + raw block of at most 32 KiB each', () => {
      const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
      const out = compress(CompressionType.Snappy, data);
      assert.deepEqual(out.subarray(0, 16), XERIAL_HEADER);
      const pieces: Buffer[] = [];
      let pos = 16;
      while (pos < out.length) {
        const length = out.readInt32BE(pos);
        pieces.push(snappyUncompress(out.subarray(pos + 4, pos + 4 + length), { asBuffer: true }) as Buffer);
        pos += 4 + length;
      }
      assert.equal(pos, out.length);
      assert.deepEqual(
        pieces.map((p) => p.length),
        [32768, 32768, 32768, 1696],
      );
      assert.deepEqual(Buffer.concat(pieces), data);
    });

    it('reads a hand-assembled raw snappy block (literal + copy)', () => {
      // Uncompressed length 9; literal "abc" (tag 0x08); copy length 6, offset 3 (tag 0x09, 0x03).
      const block = Buffer.from([0x09, 0x08, 0x61, 0x62, 0x63, 0x09, 0x03]);
      assert.equal(decompress(CompressionType.Snappy, block, 9).toString(), 'abcabcabc');
    });

    it('reads a xerial stream assembled by hand from raw blocks', () => {
      const handBlock = Buffer.from([0x09, 0x08, 0x61, 0x62, 0x63, 0x09, 0x03]);
      const libraryBlock = snappyRawBlock(Buffer.from('-and more'));
      const stream = xerialStream([handBlock, libraryBlock]);
      assert.equal(decompress(CompressionType.Snappy, stream, 100).toString(), 'abcabcabc-and more');
      assert.equal(decompress(CompressionType.Snappy, xerialStream([]), 0).length, 0);
    });

    it('refuses output over the cap from the declared lengths alone', () => {
      // Raw block claiming 2^31 bytes: refused before the library sees it.
      const claims = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08, 0x00]);
      assertCompressionError(() => decompress(CompressionType.Snappy, claims, MiB), /2147483648 bytes exceeds/);
      // Xerial blocks that only add up past the cap.
      const block = snappyRawBlock(Buffer.alloc(600_000));
      assertCompressionError(() => decompress(CompressionType.Snappy, xerialStream([block, block]), MiB), /cap/);
    });

    it('refuses broken xerial framing', () => {
      const block = snappyRawBlock(Buffer.from('abc'));
      const good = xerialStream([block]);
      assertCompressionError(() => decompress(CompressionType.Snappy, good.subarray(0, 12), 100));
      assertCompressionError(() => decompress(CompressionType.Snappy, good.subarray(0, good.length - 1), 100));
      assertCompressionError(() => decompress(CompressionType.Snappy, xerialStream([Buffer.alloc(0)]), 100));
      const negative = Buffer.from(good);
      negative.writeInt32BE(-5, 16);
      assertCompressionError(() => decompress(CompressionType.Snappy, negative, 100));
    });

    it('refuses a raw block whose content disagrees with its declared length', () => {
      const block = Buffer.from([0x0a, 0x08, 0x61, 0x62, 0x63, 0x09, 0x03]); // claims 10, holds 9
      assertCompressionError(() => decompress(CompressionType.Snappy, block, 100));
    });
  });

  describe('lz4', () => {
    it('writes the LZ4 frame format', () => {
      const out = compress(CompressionType.Lz4, Buffer.from('kafka'));
      assert.deepEqual(out.subarray(0, 4), LZ4_MAGIC);
    });

    it('reads frames with block and content checksums', () => {
      const data = Buffer.from('checksummed '.repeat(10_000));
      const frame = compressFrameSync(data, { blockChecksums: true, contentChecksum: true });
      assert.deepEqual(decompress(CompressionType.Lz4, frame, data.length), data);
    });

    it('refuses what the library would quietly accept: cut, trailing and concatenated frames', () => {
      const frame = compress(CompressionType.Lz4, Buffer.from('hello hello hello hello'));
      const cut = frame.subarray(0, frame.length - 2);
      assertCompressionError(() => decompress(CompressionType.Lz4, cut, 100), /truncated/);
      const trailing = Buffer.concat([frame, Buffer.from([1, 2, 3])]);
      assertCompressionError(() => decompress(CompressionType.Lz4, trailing, 100), /3 bytes follow/);
      assertCompressionError(() => decompress(CompressionType.Lz4, Buffer.concat([frame, frame]), 100), /follow/);
    });

    it('refuses a frame that could expand past the cap before inflating it', () => {
      const bomb = compress(CompressionType.Lz4, Buffer.alloc(64 * MiB));
      assert.ok(bomb.length < 300_000);
      assertCompressionError(() => decompress(CompressionType.Lz4, bomb, MiB), /cap/);
    });

    it('refuses a bad magic, version or block size id', () => {
      const frame = compress(CompressionType.Lz4, Buffer.from('abc'));
      const badMagic = Buffer.from(frame);
      badMagic[0] = 0;
      assertCompressionError(() => decompress(CompressionType.Lz4, badMagic, 100), /not an LZ4 frame/);
      const badVersion = Buffer.from(frame);
      badVersion[4] &= 0x3f;
      assertCompressionError(() => decompress(CompressionType.Lz4, badVersion, 100), /version/);
      const badBlockSize = Buffer.from(frame);
      badBlockSize[5] = 0x10;
      assertCompressionError(() => decompress(CompressionType.Lz4, badBlockSize, 100), /block size/);
    });
  });

  describe('zstd', () => {
    it('refuses a frame whose declared content size is over the cap', () => {
      const bomb = zstdCompress(Buffer.alloc(64 * MiB));
      assert.ok(bomb.length < 10_000);
      assertCompressionError(() => decompress(CompressionType.Zstd, bomb, MiB), /67108864 bytes exceeds/);
    });

    it('stops a frame without a content size (as Java writes them) at the cap', () => {
      const bomb = zstdCompress(Buffer.alloc(64 * MiB), { contentSizeFlag: false });
      assertCompressionError(() => decompress(CompressionType.Zstd, bomb, MiB), /cap/);
      const small = Buffer.from('no content size here '.repeat(1000));
      const frame = zstdCompress(small, { contentSizeFlag: false });
      assert.deepEqual(decompress(CompressionType.Zstd, frame, small.length), small);
    });

    it('reads concatenated frames', () => {
      const a = Buffer.from('first frame ');
      const b = Buffer.from('second frame');
      const both = Buffer.concat([zstdCompress(a), zstdCompress(b, { contentSizeFlag: false })]);
      assert.equal(decompress(CompressionType.Zstd, both, 100).toString(), 'first frame second frame');
    });

    it('refuses a frame cut short', () => {
      const frame = zstdCompress(Buffer.from('some data to compress '.repeat(100)));
      assertCompressionError(() => decompress(CompressionType.Zstd, frame.subarray(0, frame.length - 3), MiB));
      assertCompressionError(() => decompress(CompressionType.Zstd, Buffer.alloc(0), MiB));
    });

    it('recovers after a failed call (shared decompression context)', () => {
      const data = Buffer.from('after the failure');
      const frame = zstdCompress(data);
      assertCompressionError(() => decompress(CompressionType.Zstd, frame.subarray(0, frame.length - 2), MiB));
      assert.deepEqual(decompress(CompressionType.Zstd, frame, MiB), data);
    });
  });

  for (const type of REAL_CODECS) {
    it(`${NAMES[type]}: damaged or arbitrary input only ever fails with ProtocolError('compression')`, () => {
      fc.assert(
        fc.property(
          payload,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
          fc.nat(),
          (data, flips, cut) => {
            const compressed = Buffer.from(compress(type, data));
            for (const [at, mask] of flips) compressed[at % compressed.length] ^= mask;
            decompressOrCompressionError(type, compressed, 4 * MiB);
            decompressOrCompressionError(type, compressed.subarray(0, cut % compressed.length), 4 * MiB);
          },
        ),
        { numRuns: 150 },
      );
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
          decompressOrCompressionError(type, Buffer.from(junk), 4 * MiB);
        }),
        { numRuns: 150 },
      );
    });
  }
});
