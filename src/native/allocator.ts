import { nativeAddon, nativeAddonError } from './addon.js';

/**
 * Requests bigger than one socket read (64 KiB) are joined into a buffer of their own size,
 * which glibc's malloc hands out from fresh pages: it gives freed memory at the top of the heap
 * back to the kernel (trim) and maps big blocks afresh (mmap), so each 1 MB produce request paid
 * page faults and brk/munmap calls, ten times the cost of the copy itself. With these
 * thresholds a broker keeps up to TRIM_THRESHOLD of freed heap for the next request, and
 * blocks under MMAP_THRESHOLD come from that heap. Blocks above it (rare, huge requests) are
 * still mapped and unmapped on their own, so they never pin memory.
 */
export const MMAP_THRESHOLD = 4 << 20;
export const TRIM_THRESHOLD = 64 << 20;

/**
 * Applies the thresholds to this process, for `sluice serve` only: an application embedding a
 * broker keeps its own allocator settings. Returns what was done, for the start-up log.
 */
export function keepFreedMemory(): { applied: true; mmapThreshold: number; trimThreshold: number } | { applied: false; why: string } {
  if (!nativeAddon) return { applied: false, why: `native addon not in use: ${nativeAddonError}` };
  if (!nativeAddon.keepFreedMemory(MMAP_THRESHOLD, TRIM_THRESHOLD)) return { applied: false, why: 'the C library is not glibc' };
  return { applied: true, mmapThreshold: MMAP_THRESHOLD, trimThreshold: TRIM_THRESHOLD };
}
