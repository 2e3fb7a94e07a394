import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';

export interface SyscallCount {
  name: string;
  calls: number;
  errors: number;
}

export interface SyscallSummary {
  total: number;
  /** Every syscall seen, most frequent first. */
  calls: SyscallCount[];
}

/** Whether strace can be run at all (it may be missing, or ptrace may be forbidden). */
export function straceAvailable(): boolean {
  return spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Parses `strace -c -U name,calls,errors` output: one "name calls [errors]" row per syscall. */
function parseSummary(text: string): SyscallSummary {
  const calls: SyscallCount[] = [];
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)\s*(\d*)\s*$/.exec(line.trim());
    if (!m) continue;
    const row = { name: m[1], calls: Number(m[2]), errors: Number(m[3] || 0) };
    if (row.name === 'total') total = row.calls;
    else calls.push(row);
  }
  calls.sort((a, b) => b.calls - a.calls);
  return { total, calls };
}

/**
 * Counts the system calls every thread of process `pid` makes while `during` runs, with
 * `strace -c -f -p`. strace slows the traced process a lot, so only the counts mean anything.
 */
export async function countSyscalls(pid: number, outFile: string, during: () => Promise<void>): Promise<SyscallSummary> {
  const tracer = spawn('strace', ['-f', '-c', '-U', 'name,calls,errors', '-o', outFile, '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  // strace says "Process N attached" once it has every thread; tracing starts only then.
  await new Promise<void>((resolve, reject) => {
    tracer.stderr.setEncoding('utf8');
    tracer.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (/attached/.test(stderr)) resolve();
    });
    tracer.once('exit', (code) => reject(new Error(`strace exited (${code}): ${stderr.trim()}`)));
    tracer.once('error', reject);
  });
  try {
    await during();
  } finally {
    const exited = once(tracer, 'exit');
    tracer.kill('SIGINT');
    await exited;
  }
  const summary = parseSummary(readFileSync(outFile, 'utf8'));
  rmSync(outFile, { force: true });
  return summary;
}
