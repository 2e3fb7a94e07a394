import type { ListenerAddress } from './broker-config.js';
import { bad, ConfigType, listOf, ok, type Parsed, type ValueType } from './value-types.js';

export interface HostPort {
  host: string;
  port: number;
}

/** The host Sluice binds for an empty host, as Kafka binds all interfaces then. */
export const ALL_INTERFACES = '0.0.0.0';

// host is a bracketed IPv6 literal, a name or IPv4 address, or empty; port is all digits.
const HOST_PORT = /^(?:\[([0-9A-Za-z:.%]+)\]|([^:[\]/\s]*)):(\d+)$/;
const LISTENER = /^([A-Za-z0-9_-]+):\/\/(.*)$/;

/** `shape` is what a malformed text is told to look like. */
function parseAddress(text: string, shape: string): Parsed<HostPort> {
  const m = HOST_PORT.exec(text);
  if (!m) return bad(`expected ${shape}`);
  const port = Number(m[3]);
  if (port > 65535) return bad(`port ${m[3]} is out of range 0-65535`);
  const host = m[1] ?? m[2];
  return ok({ host: host === '' ? ALL_INTERFACES : host, port });
}

export const parseHostPort = (text: string): Parsed<HostPort> => parseAddress(text, 'host:port');

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Node's codes for an address that cannot be listened on, in an operator's words. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'is already in use by another process',
  EADDRNOTAVAIL: 'is not an address of this host',
  EACCES: 'needs privileges this process lacks',
};

/** "host:port <why>" when `e` is a failure to listen on an address; null for anything else. */
export function listenFailure(e: unknown): string | null {
  const err = e as (NodeJS.ErrnoException & { address?: string; port?: number }) | null;
  const reason = LISTEN_FAILURES[err?.code ?? ''];
  if (!reason || err?.syscall !== 'listen' || err.address === undefined || err.port === undefined) return null;
  return `${formatHostPort({ host: err.address, port: err.port })} ${reason}`;
}

/**
 * NAME://host:port. The listener name is upper-cased as Kafka does; which names are allowed is
 * for the broker config as a whole to decide (controller listeners are dropped first).
 */
export function parseListener(text: string): Parsed<ListenerAddress> {
  const shape = 'NAME://host:port';
  const m = LISTENER.exec(text);
  if (!m) return bad(`expected ${shape}`);
  const address = parseAddress(m[2], shape);
  return address.ok ? ok({ name: m[1].toUpperCase(), ...address.value }) : address;
}

export function formatListener(l: ListenerAddress): string {
  return `${l.name}://${formatHostPort(l)}`;
}

export const listenerList: ValueType<ListenerAddress[]> = listOf(parseListener, formatListener);

/** host:port, or the empty string for "off". */
export const optionalHostPort: ValueType<HostPort | null> = {
  configType: ConfigType.STRING,
  parse: (raw) => (raw === '' ? ok(null) : parseHostPort(raw)),
  format: (v) => (v === null ? '' : formatHostPort(v)),
};

/** Hosts that mean "every interface" when binding, and nothing a client can connect to. */
export function isWildcardHost(host: string): boolean {
  return host === ALL_INTERFACES || host === '::';
}
