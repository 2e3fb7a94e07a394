import { loadavg } from 'node:os';
import { machineFacts, progressLog } from '../support/machine.js';
import { fmt } from '../support/measure.js';
import { openWorkspace, type Workspace } from '../support/workspace.js';
import { ensureBuilt } from './broker-process.js';
import { niceness, realtimePriority } from './priority.js';

/**
 * How a benchmark of compiled brokers starts: the build brought up to date, a scratch
 * workspace, and the facts about the machine its report's header gives.
 */
export interface BrokerRun {
  started: Date;
  /** Progress lines on stderr, stamped with seconds since the start. */
  progress: (line: string) => void;
  ws: Workspace;
  machine: Record<string, string>;
  /** The machine facts with the load average at the end added, for the report. */
  machineAtEnd(): Record<string, string>;
}

export function beginBrokerRun(name: string): BrokerRun {
  const started = new Date();
  const progress = progressLog(started);
  ensureBuilt(progress);
  const ws = openWorkspace(name);
  const machine = {
    ...machineFacts(ws.fsType),
    loadAverageAtStart: fmt(loadavg()[0]),
    priority: realtimePriority !== null ? `SCHED_FIFO ${realtimePriority}` : niceness === null ? 'normal' : `nice ${niceness}`,
  };
  return { started, progress, ws, machine, machineAtEnd: () => ({ ...machine, loadAverageAtEnd: fmt(loadavg()[0]) }) };
}
