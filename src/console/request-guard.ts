import { isLoopback } from '../config/listeners.js';

export interface RequestFacts {
  method: string;
  host: string | undefined;
  origin: string | undefined;
}

/**
 * Why the console refuses a request, or null. It has no authentication, so it must at least
 * keep web pages from using the browser that reaches it: a write from another origin (cross-
 * site request forgery) is refused, and so, while the console is bound to loopback, is any
 * request naming a host other than loopback (DNS rebinding: a foreign name resolved to
 * 127.0.0.1 makes a foreign page same-origin).
 */
export function refusal(boundHost: string, req: RequestFacts): string | null {
  if (isLoopback(boundHost) && !(req.host !== undefined && isLoopback(req.host))) {
    return `the console answers only requests for a loopback host, not ${JSON.stringify(req.host ?? '')}`;
  }
  const writes = req.method !== 'GET' && req.method !== 'HEAD';
  if (writes && req.origin !== undefined && !sameOrigin(req.origin, req.host)) {
    return `writes from another origin (${req.origin}) are refused`;
  }
  return null;
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    // "null" (a sandboxed page or a file) and anything unparsable.
    return false;
  }
}
