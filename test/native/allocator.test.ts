import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const CHILD = new URL('../support/frame-faults-child.ts', import.meta.url).pathname;
const faults = (mode: string): number => Number(execFileSync(process.execPath, ['--import', 'tsx', CHILD, mode], { encoding: 'utf8' }).trim());

test("serve's allocator settings let joined request buffers reuse freed memory instead of faulting in new pages", () => {
  const defaults = faults('default');
  const kept = faults('keep');
  // 200 frames of 256 pages: glibc's defaults give back and fault in much of that every time.
  assert.ok(kept * 3 < defaults, `page faults: ${kept} with the settings, ${defaults} without`);
});
