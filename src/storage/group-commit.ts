/**
 * Group commit: callers that ask for durability while no flush has started yet share the next
 * one, so a burst of appends costs one fdatasync, not one each. A request made while a flush is
 * running waits for the following flush, because the running one may have started before the
 * caller's bytes were written.
 */
export class GroupCommit {
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;
  private running: Promise<void> | null = null;
  /** Flushes performed, for metrics and for tests that check batching. */
  flushes = 0;

  constructor(private readonly flush: () => Promise<void>) {}

  request(): Promise<void> {
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.next = { promise, resolve, reject };
      if (!this.running) this.schedule();
    }
    return this.next.promise;
  }

  private schedule(): void {
    // One turn of the loop lets appends that arrived together join the same flush.
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    const group = this.next;
    if (!group) return;
    this.next = null;
    this.flushes++;
    this.running = this.flush();
    try {
      await this.running;
      group.resolve();
    } catch (e) {
      group.reject(e);
    } finally {
      this.running = null;
      if (this.next) this.schedule();
    }
  }

  /** Fails the requests waiting for the next flush: what they wait for is gone. */
  failWaiting(e: unknown): void {
    const group = this.next;
    this.next = null;
    group?.reject(e);
  }

  /** Resolves once no flush is running or waiting: before the files it syncs are closed. */
  async idle(): Promise<void> {
    while (this.running || this.next) {
      await Promise.allSettled([this.running, this.next?.promise]);
    }
  }
}
