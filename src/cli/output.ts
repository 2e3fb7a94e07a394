/**
 * Rows as aligned columns (two spaces apart, the last column unpadded), with an upper-case
 * header: readable by people, and by `awk`/`cut` in scripts since no cell holds a space.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number | bigint)[])[]): string {
  const cells = [header.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => (String(c) === '' ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** `key: value` lines with the values aligned. */
export function formatFields(fields: readonly (readonly [string, string | number | bigint])[]): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n') + '\n';
}

/** "1 message", "2 messages". */
export function plural(count: number | bigint, noun: string): string {
  return `${count} ${noun}${count === 1 || count === 1n ? '' : 's'}`;
}
