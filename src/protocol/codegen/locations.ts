import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether this runs from src/ through tsx or from dist/ after a build. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

export const REPO_ROOT = repoRoot();
export const GENERATED_DIR = resolve(REPO_ROOT, 'src/protocol/generated');

/** Kafka's specs sit beside the repository in development and CI, not on a user's machine. */
export function defaultSpecDir(): string {
  return process.env.SLUICE_PROTOCOL_SPECS ?? resolve(REPO_ROOT, '../shared/kafka-protocol');
}
