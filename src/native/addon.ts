import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';

export type Advice = 'willneed' | 'sequential' | 'random' | 'dontneed';
/**
 * How prepareSegment faults a mapping in, so that appends copy into resident, writable pages:
 * `touch` writes a zero to each page through the mapping; `write-touch` first writes the file
 * full of zeros with write(2), then touches; `populate-write` is MADV_POPULATE_WRITE;
 * `map-populate` is MAP_POPULATE, which on a shared mapping faults pages in read-only, so the
 * first write to each still takes a fault; `none` leaves it all to the appends.
 * bench/storage/mmap-warm.ts measures each.
 */
export type Warm = 'touch' | 'write-touch' | 'populate-write' | 'map-populate' | 'none';

declare const regionBrand: unique symbol;
/**
 * A mapping held by the addon. As an ArrayBuffer, a segment's mapping (segment.bytes) would
 * count as V8 external memory, and V8 would collect the whole heap at every one mapped to give
 * memory back that a collection cannot free (docs/zero-copy.md, "Mappings and the garbage
 * collector").
 */
export type MappedRegion = { readonly [regionBrand]: true };
export type Mapping = ArrayBuffer | MappedRegion;

/** The C++ addon in native/: sendfile to sockets and mmap with its companions (Linux only). */
export interface NativeAddon {
  /** The bytes sent when the transfer finished at once, else null and `callback` reports the end. */
  sendfile(
    id: number,
    socketFd: number,
    fileFd: number,
    offset: number,
    length: number,
    callback: (err: NodeJS.ErrnoException | null, sent: number) => void,
  ): number | null;
  cancel(id: number): void;
  /** A shared mapping JS reads in place. V8 counts its length as external memory. */
  mmap(fd: number, length: number, writable: boolean): ArrayBuffer;
  /** A shared mapping written only through the calls below (and read through its file), which V8 does not count. */
  mapRegion(fd: number, length: number, writable: boolean): MappedRegion;
  /** Unmaps a region; detaches a buffer (every view becomes empty), which unmaps it. */
  unmap(mapping: Mapping): void;
  /** Stores src's first 16 bytes in order before the rest: a kill mid-copy leaves no later byte without them. */
  copyToRegion(region: MappedRegion, offset: number, src: Uint8Array): void;
  zeroRegion(region: MappedRegion, offset: number, length: number): void;
  madvise(mapping: Mapping, offset: number, length: number, advice: Advice): void;
  mlock(mapping: Mapping, offset: number, length: number, lock: boolean): void;
  msync(mapping: Mapping, offset: number, length: number): void;
  /** Reserves the disk blocks of a span: a full disk fails here with ENOSPC, not with SIGBUS in a mapping. */
  fallocate(fd: number, offset: number, length: number): void;
  /** Where the first hole at or after `offset` starts (lseek SEEK_HOLE); the file's length if it has none. */
  seekHole(fd: number, offset: number): number;
  /** Where the first data at or after `offset` starts (lseek SEEK_DATA); -1 when only holes follow. */
  seekData(fd: number, offset: number): number;
  /**
   * On the threadpool: creates (or opens) the file at `path`, reserves `length` bytes, maps
   * them shared, warms them and, with `mlock`, pins them; closes its descriptor (the mapping
   * keeps the file) and calls back with the mapping. A failure leaves nothing mapped, but may
   * leave the file.
   */
  prepareSegment(path: string, length: number, warm: Warm, mlock: boolean, callback: (err: NodeJS.ErrnoException | null, region: MappedRegion | null) => void): void;
  /**
   * RecordCursor.skipSequential's walk in C++ (native/record_scan.cc), over records index..count-1
   * of buf[pos, end): writes to out the index and position of the first record it cannot vouch
   * for, and 1 if any record walked had headers.
   */
  skipPlainRecords(buf: Uint8Array, pos: number, end: number, index: number, count: number, minRecordBody: number, minHeaderSize: number, out: Float64Array): void;
  /** Whether the CPU has the SSE4.2 CRC instruction crc32c needs. */
  crc32cSupported(): boolean;
  /** The unsigned CRC32C of buf (native/crc32c.cc); only where crc32cSupported(). */
  crc32c(buf: Uint8Array): number;
  /** glibc's mallopt of M_MMAP_THRESHOLD and M_TRIM_THRESHOLD; false where the C library is not glibc. */
  keepFreedMemory(mmapThreshold: number, trimThreshold: number): boolean;
}

export const ADDON_PATH = resolve(PACKAGE_ROOT, 'native/build/Release/sluice_native.node');

function load(): { addon: NativeAddon | null; error: string | null } {
  if (process.env.SLUICE_NATIVE === '0') return { addon: null, error: 'disabled by SLUICE_NATIVE=0' };
  if (process.platform !== 'linux') return { addon: null, error: `not built for ${process.platform}` };
  if (!existsSync(ADDON_PATH)) return { addon: null, error: `not built (${ADDON_PATH} is missing)` };
  try {
    return { addon: createRequire(import.meta.url)(ADDON_PATH) as NativeAddon, error: null };
  } catch (e) {
    return { addon: null, error: (e as Error).message };
  }
}

const loaded = load();

/** The addon, or null when it is missing; callers then use their pure-JS fallbacks. */
export const nativeAddon: NativeAddon | null = loaded.addon;
/** Why the addon is not in use, for the start-up log line and metrics. */
export const nativeAddonError: string | null = loaded.error;
