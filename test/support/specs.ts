import { existsSync } from 'node:fs';
import { defaultSpecDir } from '../../src/protocol/codegen/locations.js';
import { loadSpecs, type ProtocolSpecs } from '../../src/protocol/codegen/spec-model.js';

/**
 * Kafka's specs, when they sit beside the repository (always in CI). On a user's machine they
 * are absent: tests that need them say so and pass, except under CI, where that is a failure.
 */
export function specsOrExplain(t: { diagnostic(msg: string): void }): ProtocolSpecs | null {
  const dir = defaultSpecDir();
  if (existsSync(dir)) return loadSpecs(dir);
  if (process.env.CI) throw new Error(`Kafka protocol specs not found at ${dir}; CI must have them`);
  t.diagnostic(`could not check: Kafka protocol specs not found at ${dir}`);
  return null;
}
