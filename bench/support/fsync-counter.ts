import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/**
 * Counts fs.fdatasync calls made anywhere in the process. The storage layer reports group
 * commits, but one commit syncs several files (the .log and both indexes of every dirty
 * segment), and the benchmark must say how many fdatasyncs the disk actually saw.
 * syncBuiltinESMExports() makes modules that did `import { fdatasync } from 'node:fs'` see
 * the wrapper too.
 */
export const fdatasyncCalls = { count: 0 };

let installed = false;

export function countFdatasyncCalls(): void {
  if (installed) return;
  installed = true;
  const original = fs.fdatasync;
  fs.fdatasync = Object.assign((fd: number, callback: fs.NoParamCallback) => {
    fdatasyncCalls.count++;
    original(fd, callback);
  }, original);
  syncBuiltinESMExports();
}
