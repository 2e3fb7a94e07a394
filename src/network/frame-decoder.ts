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
        this.take(4);
        this.expected = size;
      }
      if (this.buffered < this.expected) return;
      out.push(this.take(this.expected));
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
    if (first.length >= 4) return first.readInt32BE(0);
    return this.take(4, false).readInt32BE(0);
  }

  /** The next n bytes as one Buffer, consumed unless `consume` is false. */
  private take(n: number, consume = true): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (n === 0) out = Buffer.alloc(0);
    else if (first.length >= n) out = first.subarray(0, n);
    else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      for (const c of this.chunks) {
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (at === n) break;
      }
    }
    if (!consume) return out;
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0];
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
    return out;
  }
}
