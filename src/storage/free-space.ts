import { statfsSync } from 'node:fs';

/** Bytes an unprivileged writer may still take in `dir`'s file system; null if it cannot be measured. */
export function freeBytes(dir: string): number | null {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return null;
  }
}
