import { createRequire } from 'node:module';

/**
 * CRC32C (Castagnoli), the checksum of record batch v2. The native @node-rs/crc32 runs at
 * about 5.8 GB/s; the pure-JS fallback (about 1.3 GB/s) keeps the broker working where the
 * prebuilt addon is missing for the platform.
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

function loadNative(): Crc32c | null {
  try {
    // Synchronous require: the choice must be made before the first batch is checked.
    const addon = createRequire(import.meta.url)('@node-rs/crc32') as typeof import('@node-rs/crc32');
    return addon.crc32c;
  } catch {
    return null;
  }
}

const native = loadNative();

export const crc32cImplementation: 'native' | 'js' = native === null ? 'js' : 'native';

/** Unsigned CRC32C of buf. */
export const crc32c: Crc32c = native ?? crc32cJs;
