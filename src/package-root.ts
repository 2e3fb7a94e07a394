import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, whether code runs from src/ through tsx or from dist/ after a build. */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot();
