import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A slot covers this much time: the deliverer reads a slot once, as its time begins. */
export const SLOT_MS = 1000;
/**
 * Eight days of slots, past sluice.delivery.delay.max.ms's 7-day ceiling: every entry in a slot
 * chain that is newer than the ones of the slot's previous lap is due in this lap or the next,
 * so a walk down the chain stops at the first entry older than the slot it reads.
 */
export const WHEEL_SLOTS = 8 * 24 * 3600;
const SLOT_SIZE = 8;

/** The start of the slot a time falls in. */
export const slotStart = (ms: number): number => Math.floor(ms / SLOT_MS) * SLOT_MS;

/**
 * RocketMQ 5's TimerWheel: a file of one slot per second of a lap, each holding the position of
 * the newest timer-log entry due in that second (in any lap), or nothing. Entries link to the
 * slot's previous newest, so a slot's entries are one chain in the timer log; memory holds
 * none of them. Positions are stored plus one so that a new (zero-filled) file is all empty.
 */
export class TimerWheel {
  private readonly fd: number;
  private readonly scratch = Buffer.alloc(SLOT_SIZE);

  constructor(dir: string) {
    this.fd = openSync(join(dir, 'timer.wheel'), constants.O_RDWR | constants.O_CREAT);
    // Sparse: only the slots ever written take disk blocks.
    if (fstatSync(this.fd).size !== WHEEL_SLOTS * SLOT_SIZE) ftruncateSync(this.fd, WHEEL_SLOTS * SLOT_SIZE);
  }

  /** The newest entry of the slot `ms` falls in, or NO_ENTRY (-1). */
  newest(ms: number): number {
    readSync(this.fd, this.scratch, 0, SLOT_SIZE, offsetOf(ms));
    return this.scratch.readDoubleLE(0) - 1;
  }

  setNewest(ms: number, pos: number): void {
    this.scratch.writeDoubleLE(pos + 1, 0);
    writeSync(this.fd, this.scratch, 0, SLOT_SIZE, offsetOf(ms));
  }

  /**
   * Replaces every slot: `newest` holds each slot's newest position plus one (0 for none). The
   * file is emptied to zeros (sparse again) and only runs of used slots are written: a broker
   * holding nothing starts without writing the wheel's megabytes.
   */
  replaceAll(newest: Float64Array): void {
    ftruncateSync(this.fd, 0);
    ftruncateSync(this.fd, WHEEL_SLOTS * SLOT_SIZE);
    for (let i = 0; i < newest.length; ) {
      if (newest[i] === 0) {
        i++;
        continue;
      }
      let end = i;
      while (end < newest.length && newest[end] !== 0) end++;
      const bytes = Buffer.allocUnsafe((end - i) * SLOT_SIZE);
      for (let j = i; j < end; j++) bytes.writeDoubleLE(newest[j], (j - i) * SLOT_SIZE);
      for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done, i * SLOT_SIZE + done);
      i = end;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function slotIndex(ms: number): number {
  return Math.floor(ms / SLOT_MS) % WHEEL_SLOTS;
}

const offsetOf = (ms: number): number => slotIndex(ms) * SLOT_SIZE;
