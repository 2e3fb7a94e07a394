const NEWLINE = 0x0a;

/**
 * The lines of a byte stream, as bytes (a message need not be UTF-8), without their "\n";
 * a last line without one counts too. Yields the lines of each chunk together, to keep the
 * per-line cost low on large inputs.
 */
export async function* byteLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer[]> {
  // A line that spans chunks, kept in pieces until its end shows up.
  let pending: Buffer[] = [];
  for await (const piece of input) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const tail = chunk.subarray(start, nl);
      lines.push(pending.length > 0 ? Buffer.concat([...pending, tail]) : tail);
      pending = [];
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
    if (lines.length > 0) yield lines;
  }
  if (pending.length > 0) yield [Buffer.concat(pending)];
}
