import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder, FramingError } from '../../src/network/frame-decoder.js';

function framed(bodies: Buffer[]): Buffer {
  return Buffer.concat(
    bodies.flatMap((body) => {
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(body.length);
      return [prefix, body];
    }),
  );
}

/** Cuts a stream at the given points (taken modulo its length), the way TCP reads may split it. */
function cut(stream: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => (stream.length === 0 ? 0 : p % stream.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...at, stream.length]) {
    if (p > from) chunks.push(stream.subarray(from, p));
    from = Math.max(from, p);
  }
  return chunks;
}

test('frames come out whole and in order however the stream is split', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (bodies, points) => {
        const sent = bodies.map((b) => Buffer.from(b));
        const decoder = new FrameDecoder(1 << 20);
        const got: Buffer[] = [];
        for (const chunk of cut(framed(sent), points)) decoder.push(chunk, got);
        assert.deepEqual(got.map((b) => b.toString('hex')), sent.map((b) => b.toString('hex')));
        assert.equal(decoder.insideFrame, false);
        assert.equal(decoder.pendingBytes, 0);
      },
    ),
    { numRuns: 500 },
  );
});

test('a stream cut inside a frame holds its bytes until the rest arrives', () => {
  const stream = framed([Buffer.from('first'), Buffer.from('second frame')]);
  const decoder = new FrameDecoder(1 << 20);
  const got: Buffer[] = [];
  decoder.push(stream.subarray(0, 11), got);
  assert.deepEqual(got.map(String), ['first']);
  assert.equal(decoder.insideFrame, true);
  assert.equal(decoder.pendingBytes, 2);
  decoder.push(stream.subarray(11), got);
  assert.deepEqual(got.map(String), ['first', 'second frame']);
  assert.equal(decoder.insideFrame, false);
});

test('a size prefix over the limit or negative is refused before its body is buffered', () => {
  for (const size of [1025, -1]) {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    const decoder = new FrameDecoder(1024);
    // The prefix split over two reads, so the refusal also works on a joined prefix.
    decoder.push(prefix.subarray(0, 3), []);
    assert.throws(() => decoder.push(prefix.subarray(3), []), FramingError);
  }
  const tighter = new FrameDecoder(1 << 20, () => ({ bytes: 8, setting: 'sasl frame limit' }));
  assert.throws(() => tighter.push(framed([Buffer.alloc(9)]), []), /sasl frame limit is 8/);
});

/** Reads `stream` the way a socket with `onread` does: each read fills at most the buffer the decoder offers, and at most `sizes[i]` bytes. */
function readInto(decoder: FrameDecoder, stream: Buffer, sizes: number[], got: Buffer[]): void {
  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const into = decoder.nextBuffer();
    const n = Math.min(into.length, stream.length - at, 1 + (sizes[i % Math.max(1, sizes.length)] ?? into.length));
    stream.copy(into, 0, at, at + n);
    at += n;
    decoder.landed(n, got);
  }
}

test('frames read into the decoder’s own buffers come out whole, and stay whole while other connections read', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 8 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat({ max: 5000 }), { maxLength: 40 }),
      (connections, sizes) => {
        const sent = connections.map((bodies) => bodies.map((b) => Buffer.from(b)));
        const decoders = sent.map(() => new FrameDecoder(1 << 20));
        const got = sent.map((): Buffer[] => []);
        // Interleaved reads of every connection share the landing buffer; what came out earlier must not change.
        sent.forEach((bodies, i) => readInto(decoders[i], framed(bodies), sizes, got[i]));
        sent.forEach((bodies, i) => {
          assert.deepEqual(got[i].map((b) => b.toString('hex')), bodies.map((b) => b.toString('hex')));
          assert.equal(decoders[i].insideFrame, false);
        });
      },
    ),
    { numRuns: 300 },
  );
});

test('a frame body larger than the landing buffer is read straight into the frame, and one over a piece is joined', () => {
  for (const size of [200_000, 3 * 1024 * 1024 + 5]) {
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = (i * 7) & 0xff;
    const decoder = new FrameDecoder(1 << 30);
    const got: Buffer[] = [];
    let reads = 0;
    const stream = framed([body, Buffer.from('next')]);
    let at = 0;
    while (at < stream.length) {
      const into = decoder.nextBuffer();
      const n = Math.min(into.length, stream.length - at);
      stream.copy(into, 0, at, at + n);
      at += n;
      reads++;
      decoder.landed(n, got);
      if (got.length === 0) assert.equal(decoder.pendingBytes, at - 4);
    }
    assert.equal(got.length, 2);
    assert.ok(got[0].equals(body), `a ${size} B body comes out unchanged`);
    assert.equal(String(got[1]), 'next');
    // The landing read, the rest of the body in as few reads as its pieces, the next frame.
    assert.equal(reads, 1 + Math.ceil((size - (64 * 1024 - 4)) / (1024 * 1024)) + (size > 1024 * 1024 ? 1 : 0) + 1);
  }
});

test('size prefixes alone cannot make the decoders allocate without bound: past the budget, pieces are small, and frames still complete', () => {
  const prefixOf = (size: number): Buffer => {
    const prefix = Buffer.alloc(5);
    prefix.writeInt32BE(size);
    return prefix;
  };
  const start = (decoder: FrameDecoder, size: number): void => {
    const into = decoder.nextBuffer();
    prefixOf(size).copy(into);
    decoder.landed(5, []);
  };
  // 256 connections each send the prefix of a 1 MiB frame and one byte of it: 256 MiB of pieces.
  const hostile = Array.from({ length: 256 }, () => new FrameDecoder(1 << 30));
  for (const d of hostile) start(d, 1 << 20);
  assert.equal(hostile.at(-1)!.nextBuffer().length, (1 << 20) - 1, 'within the budget, a piece is the whole frame');
  const late = new FrameDecoder(1 << 30);
  start(late, 1 << 20);
  assert.equal(late.nextBuffer().length, 16 * 1024 - 1, 'past it, a small piece');
  // The late frame still completes, in small pieces, joined.
  const body = Buffer.alloc(1 << 20, 7);
  body[0] = 0; // the byte that came with the prefix
  let at = 1;
  const got: Buffer[] = [];
  while (got.length === 0) {
    const into = late.nextBuffer();
    const n = Math.min(into.length, body.length - at);
    body.copy(into, 0, at, at + n);
    at += n;
    late.landed(n, got);
  }
  assert.ok(got[0].equals(body));
  // Connections that go give their pieces back.
  for (const d of hostile) d.release();
  const after = new FrameDecoder(1 << 30);
  start(after, 1 << 20);
  assert.equal(after.nextBuffer().length, (1 << 20) - 1, 'the budget is free again');
  after.release();
});
