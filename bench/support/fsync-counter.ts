import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { LatencySamples, nowNs } from './resources.js';

/**
 * Counts and times the fs.fdatasync calls made anywhere in the process. The storage layer
 * reports group commits, but one commit syncs several files (the .log and both indexes of
 * every dirty segment), and the benchmark must say how many fdatasyncs the disk actually saw
 * and how long they took. syncBuiltinESMExports() makes modules that did
 * `import { fdatasync } from 'node:fs'` see the wrapper too.
 */
export interface FdatasyncStats {
  calls: number;
  /** From the call to its callback: the threadpool hop included, as the storage layer sees it. */
  p50Us: number;
  p99Us: number;
}

let installed = false;
let window: LatencySamples | null = null;

export function countFdatasyncCalls(): void {
  if (installed) return;
  installed = true;
  const original = fs.fdatasync;
  fs.fdatasync = Object.assign((fd: number, callback: fs.NoParamCallback) => {
    const samples = window;
    const t0 = nowNs();
    original(fd, (err) => {
      samples?.add(nowNs() - t0);
      callback(err);
    });
  }, original);
  syncBuiltinESMExports();
}

/** Starts recording (one window at a time); the returned function stops and reports. */
export function recordFdatasyncs(): () => FdatasyncStats {
  const samples = new LatencySamples();
  window = samples;
  return () => {
    if (window === samples) window = null;
    return { calls: samples.count, p50Us: samples.percentileUs(0.5), p99Us: samples.percentileUs(0.99) };
  };
}
