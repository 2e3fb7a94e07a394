import { ProtocolError, type ProtocolErrorKind } from '../../src/protocol/protocol-error.js';

/**
 * A small seeded PRNG (sfc32, seeded through splitmix32), so a failing fuzz run replays exactly
 * from its printed seed. Math.random cannot be seeded.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.uint32() / 2 ** 32) * n);
  }

  chance(p: number): boolean {
    return this.uint32() < p * 2 ** 32;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.uint32() & 0xff;
    return out;
  }
}

/** The seed from FUZZ_SEED, or a fresh one; either way the caller prints it. */
export function fuzzSeed(): number {
  const fromEnv = process.env.FUZZ_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${fromEnv}`);
    return seed >>> 0;
  }
  return (Math.random() * 2 ** 32) >>> 0;
}

const BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const INT16S = [0x7fff, 0x8000, 0xffff, 0xfffe, 0x0000];
const INT32S = [0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x40000000, 0x00010000];
/** Varints that decode to a huge length, overflow 32 bits, or never end within 5 bytes. */
const VARINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x07], // 2^31-1
  [0xfe, 0xff, 0xff, 0xff, 0x0f], // 2^32-2
  [0xff, 0xff, 0xff, 0xff, 0xff],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
  [0x80, 0x80, 0x80, 0x40], // 2^27
];

/** Hostile length values for every width a length field can have in the protocol. */
export function overwriteHugeLength(rng: Prng, out: Buffer, at: number): void {
  switch (rng.int(3)) {
    case 0:
      if (at + 2 <= out.length) out.writeUInt16BE(rng.pick(INT16S), at);
      break;
    case 1:
      if (at + 4 <= out.length) out.writeUInt32BE(rng.pick(INT32S), at);
      break;
    default: {
      const v = rng.pick(VARINTS);
      for (let i = 0; i < v.length && at + i < out.length; i++) out[at + i] = v[i];
    }
  }
}

/**
 * One random mutation of `input`, never touching bytes before `keep` (so a frame's api key and
 * version can survive and the mutation reaches the body decoder). Always returns a new Buffer.
 */
export function mutateOnce(rng: Prng, input: Buffer, keep = 0): Buffer {
  const span = input.length - keep;
  const at = keep + rng.int(span + 1);
  const out = Buffer.from(input);
  const inBounds = at < out.length;
  switch (rng.int(8)) {
    case 0: // bit flips
      for (let n = 1 + rng.int(4); n > 0 && span > 0; n--) out[keep + rng.int(span)] ^= 1 << rng.int(8);
      return out;
    case 1:
      if (inBounds) out[at] = rng.pick(BYTES);
      return out;
    case 2:
    case 3: // length fields are the most interesting target: weight them double
      overwriteHugeLength(rng, out, at);
      return out;
    case 4: // truncation
      return out.subarray(0, at);
    case 5: // insertion
      return Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(16)), out.subarray(at)]);
    case 6: // deletion
      return Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + rng.int(16)))]);
    default: {
      // duplicate a range: repeats structures, so counts and contents disagree in new ways
      const len = 1 + rng.int(32);
      return Buffer.concat([out.subarray(0, at), out.subarray(at, at + len), out.subarray(at)]);
    }
  }
}

/** One to four stacked mutations. */
export function mutate(rng: Prng, input: Buffer, keep = 0): Buffer {
  let out = mutateOnce(rng, input, keep);
  for (let n = rng.int(4); n > 0; n--) out = mutateOnce(rng, out, Math.min(keep, out.length));
  return out;
}

/** Compile-time exhaustive: adding a kind to ProtocolErrorKind breaks the build until listed. */
const KNOWN_KINDS: Record<ProtocolErrorKind, true> = {
  truncated: true,
  'invalid-length': true,
  'invalid-varint': true,
  'invalid-value': true,
  checksum: true,
  'unsupported-version': true,
  unencodable: true,
  compression: true,
};

export function isKnownProtocolError(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError && Object.hasOwn(KNOWN_KINDS, e.kind);
}

interface Escape {
  target: string;
  input: Buffer;
  error: unknown;
}

/**
 * Runs decoders on hostile inputs and keeps score: what was accepted, what was refused with a
 * ProtocolError, what escaped as anything else (a bug), and the slowest single call.
 */
export class FuzzHarness {
  calls = 0;
  accepted = 0;
  readonly rejectedByKind = new Map<ProtocolErrorKind, number>();
  readonly escapes: Escape[] = [];
  escapeCount = 0;
  slowestMs = 0;
  slowestTarget = '';

  run(target: string, input: Buffer, fn: (input: Buffer) => unknown): void {
    this.calls++;
    const t0 = performance.now();
    try {
      fn(input);
      this.accepted++;
    } catch (e) {
      if (isKnownProtocolError(e)) {
        this.rejectedByKind.set(e.kind, (this.rejectedByKind.get(e.kind) ?? 0) + 1);
      } else {
        this.escapeCount++;
        // A handful is enough to debug; thousands of copies would only bloat the report.
        if (this.escapes.length < 5) this.escapes.push({ target, input: Buffer.from(input), error: e });
      }
    }
    const ms = performance.now() - t0;
    if (ms > this.slowestMs) {
      this.slowestMs = ms;
      this.slowestTarget = `${target} (${input.length} bytes)`;
    }
  }

  get rejected(): number {
    let n = 0;
    for (const c of this.rejectedByKind.values()) n += c;
    return n;
  }

  /** Everything needed to reproduce the escapes, for an assertion message. */
  describeEscapes(seed: number): string {
    const lines = [`${this.escapeCount} non-ProtocolError escapes (FUZZ_SEED=${seed}):`];
    for (const { target, input, error } of this.escapes) {
      lines.push(`- ${target} on ${input.toString('hex')}`);
      lines.push(`  ${error instanceof Error ? error.stack : String(error)}`);
    }
    return lines.join('\n');
  }

  summary(): string {
    const kinds = [...this.rejectedByKind].map(([k, n]) => `${k}=${n}`).join(' ');
    return `${this.calls} calls: ${this.accepted} accepted, ${this.rejected} refused (${kinds}), ${this.escapeCount} escaped; slowest ${this.slowestMs.toFixed(1)} ms in ${this.slowestTarget}`;
  }
}

export interface AllocationReport {
  /** The largest growth of heapUsed and of arrayBuffers across a single call, in bytes. */
  maxHeapGrowth: number;
  maxExternalGrowth: number;
}

/**
 * Measures what each call allocates that is still counted when it returns. Sampled around every
 * call rather than around the whole batch, so a huge buffer built and dropped inside one call
 * still shows: V8 frees array buffers only at a later GC.
 */
export function measureAllocation(calls: readonly (() => unknown)[]): AllocationReport {
  let maxHeapGrowth = 0;
  let maxExternalGrowth = 0;
  for (const call of calls) {
    const before = process.memoryUsage();
    try {
      call();
    } catch {
      // Errors are the fuzz harness's business; here only memory counts.
    }
    const after = process.memoryUsage();
    maxHeapGrowth = Math.max(maxHeapGrowth, after.heapUsed - before.heapUsed);
    maxExternalGrowth = Math.max(maxExternalGrowth, after.arrayBuffers - before.arrayBuffers);
  }
  return { maxHeapGrowth, maxExternalGrowth };
}
