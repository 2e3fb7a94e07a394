/** Why the byte stream of a connection cannot go on: the connection is closed with this. */
export class FramingError extends Error {}

export interface FrameLimit {
  bytes: number;
  setting: string;
}

/**
 * Where socket reads land while no frame body is being filled. One serves every connection of
 * the thread: a read's bytes are taken out of it in that read's callback, before any other read.
 */
const LANDING_BYTES = 64 * 1024;
let landing: Buffer | null = null;

/**
 * A frame body is filled in pieces of at most this size, each allocated as the bytes reach it.
 * Frames up to it (a producer's default request is 1 MB) are read straight into their own
 * buffer; larger ones are joined at the end.
 */
const PIECE_BYTES = 1024 * 1024;

/**
 * A piece is allocated before the bytes that fill it have come, so a client could make the
 * broker allocate a piece for every size prefix it sends. Past this many bytes of pieces held by
 * unfinished frames, across the thread's connections, new pieces are of SMALL_PIECE_BYTES at
 * most: what prefixes alone can make the broker hold stays bounded, and frames still complete.
 */
const AHEAD_BUDGET_BYTES = 256 * 1024 * 1024;
const SMALL_PIECE_BYTES = 16 * 1024;
let heldAhead = 0;

/**
 * Splits a connection's byte stream into size-prefixed frames. The size is checked against the
 * limit before a single byte of the frame is buffered.
 *
 * Two ways in. A socket that reads into buffers of our choosing (Node's `onread`) asks
 * nextBuffer() where its next read goes and reports landed(n) after it: a frame body is then
 * read by the kernel straight into the frame's own buffer, with no copy and no join, and only
 * the bytes of the read that found its prefix are copied in. Chunks that arrive as buffers of
 * their own (TLS) go through push(), which hands out views of them where a frame lies in one.
 */
export class FrameDecoder {
  /** The bytes of the next frame's size prefix so far, when a read ended inside it, and how many. */
  private prefix = 0;
  private prefixFilled = 0;
  /** The pieces of the frame body being filled (its size prefix read), or null between frames. */
  private pieces: Buffer[] | null = null;
  private size = 0;
  /** Bytes of the body in its pieces so far. */
  private filled = 0;
  /** Bytes of the last piece filled so far. */
  private pieceFilled = 0;
  /** Bytes of the pieces of the frame being filled, counted in heldAhead until it ends. */
  private held = 0;

  constructor(
    private readonly maxFrameBytes: number,
    /** A lower limit in force for now, and the setting it comes from (before a client has authenticated). */
    private readonly tighterLimit: () => FrameLimit | null = () => null,
  ) {}

  /** Where the next read should land: the rest of the current piece of a frame body, else the shared landing buffer. */
  nextBuffer(): Buffer {
    if (this.pieces === null) return (landing ??= Buffer.allocUnsafe(LANDING_BYTES));
    return this.pieces[this.pieces.length - 1].subarray(this.pieceFilled);
  }

  /** `n` bytes were read into the buffer nextBuffer() gave; pushes the frames they complete onto `out`. */
  landed(n: number, out: Buffer[]): void {
    if (this.pieces === null) return this.take(landing!, n, false, out);
    this.filled += n;
    this.pieceFilled += n;
    this.pieceDone(out);
  }

  /** Feeds a chunk that arrived as a buffer of its own; pushes the frames it completes onto `out`. */
  push(data: Buffer, out: Buffer[]): void {
    this.take(data, data.length, true, out);
  }

  /** The connection is gone: a frame it was filling no longer counts against the budget. */
  release(): void {
    heldAhead -= this.held;
    this.held = 0;
    this.pieces = null;
    this.filled = 0;
  }

  /** Whether a frame has begun (part of its size prefix or of its body arrived) and not ended. */
  get insideFrame(): boolean {
    return this.pieces !== null || this.prefixFilled > 0;
  }

  /** Bytes held for a frame not yet complete. */
  get pendingBytes(): number {
    return this.prefixFilled + this.filled;
  }

  /**
   * Consumes src[0, end): whole frames come out as views of it when it may be kept (`own`),
   * else as one copy of their run; a frame it ends inside goes into the frame's first piece.
   */
  private take(src: Buffer, end: number, own: boolean, out: Buffer[]): void {
    let at = 0;
    while (at < end) {
      if (this.pieces !== null) {
        const piece = this.pieces[this.pieces.length - 1];
        const n = src.copy(piece, this.pieceFilled, at, Math.min(end, at + piece.length - this.pieceFilled));
        at += n;
        this.filled += n;
        this.pieceFilled += n;
        this.pieceDone(out);
        continue;
      }
      if (this.prefixFilled > 0 || end - at < 4) {
        while (this.prefixFilled < 4 && at < end) {
          this.prefix = (this.prefix << 8) | src[at++];
          this.prefixFilled++;
        }
        if (this.prefixFilled < 4) return;
        this.prefixFilled = 0;
        this.begin(this.checked(this.prefix), out);
        continue;
      }
      // A run of frames that lie whole in src, taken out with one copy when src is the landing buffer.
      const runStart = at;
      const bodies: number[] = [];
      let unfinished = -1;
      while (end - at >= 4) {
        const size = this.checked(src.readInt32BE(at));
        if (end - at - 4 < size) {
          unfinished = size;
          break;
        }
        bodies.push(at + 4, size);
        at += 4 + size;
      }
      if (bodies.length > 0) {
        const run = own ? src : Buffer.from(src.subarray(runStart, at));
        const base = own ? 0 : runStart;
        for (let i = 0; i < bodies.length; i += 2) out.push(run.subarray(bodies[i] - base, bodies[i] - base + bodies[i + 1]));
      }
      if (unfinished >= 0) {
        this.begin(unfinished, out);
        at += 4;
      }
    }
  }

  /** `size` if the limit in force allows it; a FramingError if not. */
  private checked(size: number): number {
    const tighter = this.tighterLimit();
    const bytes = tighter?.bytes ?? this.maxFrameBytes;
    if (size < 0 || size > bytes) throw new FramingError(`frame of ${size} bytes refused (${tighter?.setting ?? 'socket.request.max.bytes'} is ${bytes})`);
    return size;
  }

  /** A size prefix was read and checked: the body starts filling its first piece (an empty body is a frame at once). */
  private begin(size: number, out: Buffer[]): void {
    this.size = size;
    if (size === 0) return void out.push(Buffer.alloc(0));
    this.filled = 0;
    this.pieces = [this.piece()];
  }

  /** The next piece of the frame body, as big as the rest of it allows, and the budget. */
  private piece(): Buffer {
    let n = Math.min(this.size - this.filled, PIECE_BYTES);
    if (heldAhead + n > AHEAD_BUDGET_BYTES) n = Math.min(n, SMALL_PIECE_BYTES);
    heldAhead += n;
    this.held += n;
    this.pieceFilled = 0;
    return Buffer.allocUnsafe(n);
  }

  /** After bytes went into the last piece: the frame out if complete, or a new piece if that one is full. */
  private pieceDone(out: Buffer[]): void {
    const pieces = this.pieces!;
    if (this.filled === this.size) {
      out.push(pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, this.size));
      this.release();
      return;
    }
    if (this.pieceFilled === pieces[pieces.length - 1].length) pieces.push(this.piece());
  }
}
