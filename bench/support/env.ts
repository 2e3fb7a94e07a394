/** The benchmarks' settings from the environment, checked before anything starts. */

/** An integer of at least `min` (`1_000_000` allowed), or `fallback` when unset. */
export function envCount(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}, not "${raw}"`);
  return n;
}

/** Broker settings as "key=value,key=value". */
export function envSettings(name: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const item of (process.env[name] ?? '').split(',').filter((x) => x.trim() !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`${name}: "${item}" is not key=value`);
    settings[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return settings;
}

/** One of `choices`; the first when unset. */
export function envChoice<T extends string>(name: string, choices: readonly [T, ...T[]]): T {
  const raw = process.env[name] ?? '';
  if (raw === '') return choices[0];
  if (!(choices as readonly string[]).includes(raw)) throw new Error(`${name} must be ${choices.join(', ')}, not "${raw}"`);
  return raw as T;
}

/** Comma-separated integers of at least `min`, or `fallback` when unset. */
export function envCounts(name: string, fallback: number[], min = 1): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.split(',').map((item) => {
    const n = Number(item.trim().replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be integers of at least ${min}, not "${raw}"`);
    return n;
  });
}
