import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Empty when the output went to `onStdout` instead. */
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** The command is killed, and its result rejects, after this long. */
  timeoutMs: number;
  /** Written to stdin, which is then closed; without it stdin stays open as a pipe. */
  input?: string | Buffer;
  /** Takes stdout as it comes, instead of keeping it (for outputs too big for a string). */
  onStdout?: (chunk: Buffer) => void;
  /** Called with each stdout line (stdout is kept as well). */
  onLine?: (line: string) => void;
}

export interface RunningCommand {
  child: ChildProcess;
  result: Promise<CommandResult>;
  /** What it has written to stderr so far. */
  stderr(): string;
  /** SIGKILL, if it still runs; resolves once it has exited. */
  kill(): Promise<void>;
}

/** Starts a command with bounded run time, collecting its output. */
export function startCommand(command: string, args: string[], options: CommandOptions): RunningCommand {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // Kept as bytes until the end: a chunk may end inside a multi-byte character.
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString();
  child.stderr!.on('data', (d: Buffer) => stderr.push(d));
  child.stdout!.on('data', options.onStdout ?? ((d: Buffer) => stdout.push(d)));
  if (options.onLine) createInterface({ input: child.stdout! }).on('line', options.onLine);
  // A child that exits early makes writes to its stdin fail; its exit status tells the story.
  child.stdin!.on('error', () => {});
  if (options.input !== undefined) child.stdin!.end(options.input);

  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const result = new Promise<CommandResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms\nstderr: ${text(stderr)}`));
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close' comes after stdout and stderr are drained, unlike 'exit'.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: text(stdout), stderr: text(stderr) });
    });
  });
  // The caller may only look at the result later; a timeout must not go unhandled meanwhile.
  result.catch(() => {});
  return {
    child,
    result,
    stderr: () => text(stderr),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export function runCommand(command: string, args: string[], options: CommandOptions): Promise<CommandResult> {
  return startCommand(command, args, { input: '', ...options }).result;
}

/** Fails unless the command exited with 0, showing what it wrote to stderr. */
export function assertSucceeded(result: CommandResult, what: string): void {
  if (result.code !== 0) {
    throw new Error(`${what} exited with ${result.code ?? result.signal}\nstderr: ${result.stderr}\nstdout: ${result.stdout.slice(0, 4000)}`);
  }
}
