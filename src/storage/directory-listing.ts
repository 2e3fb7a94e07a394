import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * What a directory held when it was listed, to answer "is this file there" without a stat per
 * file: at 30,000 partitions each stat a start makes per partition costs it 0.2-0.4 s here.
 */
export type Listing = ReadonlySet<string>;

/** Whether `path` exists: from its directory's listing when the caller has one, else from the disk. */
export function listedOrExists(path: string, listing?: Listing | null): boolean {
  return listing ? listing.has(basename(path)) : existsSync(path);
}

/** The names in `dir`; a directory that is not there yet is made (with its parents), empty. */
export function listOrMake(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dir, { recursive: true });
    return [];
  }
}
