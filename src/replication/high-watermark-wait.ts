import type { Partition } from './partition.js';

export type HighWatermarkWait = 'reached' | 'timed-out' | 'not-leader';

/**
 * Whether the partition's high watermark reaches `offset` within `timeoutMs`, as its leader:
 * how acks=all and the coordinators wait for the in-sync replicas (Kafka's produce purgatory),
 * woken by the partition's own events, never by polling. A leader that loses its leadership
 * meanwhile answers at once: what it appended may still be truncated away.
 */
export function waitForHighWatermark(partition: Partition, offset: number, timeoutMs: number): Promise<HighWatermarkWait> {
  const now = (): HighWatermarkWait | null => (partition.highWatermark >= offset ? 'reached' : partition.role !== 'leader' ? 'not-leader' : null);
  const at = now();
  if (at) return Promise.resolve(at);
  return new Promise((resolve) => {
    const waiter = {
      wake(): void {
        const outcome = now();
        if (outcome) settle(outcome);
      },
    };
    const settle = (outcome: HighWatermarkWait): void => {
      clearTimeout(timer);
      partition.offNewData(waiter);
      resolve(outcome);
    };
    const timer = setTimeout(() => settle('timed-out'), timeoutMs);
    partition.onNewData(waiter);
  });
}
