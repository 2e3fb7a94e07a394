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
