/** quota.window.num and quota.window.size.seconds, in ms. */
export interface QuotaWindows {
  samples: number;
  windowMs: number;
}

/**
 * A rate over the last `samples` windows of `windowMs`, measured as Kafka's sampled Rate does:
 * the sum of the live samples over the time they span, that span never shorter than all but
 * one full window, so that a client's first burst is not measured over a few milliseconds.
 */
export class SampledRate {
  private readonly starts: number[] = [];
  private readonly values: number[] = [];
  lastRecordMs = 0;

  constructor(private readonly windows: QuotaWindows) {}

  record(value: number, now: number): void {
    this.purge(now);
    const last = this.starts.length - 1;
    if (last >= 0 && now < this.starts[last] + this.windows.windowMs) this.values[last] += value;
    else {
      this.starts.push(now);
      this.values.push(value);
    }
    this.lastRecordMs = now;
  }

  /** Per second. */
  measure(now: number): number {
    this.purge(now);
    let total = 0;
    for (const v of this.values) total += v;
    return total / (this.spanMs(now) / 1000);
  }

  /** How long the rate is measured over now. */
  spanMs(now: number): number {
    const { samples, windowMs } = this.windows;
    const elapsed = this.starts.length === 0 ? 0 : now - this.starts[0];
    const full = Math.floor(elapsed / windowMs);
    return Math.max(elapsed + Math.max(0, samples - 1 - full) * windowMs, 1);
  }

  /**
   * How long a client over `bound` must wait for its rate to come back to it: the excess over
   * the bound, as a share of the bound, of the span the rate is measured over (KIP-219). Never
   * longer than all the windows: by then everything measured now has aged out.
   */
  throttleMs(bound: number, now: number): number {
    const rate = this.measure(now);
    if (rate <= bound) return 0;
    return Math.min(Math.round(((rate - bound) / bound) * this.spanMs(now)), this.windows.samples * this.windows.windowMs);
  }

  /** Nothing recorded in the windows any more: the rate can be forgotten. */
  idle(now: number): boolean {
    return now - this.lastRecordMs > this.windows.samples * this.windows.windowMs;
  }

  private purge(now: number): void {
    const oldest = now - this.windows.samples * this.windows.windowMs;
    while (this.starts.length > 0 && this.starts[0] + this.windows.windowMs <= oldest) {
      this.starts.shift();
      this.values.shift();
    }
  }
}
