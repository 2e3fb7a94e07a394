import { createServer } from 'node:net';
import { cliEntry } from '../../src/cli/broker-process.js';
import { runCommand, startCommand, type CommandResult, type RunningCommand } from '../support/commands.js';

const CLI = cliEntry();

export interface SluiceOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** Runs `sluice <args>` to completion. */
export function sluice(args: string[], options: SluiceOptions = {}): Promise<CommandResult> {
  // The child copies process.env when it is spawned, which happens before runCommand returns.
  const saved = Object.entries(options.env ?? {}).map(([k]) => [k, process.env[k]] as const);
  Object.assign(process.env, options.env);
  try {
    return runCommand(process.execPath, [...CLI, ...args], { timeoutMs: options.timeoutMs ?? 60_000, input: options.input ?? '' });
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Starts `sluice <args>` and leaves it running (for --follow and signals); it is killed after `timeoutMs`. */
export function startSluice(args: string[], onLine?: (line: string) => void, timeoutMs = 60_000): RunningCommand {
  return startCommand(process.execPath, [...CLI, ...args], { timeoutMs, onLine });
}

/** Runs `sluice <args>` and returns its stdout as bytes (for raw output that is not UTF-8). */
export async function sluiceBytes(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const chunks: Buffer[] = [];
  const r = await startCommand(process.execPath, [...CLI, ...args], { timeoutMs: 60_000, input: '', onStdout: (c) => chunks.push(c) }).result;
  return { code: r.code, stdout: Buffer.concat(chunks), stderr: r.stderr };
}

/** Polls `condition` until it holds. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A loopback port that nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Fails with the command's output unless it exited with `code`. */
export function expectExit(result: CommandResult, code: number, what: string): void {
  if (result.code !== code) {
    throw new Error(`${what}: expected exit ${code}, got ${result.code ?? result.signal}\nstderr: ${result.stderr}\nstdout: ${result.stdout.slice(0, 2000)}`);
  }
}
