import { once } from 'node:events';

/** Thrown by `writeOut` when the reader of stdout went away (`sluice consume ... | head`). */
export class OutputClosed extends Error {
  constructor() {
    super('stdout was closed');
    this.name = 'OutputClosed';
  }
}

let failure: Error | null = null;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  failure = e.code === 'EPIPE' ? new OutputClosed() : e;
});

/** Writes to stdout, waiting while its buffer is full, so a slow reader slows us down. */
export async function writeOut(data: string | Buffer): Promise<void> {
  if (failure) throw failure;
  if (!process.stdout.write(data)) {
    const done = new AbortController();
    const until = (event: string): Promise<unknown> => once(process.stdout, event, { signal: done.signal });
    // `once` rejects on an 'error' event; the listener above has recorded it.
    await Promise.race([until('drain'), until('close')])
      .catch(() => {})
      .finally(() => done.abort());
  }
  if (failure) throw failure;
}
