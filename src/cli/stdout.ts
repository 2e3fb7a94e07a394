import { once } from 'node:events';

/** Thrown by `writeOut` when the reader of stdout went away (`sluice consume ... | head`). */
export class OutputClosed extends Error {
  constructor() {
    super('stdout was closed');
    this.name = 'OutputClosed';
  }
}

let closed = false;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  closed = true;
});

/** Writes to stdout, waiting while its buffer is full, so a slow reader slows us down. */
export async function writeOut(data: string | Buffer): Promise<void> {
  if (closed) throw new OutputClosed();
  if (!process.stdout.write(data)) {
    const done = new AbortController();
    const until = (event: string): Promise<unknown> => once(process.stdout, event, { signal: done.signal });
    await Promise.race([until('drain'), until('close')]).finally(() => done.abort());
  }
  if (closed) throw new OutputClosed();
}
