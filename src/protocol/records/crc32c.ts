import { createRequire } from 'node:module';
import { nativeAddon } from '../../native/addon.js';

/**
 * CRC32C (Castagnoli), the checksum of record batch v2, checked over every produced batch. Our
 * addon's hardware CRC is the fastest; @node-rs/crc32 (about 7 GB/s) serves where the addon did
 * not build or the CPU lacks SSE4.2, and the pure-JS fallback (about 1.3 GB/s) where neither
 * loads.
 */

/** Reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

/**
 * Slicing-by-8 tables: table k (at k * 256) maps a byte to its CRC contribution when followed by
 * k zero bytes, so the main loop folds 8 input bytes per step with 8 independent lookups.
 */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

export function crc32cJs(buf: Uint8Array): number {
  const t = TABLES;
  const n = buf.length;
  const end8 = n - (n & 7);
  let crc = -1;
  let i = 0;
  for (; i < end8; i += 8) {
    const lo = crc ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
    crc =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + buf[i + 4]] ^
      t[512 + buf[i + 5]] ^
      t[256 + buf[i + 6]] ^
      t[buf[i + 7]];
  }
  while (i < n) crc = t[(crc ^ buf[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

type Crc32c = (buf: Uint8Array) => number;

export interface Crc32cImplementation {
  readonly name: 'sluice-native' | '@node-rs/crc32' | 'js';
  readonly crc32c: Crc32c;
}

/** The SSE4.2 instruction in our addon (native/crc32c.cc), three streams at a time: up to about 26 GB/s. */
function sluiceNative(): Crc32cImplementation | null {
  return nativeAddon?.crc32cSupported() ? { name: 'sluice-native', crc32c: nativeAddon.crc32c } : null;
}

function nodeRs(): Crc32cImplementation | null {
  try {
    // Synchronous require: the choice must be made before the first batch is checked.
    const addon = createRequire(import.meta.url)('@node-rs/crc32') as typeof import('@node-rs/crc32');
    return { name: '@node-rs/crc32', crc32c: addon.crc32c };
  } catch {
    return null;
  }
}

/** Every implementation this process can use, fastest first (the bench measures them all). */
export const crc32cImplementations: readonly Crc32cImplementation[] = [sluiceNative(), nodeRs(), { name: 'js', crc32c: crc32cJs } as const].filter(
  (i): i is Crc32cImplementation => i !== null,
);

export const crc32cImplementation: Crc32cImplementation['name'] = crc32cImplementations[0].name;

/** Unsigned CRC32C of buf. */
export const crc32c: Crc32c = crc32cImplementations[0].crc32c;
