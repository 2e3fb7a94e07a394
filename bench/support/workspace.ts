import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.js';

/**
 * A scratch directory for benchmarks that touch the disk. It lives under the repository
 * (`.bench/`, gitignored) by default rather than in os.tmpdir(): /tmp is often a tmpfs, where
 * "disk" figures would really be memory figures. It is removed on exit, on Ctrl-C and after a
 * crash, so a failed run leaves no gigabytes behind.
 */
export interface Workspace {
  readonly dir: string;
  /** The filesystem type, e.g. "ext4" or "tmpfs" (numeric when unknown). */
  readonly fsType: string;
  path(name: string): string;
  /** Bytes an unprivileged writer could still put on this filesystem. */
  freeBytes(): number;
  /** Removes one entry (file or directory) of the workspace. */
  remove(name: string): void;
  /**
   * Writes back all dirty pages (sync(1)), so a case does not start while the previous one's
   * data is still being flushed: every case then sees the same page-cache conditions.
   */
  settle(): void;
  cleanup(): void;
}

// statfs(2) magic numbers of the filesystems a benchmark is likely to meet.
const FS_TYPES: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
};

export function openWorkspace(name: string): Workspace {
  const root = process.env.SLUICE_BENCH_DIR ?? join(PACKAGE_ROOT, '.bench');
  const dir = resolve(root, `${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const stats = statfsSync(dir);
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  return {
    dir,
    fsType: FS_TYPES[stats.type] ?? `0x${stats.type.toString(16)}`,
    path: (entry) => join(dir, entry),
    freeBytes: () => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    remove: (entry) => rmSync(join(dir, entry), { recursive: true, force: true }),
    settle: () => execFileSync('sync'),
    cleanup,
  };
}
