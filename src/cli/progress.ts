import cliProgress from 'cli-progress';

export interface ProgressCounts {
  messages: number;
  /** Input bytes read so far. */
  bytes: number;
}

export interface Progress {
  stop(): void;
}

/**
 * A progress line on stderr, redrawn a few times a second from `counts()`: a bar when the input
 * size is known (a file), messages and messages/s always. Off unless stderr is a terminal or
 * `force` is set (then it prints a line a second, for logs).
 */
export function startProgress(counts: () => ProgressCounts, totalBytes: number | null, force: boolean): Progress {
  if (!force && !process.stderr.isTTY) return { stop() {} };
  const stats = '{messages} messages | {rate} msg/s';
  const bar = new cliProgress.SingleBar({
    format: totalBytes === null ? `produced ${stats}` : `[{bar}] {percentage}% | ${stats} | ETA {eta_formatted}`,
    stream: process.stderr,
    noTTYOutput: force,
    notTTYSchedule: 1000,
    hideCursor: process.stderr.isTTY ? true : null,
  });
  const started = Date.now();
  const payload = (): { messages: number; rate: number } => {
    const { messages } = counts();
    const seconds = (Date.now() - started) / 1000;
    return { messages, rate: seconds > 0 ? Math.round(messages / seconds) : 0 };
  };
  bar.start(totalBytes ?? 0, 0, payload());
  const timer = setInterval(() => bar.update(counts().bytes, payload()), 200);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      bar.update(counts().bytes, payload());
      bar.stop();
    },
  };
}
