import type { SocketDescriptors } from '../network/socket-server.js';
import { descriptorBudget, logDescriptors, type DescriptorCache } from '../storage/descriptor-cache.js';

/**
 * The process's descriptors, shared by log files and client sockets. Both draw on one limit
 * (RLIMIT_NOFILE), and either running out breaks the broker in a way clients cannot see: a
 * connection the kernel queued but the process cannot accept hangs its client, and a checkpoint
 * that cannot open its file is not written. So as sockets arrive the log files give up room
 * (closing idle ones) down to a floor, and sockets past what would leave that floor are refused
 * with a log line. The share is the process's, as the limit is: every broker a process embeds
 * counts its sockets here.
 */
export class DescriptorShares implements SocketDescriptors {
  /** Sockets on the listeners: accepted, refused but not yet closed, or in a TLS handshake. */
  sockets = 0;
  maxSockets = Number.POSITIVE_INFINITY;
  private processLimit = -1;
  private reserve = 0;

  constructor(private readonly logs: DescriptorCache) {}

  /**
   * Sets the shares from the process's limit (-1: unknown or unlimited, nothing to share) and
   * sluice.log.max.open.files (-1: derived from the limit).
   */
  configure(processLimit: number, configuredLogFiles: number): void {
    this.processLimit = processLimit;
    this.logs.budget = descriptorBudget(processLimit, configuredLogFiles);
    if (processLimit > 0) {
      // What neither share counts: outbound connections (replica fetchers, etcd), the console's
      // clients, checkpoint and snapshot writes, the runtime's own descriptors.
      this.reserve = Math.min(1024, Math.max(16, Math.floor(processLimit / 32)));
      // Below an eighth of their budget the log files would reopen on nearly every read.
      const floor = Math.min(this.logs.budget, Math.max(32, Math.floor(this.logs.budget / 8)));
      this.maxSockets = Math.max(1, processLimit - this.reserve - floor);
    } else {
      this.maxSockets = Number.POSITIVE_INFINITY;
    }
    this.share();
  }

  socketOpened(): void {
    this.sockets++;
    this.share();
  }

  socketClosed(): void {
    this.sockets--;
    this.share();
  }

  private share(): void {
    const room = this.processLimit > 0 ? this.processLimit - this.reserve - Math.min(this.sockets, this.maxSockets) : Number.POSITIVE_INFINITY;
    this.logs.setLimit(Math.min(this.logs.budget, room));
  }
}

export const processDescriptors = new DescriptorShares(logDescriptors);
