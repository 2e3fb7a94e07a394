/**
 * Allocates produce-sized request buffers the way the connection joins them (1 MiB, filled from
 * 64 KiB reads, dropped soon after) and prints the minor page faults of the steady state. With
 * "keep" as its argument it first applies the broker's allocator settings.
 */
import { keepFreedMemory } from '../../src/native/allocator.js';

const FRAME = 1 << 20;
const READ = Buffer.alloc(64 << 10, 1);

if (process.argv[2] === 'keep' && !keepFreedMemory().applied) throw new Error('allocator settings not applied');
let live: Buffer[] = [];
const joinFrames = (n: number): void => {
  for (let i = 0; i < n; i++) {
    const frame = Buffer.allocUnsafe(FRAME);
    for (let at = 0; at < FRAME; at += READ.length) READ.copy(frame, at);
    live.push(frame);
    if (live.length > 8) live = [];
  }
};
joinFrames(50);
const before = process.resourceUsage().minorPageFault;
joinFrames(200);
console.log(process.resourceUsage().minorPageFault - before);
