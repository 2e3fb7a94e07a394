import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SymbolShare {
  symbol: string;
  /** "k" kernel, "." user space. */
  space: string;
  percent: number;
}

export interface Profile {
  samples: number;
  /** Symbols with at least 1% of the samples, largest first. */
  top: SymbolShare[];
  /** The share of samples in memory-copy routines, kernel and user space. */
  copyPercent: number;
}

/**
 * Kernel and libc routines that move bytes: copy_to/from_user (rep_movs_alternative on 6.x,
 * copy_user_* before), kernel and libc memcpy/memmove, and the iov_iter helpers around them.
 */
const COPY_SYMBOL = /rep_movs|copy_user|memcpy|memmove|_copy_(to|from)_iter|copy_page|skb_copy/;

export function perfAvailable(): boolean {
  return spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Parses `perf report --stdio --sort sym` rows such as "    28.23%  [k] rep_movs_alternative". */
function parseReport(text: string): Profile {
  const top: SymbolShare[] = [];
  let samples = 0;
  for (const line of text.split('\n')) {
    // "# Samples: 479 of event ..." or, past a thousand, "# Samples: 2K of event ...".
    const count = /^# Samples: ([\d.]+)([KM]?)/.exec(line);
    if (count) samples = Math.round(Number(count[1]) * (count[2] === 'M' ? 1e6 : count[2] === 'K' ? 1e3 : 1));
    const m = /^\s+([\d.]+)%\s+\[([k.])\]\s+(.+?)\s*$/.exec(line);
    if (m) top.push({ percent: Number(m[1]), space: m[2], symbol: m[3] });
  }
  const copyPercent = top.filter((s) => COPY_SYMBOL.test(s.symbol)).reduce((sum, s) => sum + s.percent, 0);
  return { samples, top: top.filter((s) => s.percent >= 1), copyPercent };
}

/** Samples process `pid` (every thread; several processes when given a list) with `perf record` while `during` runs. */
export async function profileProcess(pid: number | readonly number[], outFile: string, during: () => Promise<void>): Promise<Profile> {
  const pids = typeof pid === 'number' ? String(pid) : pid.join(',');
  const recorder = spawn('perf', ['record', '-q', '-F', '4999', '-p', pids, '-o', outFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  recorder.stderr.setEncoding('utf8');
  recorder.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = once(recorder, 'exit');
  // perf says nothing once it is attached; it needs well under this long.
  await sleep(300);
  if (recorder.exitCode !== null) throw new Error(`perf record exited (${recorder.exitCode}): ${stderr.trim()}`);
  try {
    await during();
  } finally {
    recorder.kill('SIGINT');
    await exited;
  }
  try {
    const report = execFileSync('perf', ['report', '-i', outFile, '--stdio', '--no-children', '--sort', 'sym', '--percent-limit', '0.1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    });
    return parseReport(report);
  } finally {
    rmSync(outFile, { force: true });
  }
}
