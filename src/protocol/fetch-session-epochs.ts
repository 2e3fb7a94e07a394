/** KIP-227's session ids and epochs, as both sides of a fetch session count them. */

/** The session id of a fetch without one. */
export const NO_SESSION = 0;
/** The epoch of a full fetch that asks for a new session. */
export const INITIAL_EPOCH = 0;
/** The epoch of a full fetch that wants no session (and closes the one named). */
export const FINAL_EPOCH = -1;

/** The epoch after `epoch`: from the largest int32 it wraps to 1, never to INITIAL_EPOCH. */
export function nextEpoch(epoch: number): number {
  return epoch === 0x7fffffff ? 1 : epoch + 1;
}
