import type { ResourceDelta } from '../support/resources.js';

/**
 * What the serving benchmark's three processes say to each other. The server and the client
 * run in their own processes so that getrusage in the server counts the server alone; the
 * parent only orchestrates. On the wire the client asks with one byte, the mode's index.
 */
export const SERVE_MODES = ['copy', 'mmap', 'sendfile'] as const;
export type ServeMode = (typeof SERVE_MODES)[number];

export const SERVE_MODE_LABELS: Record<ServeMode, string> = {
  copy: '(a) read+write (copy FileSender)',
  mmap: '(b) mmap+write',
  sendfile: '(c) sendfile (sendfile FileSender)',
};

/** Server to parent. */
export type ServerMessage =
  | { type: 'ready'; port: number; fileBytes: number; modes: ServeMode[] }
  | { type: 'served'; mode: ServeMode; bytes: number; usage: ResourceDelta; loopLagP99Ms: number; maxLoopLagMs: number };

/** Parent to client. */
export interface FetchCommand {
  type: 'fetch';
  port: number;
  mode: ServeMode;
  bytes: number;
}

/** Client to parent. */
export type ClientMessage = { type: 'ready' } | { type: 'fetched'; bytes: number; usage: ResourceDelta };
