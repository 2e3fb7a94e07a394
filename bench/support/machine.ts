import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { sizeLabel } from './resources.js';

/** What a report header says about the machine: the figures mean little without it. */
export function machineFacts(fsType: string): { node: string; kernel: string; cpus: string; memory: string; fsType: string } {
  return {
    node: process.version,
    kernel: release(),
    cpus: `${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown'}`,
    memory: sizeLabel(totalmem()),
    fsType,
  };
}

/** Progress lines on stderr (stdout may carry the JSON report), stamped with seconds since `started`. */
export function progressLog(started: Date): (line: string) => void {
  return (line) => console.error(`[${((Date.now() - started.getTime()) / 1e3).toFixed(1)}s] ${line}`);
}
