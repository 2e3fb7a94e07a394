/** An IPv4 client on a dual-stack listener shows as ::ffff:a.b.c.d: it is a.b.c.d. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/** Parses max.connections.per.ip.overrides: `host:count,host:count`, an IPv6 host in brackets or bare. */
export function parsePerIpOverrides(raw: string): Map<string, number> | string {
  const out = new Map<string, number>();
  for (const entry of raw.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const colon = entry.lastIndexOf(':');
    const host = entry.slice(0, Math.max(colon, 0)).replace(/^\[(.*)\]$/, '$1');
    const count = entry.slice(colon + 1);
    if (colon <= 0 || host === '' || !/^\d+$/.test(count)) return `"${entry}" is not host:count`;
    out.set(plainAddress(host), Number(count));
  }
  return out;
}
