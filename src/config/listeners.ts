import { isIP } from 'node:net';
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

/** The host part of a Host header or bind address, without port or IPv6 brackets, lower case. */
function hostnameOf(hostAndPort: string): string {
  const m = /^\[([^\]]*)\](?::\d*)?$|^([^:]*)(?::\d*)?$/.exec(hostAndPort.trim());
  return (m?.[1] ?? m?.[2] ?? hostAndPort).toLowerCase();
}

/** A host (or host:port) only this machine can reach. */
export function isLoopback(host: string): boolean {
  const name = hostnameOf(host);
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
}

/** Hosts that mean "every interface" when binding, and nothing a client can connect to. */
export function isWildcardHost(host: string): boolean {
  return host === ALL_INTERFACES || host === '::';
}

/** Kafka's security protocols: what a listener speaks, whatever its name. */
export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

/** Kafka's default listener.security.protocol.map: each protocol is a listener name of itself. */
export const DEFAULT_SECURITY_PROTOCOL_MAP: ReadonlyMap<string, SecurityProtocol> = new Map(SECURITY_PROTOCOLS.map((p) => [p, p]));

export const usesTls = (p: SecurityProtocol): boolean => p === 'SSL' || p === 'SASL_SSL';
export const usesSasl = (p: SecurityProtocol): boolean => p === 'SASL_PLAINTEXT' || p === 'SASL_SSL';

const MAP_ENTRY = /^([A-Za-z0-9_-]+):([A-Za-z_]+)$/;

/** listener.security.protocol.map: NAME:PROTOCOL pairs; names and protocols are case-insensitive, as in Kafka. */
export const securityProtocolMap: ValueType<ReadonlyMap<string, SecurityProtocol>> = {
  configType: ConfigType.STRING,
  parse(raw) {
    const entries = listOf((text): Parsed<[string, SecurityProtocol]> => {
      const m = MAP_ENTRY.exec(text);
      if (!m) return bad('expected NAME:PROTOCOL');
      const protocol = m[2].toUpperCase();
      if (!(SECURITY_PROTOCOLS as readonly string[]).includes(protocol)) return bad(`unknown security protocol ${m[2]} (expected one of ${SECURITY_PROTOCOLS.join(', ')})`);
      return ok([m[1].toUpperCase(), protocol as SecurityProtocol]);
    }, ([name, protocol]) => `${name}:${protocol}`).parse(raw);
    if (!entries.ok) return entries;
    const map = new Map<string, SecurityProtocol>();
    for (const [name, protocol] of entries.value) {
      if (map.has(name)) return bad(`listener ${name} is mapped twice`);
      map.set(name, protocol);
    }
    return ok(map);
  },
  format: (map) => [...map].map(([name, protocol]) => `${name}:${protocol}`).join(','),
};

/** ssl.client.auth. */
export type ClientAuth = 'required' | 'requested' | 'none';

/**
 * The TLS settings of one SSL or SASL_SSL listener: the broker-wide ssl.* configs with its
 * listener.name.<name>.ssl.* overrides applied. Key material is PEM, from files or inline.
 */
export interface ListenerTls {
  /** ssl.keystore.location: a PEM file with the private key and the certificate chain. */
  keystoreLocation: string | null;
  /** ssl.keystore.key / ssl.keystore.certificate.chain: the same, inline. */
  keystoreKey: string | null;
  keystoreCertificateChain: string | null;
  /** ssl.key.password: decrypts an encrypted private key. */
  keyPassword: string | null;
  /** ssl.truststore.location / ssl.truststore.certificates: the CAs client certificates must chain to. */
  truststoreLocation: string | null;
  truststoreCertificates: string | null;
  clientAuth: ClientAuth;
  /** ssl.enabled.protocols: TLSv1.2, TLSv1.3. */
  enabledProtocols: string[];
}

/** The security protocol of a listener of the broker (by name, as in `listeners`). */
export function securityProtocolOf(config: { listenerSecurityProtocols: ReadonlyMap<string, SecurityProtocol> }, listenerName: string): SecurityProtocol {
  const protocol = config.listenerSecurityProtocols.get(listenerName.toUpperCase());
  if (!protocol) throw new Error(`no listener named ${listenerName}`);
  return protocol;
}
