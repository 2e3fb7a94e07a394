import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DelayStore } from '../../src/delay/delay-store.js';
import type { DelayedMessage } from '../../src/delay/delayed-message.js';
import { SLOT_MS, slotStart, WHEEL_SLOTS } from '../../src/delay/timer-wheel.js';
import { tempDir } from '../support/storage-fixtures.js';

const message = (i: number, dueMs: number): DelayedMessage => ({
  topic: `t${i % 3}`,
  partition: i % 2,
  key: Buffer.from(`k${i}`),
  value: i % 7 === 0 ? null : Buffer.from(`value ${i}`),
  headers: [{ key: 'sluice-delay-ms', value: Buffer.from(String(i)) }],
  dueMs,
});

/** The keys of the messages the wheel finds in one slot. */
const keysIn = (store: DelayStore, slotMs: number): string[] => store.slotEntries(slotMs).map((e) => store.message(e)!.key!.toString());

/** A store on a fresh directory with its cursor at `cursorMs`, closed and removed after `fn`. */
function withStore(prefix: string, cursorMs: number, fn: (store: DelayStore, dir: string) => void): void {
  const { dir, cleanup } = tempDir(prefix);
  const store = new DelayStore(dir);
  try {
    store.recover(cursorMs, new Set());
    fn(store, dir);
  } finally {
    store.close();
    cleanup();
  }
}

/** Every entry the wheel finds in [from, to), slot by slot, as message keys. */
function walk(store: DelayStore, from: number, to: number): string[] {
  const keys: string[] = [];
  for (let slot = slotStart(from); slot < to; slot += SLOT_MS) {
    for (const e of store.slotEntries(slot)) {
      assert.ok(e.dueMs >= slot && e.dueMs < slot + SLOT_MS, `entry due ${e.dueMs} found in slot ${slot}`);
      keys.push(store.message(e)!.key!.toString());
    }
  }
  return keys;
}

test('200,000 held records: every one found in its slot once, and again after a restart that lost the wheel', () => {
  const { dir, cleanup } = tempDir('delay-store');
  try {
    const base = slotStart(Date.now()) + 60_000;
    const span = 600_000;
    const count = 200_000;
    let store = new DelayStore(dir);
    store.recover(base, new Set());
    for (let i = 0; i < count; i += 1000) {
      store.hold(Array.from({ length: 1000 }, (_, j) => message(i + j, base + Math.floor(Math.random() * span))));
    }
    assert.equal(store.held, count);
    const found = walk(store, base, base + span);
    assert.equal(found.length, count);
    assert.equal(new Set(found).size, count);
    const first = store.slotEntries(base).map((e) => store.message(e)!);
    assert.ok(first.every((m) => m.headers[0].key === 'sluice-delay-ms'), 'headers come back');
    store.close();

    // The wheel is derived from the timer log: without it, a restart relinks every entry.
    rmSync(join(dir, 'timer.wheel'));
    store = new DelayStore(dir);
    store.recover(base, new Set());
    assert.equal(store.held, count);
    assert.equal(new Set(walk(store, base, base + span)).size, count);
    // Entries due before the cursor were delivered: a restart there holds only the rest.
    store.close();
    store = new DelayStore(dir);
    store.recover(base + span / 2, new Set());
    assert.equal(walk(store, base + span / 2, base + span).length, store.held);
    store.close();
  } finally {
    cleanup();
  }
});

// The later lap's entries are held after the earlier lap's: a delay is at most 7 days, a lap 8.
test('one slot holds two laps apart: each lap reads only its own entries', () => {
  const t = slotStart(Date.now()) + 5000;
  const lap = WHEEL_SLOTS * SLOT_MS;
  withStore('delay-laps', t, (store) => {
    store.hold([message(1, t + 10)]);
    store.hold([message(3, t + 30)]);
    store.hold([message(2, t + lap + 20)]);
    assert.deepEqual(keysIn(store, t), ['k1', 'k3']);
    assert.deepEqual(keysIn(store, t + lap), ['k2']);
  });
});

test('a torn timer entry at the end is cut off at restart, and holding goes on after it', () => {
  const t = slotStart(Date.now()) + 5000;
  withStore('delay-torn', t, (first, dir) => {
    first.hold([message(1, t + 1), message(2, t + 2)]);
    const timerFile = readdirSync(dir).find((f) => f.startsWith('timer-'))!;
    appendFileSync(join(dir, timerFile), Buffer.alloc(17, 0xab));
    const store = new DelayStore(dir);
    try {
      store.recover(t, new Set());
      assert.equal(store.held, 2);
      store.hold([message(3, t + 3)]);
      assert.deepEqual(keysIn(store, t), ['k1', 'k2', 'k3']);
    } finally {
      store.close();
    }
  });
});
