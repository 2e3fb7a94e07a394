import { readdirSync, readlinkSync } from 'node:fs';

/** What a process's descriptors point at, read from /proc: paths, or `socket:[inode]` and the like. */
function descriptorTargets(pid: number): string[] {
  const targets: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      targets.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed between the listing and the look.
    }
  }
  return targets;
}

/**
 * The descriptors a process has open on partition log files under `dir`: the delay store's few
 * files (its directory, __sluice_delayed) stay open beside the budget, as the broker's sockets do.
 */
export function openLogFiles(pid: number, dir: string): number {
  return descriptorTargets(pid).filter((path) => path.startsWith(dir) && !path.includes('/__sluice_delayed/')).length;
}

/** Every descriptor the process has open, and how many of them are sockets. */
export function openDescriptors(pid: number): { all: number; sockets: number } {
  const targets = descriptorTargets(pid);
  return { all: targets.length, sockets: targets.filter((t) => t.startsWith('socket:')).length };
}
