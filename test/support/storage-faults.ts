import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { RecordBatchHeader } from '../../src/protocol/records/batch-header.js';
import { batchSizeAt } from '../../src/protocol/records/batch-spans.js';

/**
 * Small file systems mounted for one test, to run a broker out of space or into a disk failure
 * for real. Mounting takes root (CAP_SYS_ADMIN); without it these tests skip, CI included, since
 * a container may lack the privilege whatever packages it has.
 */

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let mountable: string | false | undefined;

/**
 * For node:test's `skip`: false when this process may mount tmpfs and loop ext4 images. CI
 * runs as root on a machine that allows it, so there a refusal is an error, not a skip.
 */
export function skipUnlessMountable(): string | false {
  const reason = mountProblem();
  if (reason && process.env.CI) throw new Error(`CI cannot run the file system fault tests: ${reason}`);
  return reason;
}

function mountProblem(): string | false {
  if (mountable !== undefined) return mountable;
  if (process.getuid?.() !== 0) return (mountable = 'mounting file systems takes root; skipped');
  const probe = mkdtempSync(join(tmpdir(), 'sluice-mount-probe-'));
  try {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    if (r.status !== 0) return (mountable = 'this machine refuses mount(2) (no CAP_SYS_ADMIN?); skipped');
    spawnSync('umount', [probe], { stdio: 'ignore' });
    for (const tool of ['mkfs.ext4', 'losetup', 'e2fsck']) {
      if (spawnSync(tool, ['-V'], { stdio: 'ignore' }).error) return (mountable = `${tool} is missing (apt-get install e2fsprogs mount); skipped`);
    }
    return (mountable = false);
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

export interface ScratchMount {
  /** Where the file system is mounted (empty at first). */
  dir: string;
  /** Unmounts (lazily, should something still hold it) and removes every trace; safe to call twice. */
  dispose(): void;
}

/**
 * A directory for one test's mount point (`mnt`) and image, itself on the ordinary disk, given
 * to `mountIn`; removed again if mounting fails.
 */
function scratch<T>(prefix: string, mountIn: (root: string, dir: string) => T): T {
  const root = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  const dir = join(root, 'mnt');
  mkdirSync(dir);
  try {
    return mountIn(root, dir);
  } catch (e) {
    unmount(dir, true);
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}

function unmount(dir: string, lazy: boolean): void {
  if (spawnSync('mountpoint', ['-q', dir]).status !== 0) return;
  if (lazy) spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
  else run('umount', [dir]);
}

export function mountTmpfs(prefix: string, mebibytes: number): ScratchMount {
  return scratch(prefix, (root, dir) => {
    run('mount', ['-t', 'tmpfs', '-o', `size=${mebibytes}m`, 'tmpfs', dir]);
    return {
      dir,
      dispose: () => {
        unmount(dir, true);
        rmSync(root, { recursive: true, force: true });
      },
    };
  });
}

export interface Ext4Image extends ScratchMount {
  /**
   * A real file system error, as a failing disk would cause: with errors=remount-ro the kernel
   * makes the file system read-only at once, open descriptors included.
   */
  fail(): void;
  /** Unmounts, for good: a failure to is an error (nothing may still use it). */
  unmount(): void;
  /** e2fsck -fy; returns its exit status (0: clean, 1: errors fixed). */
  fsck(): number;
  /** Mounts the image again, read-write. */
  mount(): void;
}

/**
 * An ext4 file system in an image file on a loop device, mounted with errors=remount-ro (and
 * no reserved blocks, so that ENOSPC comes when it is really full).
 */
export function mountExt4(prefix: string, mebibytes: number): Ext4Image {
  return scratch(prefix, (root, dir) => {
    const image = join(root, 'disk.img');
    writeFileSync(image, '');
    truncateSync(image, mebibytes << 20);
    run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    const loopOf = (): string | null => {
      const line = run('losetup', ['-j', image]).trim().split('\n')[0];
      return line ? basename(line.split(':')[0]) : null;
    };
    const release = (lazy: boolean): void => {
      const loop = loopOf();
      unmount(dir, lazy);
      // A mount made with -o loop frees its device on umount, though not always at once.
      if (loop && loopOf()) spawnSync('losetup', ['-d', `/dev/${loop}`], { stdio: 'ignore' });
    };
    const image4: Ext4Image = {
      dir,
      mount: () => void run('mount', ['-o', 'loop,errors=remount-ro', image, dir]),
      fail() {
        const trigger = `/sys/fs/ext4/${loopOf()}/trigger_fs_error`;
        if (!existsSync(trigger)) throw new Error(`no ${trigger}: this kernel cannot inject ext4 errors`);
        writeFileSync(trigger, '1');
      },
      unmount: () => release(false),
      fsck: () => spawnSync('e2fsck', ['-fy', image], { stdio: 'ignore' }).status ?? -1,
      dispose() {
        release(true);
        rmSync(root, { recursive: true, force: true });
      },
    };
    image4.mount();
    return image4;
  });
}

/** The messages of a broker's JSON log lines that contain `text`. */
export function logged(lines: readonly string[], text: string): string[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg?: string }).msg ?? '').filter((m) => m.includes(text));
}

/**
 * Problems with the segment files under a log directory, as a crashed broker left them: each
 * `.log` must be whole batches with good CRCs, followed by nothing or by zeros (the unused,
 * preallocated end of a mapped segment). Empty when all is well.
 */
export function tornSegments(logDir: string): string[] {
  const problems: string[] = [];
  const header = new RecordBatchHeader();
  for (const entry of readdirSync(logDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    for (const name of readdirSync(join(logDir, entry.name)).filter((n) => n.endsWith('.log'))) {
      const bytes = readFileSync(join(logDir, entry.name, name));
      let end = bytes.length;
      while (end > 0 && bytes[end - 1] === 0) end--;
      let at = 0;
      try {
        // A batch may itself end in zero bytes: `end` only says where the zeros start.
        while (at < end) {
          const size = batchSizeAt(bytes, at);
          header.reset(bytes, at).verifyCrc();
          at += size;
        }
      } catch (e) {
        problems.push(`${entry.name}/${name} at byte ${at} of ${bytes.length}: ${(e as Error).message}`);
      }
    }
  }
  return problems;
}
