/** Why the byte stream of a connection cannot go on: the connection is closed with this. */
export class FramingError extends Error {}

export interface FrameLimit {
  bytes: number;
  setting: string;
}

/**
 * Splits a connection's byte stream into size-prefixed frames. The size is checked against the
 * limit before a single byte of the frame is buffered, so a hostile prefix costs nothing; a
 * frame that arrived in one chunk is handed out as a view, without copying.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** Bytes at the start of chunks[0] already handed out: a cursor, so that no frame costs a re-slice of what remains. */
  private headOffset = 0;
  private buffered = 0;
  /** Size of the frame being assembled, or -1 while its prefix is incomplete. */
  private expected = -1;

  constructor(
    private readonly maxFrameBytes: number,
    /** A lower limit in force for now, and the setting it comes from (before a client has authenticated). */
    private readonly tighterLimit: () => FrameLimit | null = () => null,
  ) {}

  /** Feeds bytes in; returns the frames they complete (without their size prefix). */
  push(data: Buffer, out: Buffer[]): void {
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < 4) return;
        const size = this.peekInt32();
        const limit = this.tighterLimit() ?? { bytes: this.maxFrameBytes, setting: 'socket.request.max.bytes' };
        if (size < 0 || size > limit.bytes) throw new FramingError(`frame of ${size} bytes refused (${limit.setting} is ${limit.bytes})`);
        this.skip(4);
        this.expected = size;
      }
      if (this.buffered < this.expected) return;
      out.push(this.read(this.expected));
      this.skip(this.expected);
      this.expected = -1;
    }
  }

  /** Whether a frame has begun (part of its size prefix or of its body arrived) and not ended. */
  get insideFrame(): boolean {
    return this.expected >= 0 || this.buffered > 0;
  }

  /** Bytes held for a frame not yet complete. */
  get pendingBytes(): number {
    return this.buffered;
  }

  private peekInt32(): number {
    const first = this.chunks[0];
    if (first.length - this.headOffset >= 4) return first.readInt32BE(this.headOffset);
    return this.read(4).readInt32BE(0);
  }

  /** The next n buffered bytes, as a view when one chunk holds them all, else joined into a copy. */
  private read(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    const start = this.headOffset;
    if (first.length - start >= n) return first.subarray(start, start + n);
    const out = Buffer.allocUnsafe(n);
    let at = first.copy(out, 0, start);
    for (let i = 1; at < n; i++) at += this.chunks[i].copy(out, at, 0, n - at);
    return out;
  }

  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const rest = this.chunks[0].length - this.headOffset;
      if (rest > n) {
        this.headOffset += n;
        return;
      }
      n -= rest;
      this.chunks.shift();
      this.headOffset = 0;
    }
  }
}
