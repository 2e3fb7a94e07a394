import { readFileSync } from 'node:fs';

export interface DescriptorLimit {
  /** The limit in force (RLIMIT_NOFILE's soft limit); -1 when unlimited or unknown. */
  soft: number;
  hard: number;
}

/**
 * The process's descriptor limit. Node lifts the soft limit to the hard one as it starts (what
 * Kafka's start scripts ask operators to do by hand), so the soft limit read here is already
 * as high as this process may go; raising the hard limit is the operator's (ulimit -n, systemd's
 * LimitNOFILE).
 */
export function descriptorLimit(): DescriptorLimit {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line ?? '').split(/\s+/).slice(3, 5).map((v) => (v === 'unlimited' ? -1 : Number(v)));
    if (Number.isInteger(soft) && Number.isInteger(hard)) return { soft, hard };
  } catch {
    // Not Linux: the limit is unknown.
  }
  return { soft: -1, hard: -1 };
}
