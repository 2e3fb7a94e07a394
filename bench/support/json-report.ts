import { writeFileSync } from 'node:fs';

/** The value of `--json` (`--json=file`): null when absent, '' for standard output. */
export function jsonTarget(argv: string[]): string | null {
  const arg = argv.find((a) => a === '--json' || a.startsWith('--json='));
  return arg === undefined ? null : arg.slice('--json='.length);
}

/**
 * Writes a benchmark's report as JSON where `--json` asked. Returns true when it went to
 * standard output, which then carries the JSON alone and no table.
 */
export function emitJsonReport(target: string | null, report: unknown): boolean {
  if (target === null) return false;
  const json = JSON.stringify(report, null, 2);
  if (target === '') {
    console.log(json);
    return true;
  }
  writeFileSync(target, `${json}\n`);
  return false;
}
