// The console's REST API. Errors come back as { error } and are thrown with that message, so
// every page shows the broker's own words.

async function call(path, init) {
  const res = await fetch(`api${path}`, { ...init, headers: { accept: 'application/json', ...init?.headers } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error ?? `${res.status} ${res.statusText}`);
  return body;
}

export const getJson = (path) => call(path);

export const postJson = (path, body) => call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A path segment, encoded: topic names are safe, group ids may hold anything. */
export const seg = (s) => encodeURIComponent(String(s));
